"""The scenario file: a synthetic country's subscribers, entities, adoption curves and traffic.

A scenario is YAML validated into the typed structs below (unknown keys are
errors, so a typo cannot silently fall back to a default). The format is
documented in the README (Simulators); ``simulators/scenarios/pta-deadline.yaml``
is the annotated model case.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the field."""


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


class Category(msgspec.Struct, forbid_unknown_fields=True):
    """Entities of one category: how many, their address blocks and their adoption curve."""

    count: int
    v4_prefix: list[int] = msgspec.field(default_factory=lambda: [28])
    v6_prefix: list[int] = msgspec.field(default_factory=lambda: [56])
    ipv6_share: float = 0.0
    adoption: Adoption = msgspec.field(default_factory=Adoption)


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


class Destinations(msgspec.Struct, forbid_unknown_fields=True):
    """Where ordinary traffic goes, and the corporate VPN gateways' address space."""

    content: list[str]
    dns: list[str]
    gateways: list[str]


class Scenario(msgspec.Struct, forbid_unknown_fields=True):
    """One scenario file, validated."""

    scenario: str
    start: str
    end: str
    deadline: str
    timezone: str = "UTC"
    description: str = ""
    registration_opens: str | None = None
    subscriber_space: str | list[str] = "pk"  # "pk" = the shared data (fallback built in)
    vpn_endpoints: str | list[str] = "providers"  # "providers" = the shared data
    subscribers: int = 20_000
    diurnal: dict[str, list[float]] = msgspec.field(default_factory=dict)
    categories: dict[str, Category] = msgspec.field(default_factory=dict)
    apps: dict[str, App] = msgspec.field(default_factory=dict)
    ordinary_mix: dict[str, float] = msgspec.field(default_factory=dict)
    groups: dict[str, Group] = msgspec.field(default_factory=dict)
    destinations: Destinations | None = None
    path: str = ""
    sha256: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def time(self, text: str) -> float:
        """Epoch seconds of a scenario time (written without an offset: the scenario's zone)."""
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        return moment.timestamp()

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


def resolve_scenario_path(name: str | Path) -> Path:
    """A path, or the name of a bundled scenario (``pta-deadline``)."""
    path = Path(name)
    if path.is_file():
        return path
    bundled = SCENARIO_DIR / f"{Path(name).stem}.yaml"
    if bundled.is_file():
        return bundled
    known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml")))
    raise ScenarioError(f"{name}: no such scenario file or bundled scenario (bundled: {known})")


def load_scenario(name: str | Path) -> Scenario:
    """Load and check a scenario; every problem is a :class:`ScenarioError` naming the file."""
    path = resolve_scenario_path(name)
    data = path.read_bytes()
    try:
        raw = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a YAML mapping")
    try:
        scenario = msgspec.convert(raw, Scenario, str_keys=True)
    except msgspec.ValidationError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    scenario.path = str(path)
    scenario.sha256 = hashlib.sha256(data).hexdigest()
    problems = _problems(scenario)
    if problems:
        raise ScenarioError(f"{path}: " + "; ".join(problems))
    return scenario


def _problems(s: Scenario) -> list[str]:
    """Cross-field checks msgspec cannot express."""
    out: list[str] = []
    try:
        s.tz  # noqa: B018 - validates the zone name
    except (ZoneInfoNotFoundError, ValueError):
        return [f"unknown timezone {s.timezone!r}"]
    for key in ("start", "end", "deadline", "registration_opens"):
        value = getattr(s, key)
        if value is not None:
            try:
                s.time(value)
            except ValueError:
                out.append(f"{key}: not an ISO 8601 time: {value!r}")
    if out:
        return out
    start, end = s.window
    if end <= start:
        out.append("end must be after start")
    for name, curve in s.diurnal.items():
        if len(curve) != 24 or min(curve) < 0 or sum(curve) <= 0:
            out.append(f"diurnal.{name}: 24 non-negative weights, not all zero")
    for name, app in s.apps.items():
        if not app.proto or not app.dport:
            out.append(f"apps.{name}: needs at least one proto and one dport")
        if app.dst not in ("content", "dns", "vpn"):
            out.append(f"apps.{name}.dst: content, dns or vpn, not {app.dst!r}")
    out += _mix_problems("ordinary_mix", s.ordinary_mix, s, vpn=False)
    for name, cat in s.categories.items():
        a = cat.adoption
        if a.before_deadline + a.late > 1 or min(a.before_deadline, a.late, a.revoked) < 0:
            out.append(f"categories.{name}.adoption: shares must be >= 0 and sum to <= 1")
        if not cat.v4_prefix or any(not 8 <= p <= 32 for p in cat.v4_prefix):
            out.append(f"categories.{name}.v4_prefix: prefix lengths 8..32")
        if any(not 16 <= p <= 128 for p in cat.v6_prefix):
            out.append(f"categories.{name}.v6_prefix: prefix lengths 16..128")
    for name, group in s.groups.items():
        where = f"groups.{name}"
        out += _mix_problems(f"{where}.vpn_mix", group.vpn_mix, s, vpn=True)
        if group.vpn_share > 0 and not group.vpn_mix:
            out.append(f"{where}: vpn_share > 0 needs a vpn_mix")
        unknown = [c for c in group.categories if c not in s.categories]
        out += [f"{where}: unknown category {c!r}" for c in unknown]
        if group.registers not in ("any", "eventually", "never"):
            out.append(f"{where}.registers: any, eventually or never")
        if group.diurnal not in s.diurnal:
            out.append(f"{where}.diurnal: no diurnal curve {group.diurnal!r}")
        if set(group.vpn_targets) - {"providers", "gateway"}:
            out.append(f"{where}.vpn_targets: providers and/or gateway")
        if "gateway" in group.vpn_targets and not group.categories:
            out.append(f"{where}: a gateway target needs entity categories")
    if not s.groups:
        out.append("groups: at least one population group")
    if s.destinations is None:
        out.append("destinations: content, dns and gateways address lists are required")
    return out


def _mix_problems(where: str, mix: dict[str, float], s: Scenario, vpn: bool) -> list[str]:
    out = [f"{where}: unknown app {a!r}" for a in mix if a not in s.apps]
    out += [f"{where}: {a} is not a VPN app" for a in mix if a in s.apps and s.apps[a].vpn != vpn]
    if mix and (min(mix.values()) < 0 or sum(mix.values()) <= 0):
        out.append(f"{where}: weights must be >= 0, not all zero")
    if not vpn and not mix:
        out.append(f"{where}: at least one app")
    return out
