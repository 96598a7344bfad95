"""The scenario file: a synthetic country's subscribers, entities, adoption curves and traffic.

A scenario is YAML checked into the typed structs below. Like a policy, a
scenario is refused with every problem listed at once, each at the
``FILE:LINE:COLUMN`` of the key or value at fault: unknown keys (with the
closest known one), values of the wrong type, shares outside 0..1, times that
are not times, names of apps, categories or curves that the file does not
define. The format is documented in the README (Simulators);
``simulators/scenarios/pta-deadline.yaml`` is the annotated model case.

Checking happens in two passes over the YAML document. The first compares it
with the structs (keys, types) and builds a plain copy in which every value at
fault is replaced by a neutral one, so the second pass (values that depend on
each other) can run on typed structs and still report its own problems. A
problem found at one place hides later ones at the same place or inside it,
so a bad value is reported once, not again by every check that reads it.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import msgspec.inspect as mi
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from policysim.policies.problems import Position, Problem, ProblemError, read_text, suggest
from policysim.policies.timestamps import parse_timestamp
from policysim.policies.yamldoc import kind, load_yaml, plain, position

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"

APP_DESTINATIONS = ("content", "dns", "vpn")
POOL_MODES = ("dynamic", "cgnat")
REGISTERS = ("any", "eventually", "never")
VPN_TARGETS = ("providers", "gateway")
SHARED_SUBSCRIBER_SPACE = "pk"
SHARED_VPN_ENDPOINTS = "providers"
_INTERNAL_FIELDS = ("path", "sha256")


class ScenarioError(ProblemError):
    """A scenario that cannot be used; ``problems`` lists every problem found.

    Code that finds a scenario unusable only when it builds from it (the
    population) may give one message, which names the file itself.
    """

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(Position(""), problems)]
        super().__init__(problems)


class Adoption(msgspec.Struct, forbid_unknown_fields=True):
    """When a category's entities register: a logistic rush towards the deadline.

    ``before_deadline`` of the entities register before the deadline, their
    times logistic around ``deadline - rush_days`` with scale ``spread_days``
    (cut at ``opens``); ``late`` register after it, exponentially with mean
    ``late_days``; the rest never register. ``revoked`` of the registered are
    revoked at a uniform time between their registration and the window's end.
    """

    before_deadline: float = 0.7
    late: float = 0.1
    rush_days: float = 3.0
    spread_days: float = 2.0
    late_days: float = 4.0
    revoked: float = 0.0


class Delay(msgspec.Struct, forbid_unknown_fields=True):
    """A lognormal delay in hours given by its median and 95th percentile (0, 0: none)."""

    median_hours: float = 0.0
    p95_hours: float = 0.0


class Category(msgspec.Struct, forbid_unknown_fields=True):
    """Entities of one category: how many, their address blocks and their adoption curve.

    ``approval`` delays a registration from application to effect;
    ``max_addresses`` caps the addresses an entity registers (its block is
    narrowed to the first aligned part of that size); ``by_subscriber`` of the
    entities register their subscriber rather than an address, and the registry
    follows their address changes ``follow_delay_hours`` after each change.
    """

    count: int
    v4_prefix: list[int] = msgspec.field(default_factory=lambda: [28])
    v6_prefix: list[int] = msgspec.field(default_factory=lambda: [56])
    ipv6_share: float = 0.0
    adoption: Adoption = msgspec.field(default_factory=Adoption)
    approval: Delay = msgspec.field(default_factory=Delay)
    max_addresses: int | None = None
    by_subscriber: float = 0.0
    follow_delay_hours: float = 0.0


class App(msgspec.Struct, forbid_unknown_fields=True):
    """An application label with its transports and ports (a variant is picked per event)."""

    proto: list[str]
    dport: list[int]
    vpn: bool = False
    dst: str = "content"  # content | dns | vpn (a provider or the entity's gateway)
    bytes_out: float = 2_000.0  # median of a lognormal
    bytes_in: float = 20_000.0
    duration: float = 2.0


class Group(msgspec.Struct, forbid_unknown_fields=True):
    """A population group: who they are, how much they talk, and how they use VPNs.

    ``categories`` ties members to entities of those categories (empty = no
    entity); ``registers`` keeps only entities that ``eventually`` register,
    ``never`` do, or ``any``. ``vpn_targets`` weights where VPN traffic goes:
    ``providers`` (commercial VPN endpoints) or ``gateway`` (the entity's own).
    """

    subscribers: float
    activity: float = 1.0
    vpn_share: float = 0.0
    vpn_mix: dict[str, float] = msgspec.field(default_factory=dict)
    vpn_targets: dict[str, float] = msgspec.field(default_factory=lambda: {"providers": 1.0})
    categories: list[str] = msgspec.field(default_factory=list)
    registers: str = "any"
    ipv6_share: float = 0.1
    diurnal: str = "household"
    addressing: str = "static"
    business_use: float | None = None
    remote_share: float = 0.0
    remote_addressing: str = "static"


class AddressPool(msgspec.Struct, forbid_unknown_fields=True):
    """IPv4 addresses that groups share: ``dynamic`` leases renumbered every
    ``lease_hours`` (``leave_prefix`` of the renumberings leave the routed /24; ``spare``
    addresses beyond the members) or ``cgnat`` (``per_address`` subscribers behind each)."""

    mode: str
    lease_hours: float = 24.0
    leave_prefix: float = 0.5
    spare: float = 0.25
    per_address: int = 16


class Classifier(msgspec.Struct, forbid_unknown_fields=True):
    """What a DPI classifier reports: label probabilities per true transport, and the rates
    at which ordinary apps get another label (the rest keep their own name)."""

    labels: list[str] = msgspec.field(default_factory=list)
    transports: dict[str, dict[str, float]] = msgspec.field(default_factory=dict)
    false_positives: dict[str, dict[str, float]] = msgspec.field(default_factory=dict)


class Window(msgspec.Struct, forbid_unknown_fields=True):
    """A window of event time, ``[from, until)`` (``from`` is a keyword in Python)."""

    from_: str = msgspec.field(name="from")
    until: str


class Enforcement(msgspec.Struct, forbid_unknown_fields=True):
    """When blocking is on, and how VPN users without a registration respond to it.

    The simulator cannot see verdicts: exposure is the time blocking has been on
    (``trials`` and from ``blocking_from``), and each unregistered VPN user switches at
    per-day rates of exposure to obfuscated transports, to providers not in any list, or
    stops using VPNs; blocked connections are retried; late registrations are boosted.
    """

    blocking_from: str
    trials: list[Window] = msgspec.field(default_factory=list)
    switch_obfuscated: float = 0.0
    obfuscated_mix: dict[str, float] = msgspec.field(default_factory=dict)
    switch_unlisted: float = 0.0
    unlisted_endpoints: list[str] = msgspec.field(default_factory=list)
    stop: float = 0.0
    retries: float = 0.0
    late_registration_boost: float = 1.0


class Destinations(msgspec.Struct, forbid_unknown_fields=True):
    """Where ordinary traffic goes, and the corporate VPN gateways' address space."""

    content: list[str]
    dns: list[str]
    gateways: list[str]


class Scenario(msgspec.Struct, forbid_unknown_fields=True):
    """One scenario file, checked."""

    scenario: str
    start: str
    end: str
    deadline: str
    timezone: str = "UTC"
    description: str = ""
    registration_opens: str | None = None
    subscriber_space: str | list[str] = SHARED_SUBSCRIBER_SPACE  # or CIDRs of its own
    vpn_endpoints: str | list[str] = SHARED_VPN_ENDPOINTS  # or addresses of its own
    subscribers: int = 20_000
    diurnal: dict[str, list[float]] = msgspec.field(default_factory=dict)
    categories: dict[str, Category] = msgspec.field(default_factory=dict)
    apps: dict[str, App] = msgspec.field(default_factory=dict)
    ordinary_mix: dict[str, float] = msgspec.field(default_factory=dict)
    groups: dict[str, Group] = msgspec.field(default_factory=dict)
    destinations: Destinations | None = None
    classifier: Classifier | None = None
    address_pools: dict[str, AddressPool] = msgspec.field(default_factory=dict)
    enforcement: Enforcement | None = None
    path: str = ""
    sha256: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def time(self, text: str) -> float:
        """Epoch seconds of a scenario time (written without an offset: the scenario's zone)."""
        return parse_timestamp(text, self.tz)

    @property
    def window(self) -> tuple[float, float]:
        return self.time(self.start), self.time(self.end)

    @property
    def deadline_ts(self) -> float:
        return self.time(self.deadline)

    @property
    def opens_ts(self) -> float:
        """Registration opens (default: 30 days before the window starts)."""
        if self.registration_opens:
            return self.time(self.registration_opens)
        return self.window[0] - 30 * 86_400

    @property
    def realistic(self) -> bool:
        """Whether any realistic block is in use (then events carry the fuller truth)."""
        groups = self.groups.values()
        categories = self.categories.values()
        return bool(
            self.classifier
            or self.address_pools
            or self.enforcement
            or any(g.business_use is not None or g.remote_share for g in groups)
            or any(
                c.approval.median_hours or c.max_addresses or c.by_subscriber for c in categories
            )
        )


def resolve_scenario_path(name: str | Path) -> Path:
    """A path, or the name of a bundled scenario (``pta-deadline``)."""
    path = Path(name)
    if path.is_file():
        return path
    bundled = SCENARIO_DIR / f"{Path(name).stem}.yaml"
    if bundled.is_file():
        return bundled
    known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml")))
    message = f"no such scenario file or bundled scenario (bundled: {known})"
    raise ScenarioError([Problem(Position(str(name)), message)])


def load_scenario(name: str | Path) -> Scenario:
    """Load and check a scenario; a :class:`ScenarioError` lists every problem found."""
    path = resolve_scenario_path(name)
    file = str(path)
    try:
        text = read_text(path)
        doc = load_yaml(text, file)
    except ProblemError as exc:
        raise ScenarioError(exc.problems) from None
    if not isinstance(doc, CommentedMap):
        problem = f"a scenario must be a YAML mapping, not {kind(doc)}"
        raise ScenarioError([Problem(position(file, doc), problem)])
    checker = _Checker(file, doc)
    cleaned = checker.struct(doc, mi.type_info(Scenario), ())
    scenario = msgspec.convert(cleaned, Scenario, str_keys=True)
    checker.relations(scenario)
    if checker.problems:
        raise ScenarioError(checker.problems)
    scenario.path = file
    scenario.sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return scenario


Path_ = tuple[str | int, ...]
"""Where a value stands in the document: its keys and list indexes from the top."""

_BAD = object()


class _Checker:
    """One check of one document: the problems so far, and the places they were found."""

    def __init__(self, file: str, doc: CommentedMap) -> None:
        self.file = file
        self.doc = doc
        self.problems: list[Problem] = []
        self._reported: list[Path_] = []

    # --- places and problems ---------------------------------------------------

    def at(self, path: Path_, *, of_key: bool = False) -> Position:
        """The position of the value at ``path`` (or of its key); for a path that does not
        exist, the key of the deepest part that does."""
        node: Any = self.doc
        where = position(self.file, node)
        for depth, key in enumerate(path):
            last = depth == len(path) - 1
            if isinstance(node, CommentedMap) and key in node:
                where = position(self.file, node, key, of_key=of_key or not last)
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
                where = position(self.file, node, key)
            else:
                break
            node = node[key]
        return where

    def problem(
        self, path: Path_, message: str, *, of_key: bool = False, hides: bool = True
    ) -> None:
        """Record a problem, unless one was already found at this place, around it or in it.

        ``hides`` is false for a problem that leaves the values as they were (an unknown
        key), so the checks of those values still run.
        """
        for seen in self._reported:
            shorter = min(len(seen), len(path))
            if seen[:shorter] == path[:shorter]:
                return
        if hides:
            self._reported.append(path)
        self.problems.append(Problem(self.at(path, of_key=of_key), f"{_dotted(path)}{message}"))

    # --- pass 1: keys and types --------------------------------------------------

    def struct(self, node: Any, info: mi.StructType, path: Path_) -> dict[str, Any]:
        """A plain mapping for ``info``'s struct: known keys with values of the right type,
        neutral stand-ins for required values that are missing or wrong."""
        fields = {f.encode_name: f for f in info.fields if f.name not in _INTERNAL_FIELDS}
        out: dict[str, Any] = {}
        for key in node:
            if key not in fields:
                message = f"unknown key {key!r} {suggest(key, fields)}"
                self.problem((*path, key), message, of_key=True, hides=False)
        for name, field in fields.items():
            value = _BAD
            if name in node:
                value = self.value(node[name], field.type, (*path, name))
            elif field.required:
                self.problem((*path, name), "is required")
            if value is not _BAD:
                out[name] = value
            elif field.required:
                out[name] = _stand_in(field.type)
        return out

    def value(self, node: Any, info: mi.Type, path: Path_) -> Any:
        """``node`` as a plain value of type ``info``, or ``_BAD`` (after a problem)."""
        if isinstance(info, mi.UnionType):
            if node is None and any(isinstance(t, mi.NoneType) for t in info.types):
                return None
            for option in info.types:
                if _fits(node, option):
                    return self.value(node, option, path)
        elif _fits(node, info):
            if isinstance(info, mi.StructType):
                return self.struct(node, info, path)
            if isinstance(info, mi.ListType):
                return [self.item(item, info.item_type, (*path, i)) for i, item in enumerate(node)]
            if isinstance(info, mi.DictType):
                return {
                    str(k): self.item(v, info.value_type, (*path, str(k))) for k, v in node.items()
                }
            return plain(node)
        self.problem(path, f"must be {_describe(info)}, not {kind(node)}")
        return _BAD

    def item(self, node: Any, info: mi.Type, path: Path_) -> Any:
        value = self.value(node, info, path)
        return _stand_in(info) if value is _BAD else value

    # --- pass 2: values that depend on each other -----------------------------

    def relations(self, s: Scenario) -> None:
        zone = self.timezone(s)
        times = {}
        for key in ("start", "end", "deadline", "registration_opens"):
            value = getattr(s, key)
            if value is not None:
                try:
                    times[key] = parse_timestamp(value, zone)
                except ValueError as exc:
                    self.problem((key,), str(exc))
        if "start" in times and "end" in times and times["end"] <= times["start"]:
            self.problem(("end",), f"must be after start ({s.start})")
        self.at_least(("subscribers",), s.subscribers, 1)
        self.addresses(("subscriber_space",), s.subscriber_space, SHARED_SUBSCRIBER_SPACE, _network)
        self.addresses(("vpn_endpoints",), s.vpn_endpoints, SHARED_VPN_ENDPOINTS, _address)
        for name, curve in s.diurnal.items():
            path = ("diurnal", name)
            if len(curve) != 24:
                self.problem(path, f"needs 24 weights, one per hour 0..23, not {len(curve)}")
            elif min(curve) < 0 or sum(curve) <= 0:
                self.problem(path, "weights must be 0 or more, and not all 0")
        for name, app in s.apps.items():
            self.app(("apps", name), app)
        self.mix(("ordinary_mix",), s.ordinary_mix, s, vpn=False)
        for name, category in s.categories.items():
            self.category(("categories", name), category)
        for name, group in s.groups.items():
            self.group(("groups", name), group, s)
        if not s.groups:
            self.problem(("groups",), "at least one population group is required")
        elif sum(g.subscribers for g in s.groups.values()) <= 0:
            self.problem(("groups",), "the groups' `subscribers` shares must not all be 0")
        if s.destinations is None:
            self.problem(
                ("destinations",), "is required: the content, dns and gateways address lists"
            )
        else:
            for key in ("content", "dns", "gateways"):
                cidrs = getattr(s.destinations, key)
                self.addresses(("destinations", key), cidrs, None, _network)
        for name, pool in s.address_pools.items():
            self.pool(("address_pools", name), pool)
        if s.classifier is not None:
            self.classifier(("classifier",), s.classifier, s)
        if s.enforcement is not None:
            self.enforcement(("enforcement",), s.enforcement, s, zone)

    def timezone(self, s: Scenario) -> tzinfo:
        try:
            return s.tz
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(
                ("timezone",),
                f"unknown time zone {s.timezone!r}: use a tz database name such as"
                " Asia/Karachi or UTC",
            )
            return ZoneInfo("UTC")

    def app(self, path: Path_, app: App) -> None:
        if not app.proto:
            self.problem((*path, "proto"), "needs at least one protocol, such as tcp or udp")
        if not app.dport:
            self.problem((*path, "dport"), "needs at least one port")
        for i, port in enumerate(app.dport):
            if not 0 <= port <= 65535:
                self.problem((*path, "dport", i), f"port {port} is outside 0..65535")
        if app.dst not in APP_DESTINATIONS:
            self.problem(
                (*path, "dst"), f"unknown {app.dst!r} {suggest(app.dst, APP_DESTINATIONS)}"
            )
        for key in ("bytes_out", "bytes_in", "duration"):
            if getattr(app, key) <= 0:
                self.problem((*path, key), "must be more than 0 (it is a median)")

    def mix(self, path: Path_, mix: dict[str, float], s: Scenario, vpn: bool) -> None:
        for app, weight in mix.items():
            if app not in s.apps:
                self.problem(
                    (*path, app), f"unknown app {app!r} {suggest(app, s.apps)}", of_key=True
                )
            elif s.apps[app].vpn != vpn:
                wrong = f"{app} is not a VPN app" if vpn else f"{app} is a VPN app"
                needs = "VPN apps (`vpn: true`)" if vpn else "apps that are not VPNs"
                self.problem((*path, app), f"{wrong}: this mix takes {needs} only", of_key=True)
            self.at_least((*path, app), weight, 0)
        if mix and sum(mix.values()) <= 0:
            self.problem(path, "the weights must not all be 0")
        if not vpn and not mix:
            self.problem(path, "needs at least one app with a weight above 0")

    def category(self, path: Path_, category: Category) -> None:
        self.at_least((*path, "count"), category.count, 0)
        self.share((*path, "ipv6_share"), category.ipv6_share)
        if not category.v4_prefix:
            self.problem((*path, "v4_prefix"), "needs at least one IPv4 prefix length")
        for key, low, high in (("v4_prefix", 8, 32), ("v6_prefix", 16, 128)):
            for i, length in enumerate(getattr(category, key)):
                if not low <= length <= high:
                    self.problem(
                        (*path, key, i), f"prefix length {length} is outside {low}..{high}"
                    )
        adoption = category.adoption
        where = (*path, "adoption")
        for key in ("before_deadline", "late", "revoked"):
            self.share((*where, key), getattr(adoption, key))
        for key in ("rush_days", "spread_days", "late_days"):
            self.at_least((*where, key), getattr(adoption, key), 0)
        self.delay((*path, "approval"), category.approval)
        if category.max_addresses is not None:
            self.at_least((*path, "max_addresses"), category.max_addresses, 1)
        self.share((*path, "by_subscriber"), category.by_subscriber)
        self.at_least((*path, "follow_delay_hours"), category.follow_delay_hours, 0)
        if adoption.before_deadline + adoption.late > 1:
            total = adoption.before_deadline + adoption.late
            self.problem(
                where,
                f"before_deadline + late is {total:g}: it can be at most 1 (the rest never"
                " register)",
            )

    def group(self, path: Path_, group: Group, s: Scenario) -> None:
        self.at_least((*path, "subscribers"), group.subscribers, 0)
        self.at_least((*path, "activity"), group.activity, 0)
        self.share((*path, "vpn_share"), group.vpn_share)
        self.share((*path, "ipv6_share"), group.ipv6_share)
        self.mix((*path, "vpn_mix"), group.vpn_mix, s, vpn=True)
        if group.vpn_share > 0 and not group.vpn_mix:
            self.problem(
                (*path, "vpn_share"), "a group that uses VPNs needs a vpn_mix (which VPN apps)"
            )
        for target, weight in group.vpn_targets.items():
            if target not in VPN_TARGETS:
                message = f"unknown VPN target {target!r} {suggest(target, VPN_TARGETS)}"
                self.problem((*path, "vpn_targets", target), message, of_key=True)
            self.at_least((*path, "vpn_targets", target), weight, 0)
        if "gateway" in group.vpn_targets and not group.categories:
            self.problem(
                (*path, "vpn_targets", "gateway"),
                "a gateway target needs `categories` (the gateways are their entities')",
                of_key=True,
            )
        for i, name in enumerate(group.categories):
            if name not in s.categories:
                choices = s.categories or ("(no categories defined)",)
                self.problem(
                    (*path, "categories", i), f"unknown category {name!r} {suggest(name, choices)}"
                )
        if group.registers not in REGISTERS:
            self.problem(
                (*path, "registers"),
                f"unknown {group.registers!r} {suggest(group.registers, REGISTERS)}",
            )
        for key in ("addressing", "remote_addressing"):
            pool = getattr(group, key)
            if pool != "static" and pool not in s.address_pools:
                choices = ["static", *s.address_pools]
                self.problem(
                    (*path, key), f"unknown address pool {pool!r} {suggest(pool, choices)}"
                )
        if group.business_use is not None:
            self.share((*path, "business_use"), group.business_use)
        self.share((*path, "remote_share"), group.remote_share)
        if group.remote_share and not group.categories:
            self.problem(
                (*path, "remote_share"), "remote staff need `categories` (whose staff they are)"
            )
        if group.diurnal not in s.diurnal:
            choices = s.diurnal or ("(no diurnal curves defined)",)
            self.problem(
                (*path, "diurnal"),
                f"no diurnal curve {group.diurnal!r} {suggest(group.diurnal, choices)}",
            )

    def delay(self, path: Path_, delay: Delay) -> None:
        self.at_least((*path, "median_hours"), delay.median_hours, 0)
        if delay.p95_hours < delay.median_hours:
            self.problem(
                (*path, "p95_hours"),
                f"must be at least median_hours ({delay.median_hours:g}), not {delay.p95_hours:g}",
            )
        elif delay.median_hours == 0 and delay.p95_hours > 0:
            self.problem((*path, "median_hours"), "must be more than 0 when p95_hours is")

    def pool(self, path: Path_, pool: AddressPool) -> None:
        if pool.mode not in POOL_MODES:
            self.problem((*path, "mode"), f"unknown {pool.mode!r} {suggest(pool.mode, POOL_MODES)}")
        if pool.lease_hours < 1:
            self.problem(
                (*path, "lease_hours"),
                f"must be 1 or more (the leases are drawn up front), not {pool.lease_hours:g}",
            )
        self.share((*path, "leave_prefix"), pool.leave_prefix)
        self.at_least((*path, "spare"), pool.spare, 0)
        self.at_least((*path, "per_address"), pool.per_address, 1)

    def classifier(self, path: Path_, classifier: Classifier, s: Scenario) -> None:
        labels = [*s.apps, *classifier.labels]
        for i, label in enumerate(classifier.labels):
            if label in s.apps:
                self.problem(
                    (*path, "labels", i), f"{label} is an app: its name is a label already"
                )
        for key, vpn in (("transports", True), ("false_positives", False)):
            for app, rates in getattr(classifier, key).items():
                where = (*path, key, app)
                if app not in s.apps:
                    self.problem(where, f"unknown app {app!r} {suggest(app, s.apps)}", of_key=True)
                elif s.apps[app].vpn != vpn:
                    needs = "VPN apps (true transports)" if vpn else "apps that are not VPNs"
                    self.problem(where, f"{key} takes {needs} only", of_key=True)
                for label, rate in rates.items():
                    if label not in labels:
                        message = f"unknown label {label!r} {suggest(label, labels)}"
                        self.problem((*where, label), message, of_key=True)
                    self.share((*where, label), rate)
                total = sum(rates.values())
                if vpn and abs(total - 1) > 1e-9:
                    self.problem(where, f"label probabilities sum to {total:.12g}, not 1")
                elif not vpn and total > 1 + 1e-9:
                    self.problem(where, f"false-positive rates sum to {total:.12g}: at most 1")

    def enforcement(self, path: Path_, e: Enforcement, s: Scenario, zone: tzinfo) -> None:
        times = [((*path, "blocking_from"), e.blocking_from)]
        for i, trial in enumerate(e.trials):
            times += [((*path, "trials", i, "from"), trial.from_)]
            times += [((*path, "trials", i, "until"), trial.until)]
        parsed = {}
        for where, text in times:
            try:
                parsed[where] = parse_timestamp(text, zone)
            except ValueError as exc:
                self.problem(where, str(exc))
        for i, _trial in enumerate(e.trials):
            start, end = (parsed.get((*path, "trials", i, k)) for k in ("from", "until"))
            if start is not None and end is not None and end <= start:
                self.problem((*path, "trials", i, "until"), "must be after from")
        for key in ("switch_obfuscated", "switch_unlisted", "stop", "retries"):
            self.at_least((*path, key), getattr(e, key), 0)
        self.at_least((*path, "late_registration_boost"), e.late_registration_boost, 0)
        self.mix((*path, "obfuscated_mix"), e.obfuscated_mix, s, vpn=True)
        if e.switch_obfuscated and not e.obfuscated_mix:
            self.problem(
                (*path, "switch_obfuscated"), "needs an obfuscated_mix (the VPN apps switched to)"
            )
        if e.unlisted_endpoints:
            self.addresses((*path, "unlisted_endpoints"), e.unlisted_endpoints, None, _network)

    def addresses(
        self,
        path: Path_,
        value: str | list[str],
        shared: str | None,
        parse: Callable[[str], object],
    ) -> None:
        """A list of CIDRs (or of addresses, as ``parse`` says), or the name of the shared list."""
        if isinstance(value, str):
            if value != shared:
                self.problem(path, f"must be {shared!r} (the shared data) or a list")
            return
        if not value:
            self.problem(path, "needs at least one entry")
        for i, text in enumerate(value):
            try:
                parse(text)
            except ValueError as exc:
                self.problem((*path, i), str(exc))

    def share(self, path: Path_, value: float) -> None:
        if not 0 <= value <= 1:
            self.problem(path, f"is a share: it must be between 0 and 1, not {value:g}")

    def at_least(self, path: Path_, value: float, low: float) -> None:
        if value < low:
            self.problem(path, f"must be {low} or more, not {value:g}")


def _address(text: str) -> object:
    return ipaddress.ip_address(text)


def _network(text: str) -> object:
    """A CIDR, host bits allowed (the simulator picks hosts inside it)."""
    return ipaddress.ip_network(text, strict=False)


def _dotted(path: Path_) -> str:
    """``groups.household.vpn_share: `` for messages (nothing for the top level)."""
    return ".".join(str(key) for key in path) + ": " if path else ""


def _fits(node: Any, info: mi.Type) -> bool:
    """Whether ``node`` is of the YAML kind ``info`` asks for (contents are checked apart)."""
    if isinstance(info, mi.StructType | mi.DictType):
        return isinstance(node, CommentedMap)
    if isinstance(info, mi.ListType):
        return isinstance(node, CommentedSeq)
    if isinstance(info, mi.BoolType):
        return isinstance(node, bool)
    if isinstance(node, bool):
        return False
    if isinstance(info, mi.IntType):
        return isinstance(node, int)
    if isinstance(info, mi.FloatType):
        return isinstance(node, int | float)
    if isinstance(info, mi.StrType):
        return isinstance(node, str)
    return False


def _describe(info: mi.Type, plural: bool = False) -> str:
    """What a value of type ``info`` is, in words: "a whole number", "a list of numbers"."""
    if isinstance(info, mi.UnionType):
        options = (t for t in info.types if not isinstance(t, mi.NoneType))
        return " or ".join(_describe(t, plural) for t in options)
    if isinstance(info, mi.ListType):
        return f"{'lists' if plural else 'a list'} of {_describe(info.item_type, True)}"
    if isinstance(info, mi.DictType):
        mappings = "mappings" if plural else "a mapping"
        return f"{mappings} of names to {_describe(info.value_type, True)}"
    one, many = {
        mi.StructType: ("a mapping", "mappings"),
        mi.IntType: ("a whole number", "whole numbers"),
        mi.FloatType: ("a number", "numbers"),
        mi.StrType: ("text", "text values"),
        mi.BoolType: ("true or false", "true/false values"),
    }.get(type(info), ("something else", "something else"))
    return many if plural else one


def _stand_in(info: mi.Type) -> Any:
    """A neutral value of type ``info``, in place of one that was missing or wrong."""
    if isinstance(info, mi.UnionType):
        return _stand_in(info.types[0])
    if isinstance(info, mi.StructType):
        return {f.encode_name: _stand_in(f.type) for f in info.fields if f.required}
    return {
        mi.ListType: [],
        mi.DictType: {},
        mi.IntType: 0,
        mi.FloatType: 0.0,
        mi.StrType: "",
        mi.BoolType: False,
        mi.NoneType: None,
    }.get(type(info))
