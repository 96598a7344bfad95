"""YAML policy files to the typed AST, with every problem at FILE:LINE:COLUMN.

ruamel.yaml's round-trip loader keeps the line and column of every key and
value (see :mod:`policysim.policies.yamldoc`), which is what lets a refusal
point at the exact token. The parser never stops at the first problem: each
section is checked independently and all problems are raised together in one
:class:`PolicyError`.

``app`` and ``proto`` match without regard to case: rule values are
lower-cased here (:func:`policysim.policies.model.label`) and event values
when events are decoded, so ``app: WireGuard`` matches an event whose
``app`` is ``wireguard`` and the other way round. Times written without a UTC offset are
in the policy's ``timezone`` (UTC when it has none).

A rule may not be called ``default``: verdicts name the deciding rule, and a
rule of that name could not be told apart from the policy's default decision.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from policysim.base.vocabulary import DECISIONS
from policysim.policies.ipset import IPSet
from policysim.policies.language.ast import (
    AddressCondition,
    Condition,
    Phase,
    PhaseIndex,
    Policy,
    PolicyTest,
    PortCondition,
    Rule,
    SetDef,
    ValueCondition,
)
from policysim.policies.model import Event, label
from policysim.policies.problems import Position, Problem, ProblemError, read_text, suggest
from policysim.policies.sources import load_set_file, load_set_yaml
from policysim.policies.timestamps import parse_timestamp
from policysim.policies.yamldoc import kind, load_yaml, plain, position

TOP_KEYS = (
    "policy",
    "version",
    "description",
    "timezone",
    "sets",
    "phases",
    "rules",
    "default",
    "tests",
    "test_registry",
)
REQUIRED_KEYS = ("policy", "version", "rules", "default")
SET_KINDS = ("registry", "file", "cidrs")
PHASE_KEYS = ("from", "until")
RULE_KEYS = ("id", "description", "when", "then")
WHEN_KEYS = ("src", "dst", "app", "proto", "dport", "sport")
ADDRESS_KEYS = ("in", "not_in")
TEST_KEYS = ("name", "event", "expect")
EXPECT_KEYS = ("decision", "rule", "phase")
EVENT_KEYS = tuple(Event.__struct_fields__)
RESERVED_RULE_IDS = ("default",)
_PORT_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


class PolicyError(ProblemError):
    """A policy file that cannot be used; ``problems`` lists all that were found."""


def load_policy(path: str | Path) -> Policy:
    """Read and check a policy file; raises :class:`PolicyError` listing every problem."""
    file = str(path)
    try:
        text = read_text(path)
    except ProblemError as exc:
        raise PolicyError(exc.problems) from None
    return parse_policy(text, file)


def parse_policy(raw: bytes | str, file: str) -> Policy:
    """Parse policy text; ``file`` names it in positions and anchors relative set files."""
    data = raw.encode() if isinstance(raw, str) else raw
    return _Parser(file, hashlib.sha256(data).hexdigest()).parse(data.decode("utf-8", "replace"))


class _Parser:
    """One parse: the file's name, its directory, its timezone and the problems so far."""

    def __init__(self, file: str, sha256: str) -> None:
        self.file = file
        self.sha256 = sha256
        self.base = Path(file).parent
        self.problems: list[Problem] = []
        self.tz = ZoneInfo("UTC")
        self.tz_name = "UTC"
        self.unloaded_sets: set[str] = set()  # named, but refused: references are not errors

    # --- positions and problems -------------------------------------------

    def at(self, node: Any, key: Any = None, *, of_key: bool = False) -> Position:
        """Position of ``node[key]`` (or of the key itself), or of ``node``."""
        return position(self.file, node, key, of_key=of_key)

    def error(self, position: Position, message: str) -> None:
        self.problems.append(Problem(position, message))

    def mapping(self, node: Any, where: Position, what: str) -> CommentedMap | None:
        if isinstance(node, CommentedMap):
            return node
        self.error(where, f"{what} must be a mapping, not {kind(node)}")
        return None

    def known_keys(self, node: CommentedMap, allowed: tuple[str, ...], what: str) -> None:
        for key in node:
            if key not in allowed:
                self.error(
                    self.at(node, key, of_key=True),
                    f"unknown key {key!r} in {what} {suggest(key, allowed)}",
                )

    def listed(self, parent: Any, key: Any, what: str) -> list[tuple[Any, Position]]:
        """One value or a non-empty list of values, each with its position."""
        node, where = parent[key], self.at(parent, key)
        if not isinstance(node, CommentedSeq):
            return [(node, where)]
        if not node:
            self.error(where, f"{what} must not be an empty list")
        return [(value, self.at(node, i)) for i, value in enumerate(node)]

    def strings(self, parent: Any, key: Any, what: str) -> list[tuple[str, Position]]:
        """One string or a non-empty list of strings, each with its position."""
        good = []
        for value, pos in self.listed(parent, key, what):
            if isinstance(value, str) and value:
                good.append((value, pos))
            else:
                self.error(pos, f"{what} must be a non-empty string, not {kind(value)}")
        return good

    # --- the file ----------------------------------------------------------

    def parse(self, text: str) -> Policy:
        try:
            doc = load_yaml(text, self.file)
        except ProblemError as exc:
            raise PolicyError(exc.problems) from None
        if not isinstance(doc, CommentedMap):
            raise PolicyError(
                [Problem(Position(self.file, 1, 1), "a policy must be a YAML mapping")]
            )
        self.known_keys(doc, TOP_KEYS, "the policy")
        for key in REQUIRED_KEYS:
            if key not in doc:
                self.error(Position(self.file, 1, 1), f"missing required key {key!r}")
        name = self.name(doc)
        version = self.version(doc)
        self.timezone(doc)
        sets = self.sets(doc)
        phases = self.phases(doc)
        phase_names = tuple(p.name for p in phases)
        rules = self.rules(doc, sets, phase_names)
        default = self.decision(doc, "default") if "default" in doc else "allow"
        tests = self.tests(doc, tuple(dict.fromkeys(r.id for r in rules)), phase_names)
        test_registry = self.test_registry(doc)
        if self.problems:
            raise PolicyError(self.problems)
        return Policy(
            name=name,
            version=version,
            path=self.file,
            sha256=self.sha256,
            timezone=self.tz_name,
            sets=sets,
            phases=phases,
            rules=rules,
            default=default,
            tests=tests,
            test_registry=test_registry,
            phase_index=PhaseIndex.build(phases),
        )

    def name(self, doc: CommentedMap) -> str:
        value = doc.get("policy")
        if "policy" in doc and not (isinstance(value, str) and value):
            self.error(self.at(doc, "policy"), "`policy` must be a non-empty name")
        return str(value or "")

    def version(self, doc: CommentedMap) -> int:
        value = doc.get("version")
        if "version" in doc and (type(value) is not int or value < 0):
            self.error(self.at(doc, "version"), f"`version` must be a whole number >= 0: {value!r}")
            return 0
        return value or 0

    def timezone(self, doc: CommentedMap) -> None:
        if "timezone" not in doc:
            return
        value = doc["timezone"]
        try:
            self.tz = ZoneInfo(str(value))
            self.tz_name = str(value)
        except (ZoneInfoNotFoundError, ValueError):
            self.error(self.at(doc, "timezone"), f"unknown timezone {value!r}")

    def test_registry(self, doc: CommentedMap) -> str | None:
        if "test_registry" not in doc:
            return None
        path = self.file_path(doc, "test_registry", "the test registry")
        return None if path is None else str(path)

    def file_path(self, parent: CommentedMap, key: str, what: str) -> Path | None:
        """A file named relative to the policy file; None (and one problem) when it is not one."""
        value = parent[key]
        if not (isinstance(value, str) and value):
            self.error(self.at(parent, key), f"`{key}` must be a file name, not {kind(value)}")
            return None
        path = self.base / value
        if not path.is_file():
            self.error(
                self.at(parent, key),
                f"{what}: file not found: {path} (a relative name starts from the policy"
                " file's folder)",
            )
            return None
        return path

    def decision(self, parent: Any, key: Any) -> str:
        value = parent[key]
        if value not in DECISIONS:
            self.error(
                self.at(parent, key), f"unknown decision {value!r} {suggest(value, DECISIONS)}"
            )
            return "allow"
        return value

    # --- times -------------------------------------------------------------

    def moment(self, parent: Any, key: Any) -> float | None:
        """A time as epoch seconds; text without an offset is in the policy's timezone."""
        try:
            return parse_timestamp(parent[key], self.tz)
        except ValueError as exc:
            self.error(self.at(parent, key), str(exc))
            return None

    # --- sets --------------------------------------------------------------

    def sets(self, doc: CommentedMap) -> dict[str, SetDef]:
        node = doc.get("sets")
        if node is None or not self.mapping(node, self.at(doc, "sets"), "`sets`"):
            return {}
        result = {}
        for name in node:
            set_def = self.set_def(node, name)
            if set_def is not None:
                result[str(name)] = set_def
        return result

    def set_def(self, sets: CommentedMap, name: Any) -> SetDef | None:
        where = self.at(sets, name, of_key=True)
        body = self.mapping(sets[name], self.at(sets, name), f"set {name!r}")
        if body is None:
            self.unloaded_sets.add(str(name))
            return None
        self.known_keys(body, SET_KINDS, f"set {name!r}")
        kinds = [k for k in SET_KINDS if k in body]
        if len(kinds) != 1:
            self.error(where, f"set {name!r} needs exactly one of: {', '.join(SET_KINDS)}")
            self.unloaded_sets.add(str(name))
            return None
        kind = kinds[0]
        if kind == "registry":
            return self.registry_set(str(name), body, where)
        if kind == "file":
            return self.file_set(str(name), body, where)
        ipset = IPSet()
        for text, pos in self.strings(body, "cidrs", f"set {name!r} entry"):
            try:
                ipset.add(text)
            except ValueError as exc:
                self.error(pos, f"bad CIDR {text!r} in set {name!r}: {exc}")
        return SetDef(str(name), "cidrs", where, ipset=ipset, source="cidrs")

    def registry_set(self, name: str, body: CommentedMap, where: Position) -> SetDef | None:
        spec = body["registry"]
        if spec is None:
            return SetDef(name, "registry", where, source="registry")
        spec = self.mapping(spec, self.at(body, "registry"), f"set {name!r} registry")
        if spec is None:
            return None
        self.known_keys(spec, ("categories",), f"set {name!r} registry")
        if "categories" not in spec:
            return SetDef(name, "registry", where, source="registry")
        listed = tuple(self.strings(spec, "categories", "a category"))
        return SetDef(
            name,
            "registry",
            where,
            categories=frozenset(v for v, _ in listed),
            source="registry",
            category_positions=listed,
        )

    def file_set(self, name: str, body: CommentedMap, where: Position) -> SetDef | None:
        path = self.file_path(body, "file", f"set {name!r}")
        if path is None:
            self.unloaded_sets.add(name)
            return None
        loader = load_set_yaml if path.suffix in (".yaml", ".yml") else load_set_file
        try:
            ipset, problems = loader(path)
        except ProblemError as exc:
            problems, ipset = exc.problems, IPSet()
        for p in problems:
            # A problem with the file as a whole is shown where the policy names the file.
            at = p.position if p.line else self.at(body, "file")
            self.error(at, f"in set {name!r}: {p.message}")
        return SetDef(name, "file", where, ipset=ipset, source=str(path))

    # --- phases ------------------------------------------------------------

    def phases(self, doc: CommentedMap) -> tuple[Phase, ...]:
        node = doc.get("phases")
        if node is None or not self.mapping(node, self.at(doc, "phases"), "`phases`"):
            return ()
        phases: list[Phase] = []
        for name in node:
            where = self.at(node, name, of_key=True)
            body = self.mapping(node[name], self.at(node, name), f"phase {name!r}")
            if body is None:
                continue
            self.known_keys(body, PHASE_KEYS, f"phase {name!r}")
            if not any(k in body for k in PHASE_KEYS):
                self.error(where, f"phase {name!r} needs `from`, `until` or both")
                continue
            before = len(self.problems)
            start = self.moment(body, "from") if "from" in body else None
            end = self.moment(body, "until") if "until" in body else None
            if len(self.problems) > before:
                continue
            if start is not None and end is not None and start >= end:
                self.error(where, f"phase {name!r} ends before it starts")
                continue
            phase = Phase(str(name), start, end, where)
            for other in phases:
                if _overlap(phase, other):
                    self.error(
                        where,
                        f"phase {phase.name!r} overlaps phase {other.name!r}"
                        f" (defined at {other.position.line}:{other.position.column})",
                    )
            phases.append(phase)
        return tuple(phases)

    # --- rules -------------------------------------------------------------

    def rules(
        self, doc: CommentedMap, sets: Mapping[str, SetDef], phases: tuple[str, ...]
    ) -> tuple[Rule, ...]:
        node = doc.get("rules")
        if "rules" not in doc:
            return ()
        if not isinstance(node, CommentedSeq):
            self.error(self.at(doc, "rules"), "`rules` must be a list of rules")
            return ()
        rules: list[Rule] = []
        seen: dict[str, Position] = {}
        for i, item in enumerate(node):
            body = self.mapping(item, self.at(node, i), f"rule #{i + 1}")
            if body is None:
                continue
            rule = self.rule(body, i, sets, phases)
            if rule is None:
                continue
            if rule.id in seen:
                first = seen[rule.id]
                self.error(
                    self.at(body, "id"),
                    f"duplicate rule id {rule.id!r} (first at {first.line}:{first.column})",
                )
            seen.setdefault(rule.id, rule.position)
            rules.append(rule)
        return tuple(rules)

    def rule(
        self, body: CommentedMap, index: int, sets: Mapping[str, SetDef], phases: tuple[str, ...]
    ) -> Rule | None:
        self.known_keys(body, RULE_KEYS, f"rule #{index + 1}")
        rule_id = body.get("id")
        if not (isinstance(rule_id, str) and rule_id):
            self.error(self.at(body), f"rule #{index + 1} needs an `id` (a non-empty string)")
            return None
        if rule_id in RESERVED_RULE_IDS:
            self.error(
                self.at(body, "id"),
                f"a rule may not be called {rule_id!r}: verdicts could not tell it from the"
                " policy's default decision; choose another id",
            )
        conditions: list[Condition] = []
        if body.get("when") is not None:
            when = self.mapping(body["when"], self.at(body, "when"), f"`when` of {rule_id!r}")
            if when is not None:
                self.known_keys(when, WHEN_KEYS, f"`when` of rule {rule_id!r}")
                for key in WHEN_KEYS:
                    if key in when:
                        conditions.extend(self.condition(when, key, sets))
        if "then" not in body:
            self.error(self.at(body, "id"), f"rule {rule_id!r} needs `then`")
            return None
        where = self.at(body, "id")
        then = body["then"]
        if isinstance(then, CommentedMap):
            if not then:
                self.error(self.at(body, "then"), f"`then` of rule {rule_id!r} is empty")
            by_phase = {}
            for phase in then:
                if phase not in phases:
                    choices = phases or ("(no phases defined)",)
                    self.error(
                        self.at(then, phase, of_key=True),
                        f"unknown phase {phase!r} in rule {rule_id!r} {suggest(phase, choices)}",
                    )
                by_phase[str(phase)] = self.decision(then, phase)
            return Rule(rule_id, tuple(conditions), where, by_phase=by_phase)
        return Rule(rule_id, tuple(conditions), where, decision=self.decision(body, "then"))

    def condition(
        self, when: CommentedMap, key: str, sets: Mapping[str, SetDef]
    ) -> list[Condition]:
        where = self.at(when, key)
        if key in ("src", "dst"):
            body = self.mapping(when[key], where, f"`{key}` (use {{in: SET}} or {{not_in: SET}})")
            if body is None:
                return []
            self.known_keys(body, ADDRESS_KEYS, f"`{key}`")
            if not any(k in body for k in ADDRESS_KEYS):
                self.error(where, f"`{key}` needs `in` or `not_in`")
            result: list[Condition] = []
            for op in ADDRESS_KEYS:
                if op not in body:
                    continue
                names = []
                for name, pos in self.strings(body, op, "a set name"):
                    if name not in sets and name not in self.unloaded_sets:
                        choices = tuple(sets) or ("(no sets defined)",)
                        self.error(pos, f"unknown set {name!r} {suggest(name, choices)}")
                    names.append(name)
                result.append(AddressCondition(key, tuple(names), op == "not_in", where))
            return result
        if key in ("app", "proto"):
            values = [label(v) for v, _ in self.strings(when, key, f"`{key}` value")]
            return [ValueCondition(key, frozenset(values), where)]
        return [PortCondition(key, tuple(self.ports(when, key)), where)]

    def ports(self, when: CommentedMap, key: str) -> list[tuple[int, int]]:
        ranges = []
        for value, pos in self.listed(when, key, f"`{key}`"):
            try:
                ranges.append(_port_range(value))
            except ValueError as exc:
                self.error(pos, f"`{key}`: {exc}")
        return ranges

    # --- tests -------------------------------------------------------------

    def tests(
        self, doc: CommentedMap, rule_ids: tuple[str, ...], phases: tuple[str, ...]
    ) -> tuple[PolicyTest, ...]:
        node = doc.get("tests")
        if node is None:
            return ()
        if not isinstance(node, CommentedSeq):
            self.error(self.at(doc, "tests"), "`tests` must be a list")
            return ()
        tests = []
        names: set[str] = set()
        for i, item in enumerate(node):
            body = self.mapping(item, self.at(node, i), f"test #{i + 1}")
            if body is None:
                continue
            test = self.test(body, i, rule_ids, phases)
            if test is None:
                continue
            if test.name in names:
                self.error(self.at(body, "name"), f"duplicate test name {test.name!r}")
            names.add(test.name)
            tests.append(test)
        return tuple(tests)

    def test(
        self, body: CommentedMap, index: int, rule_ids: tuple[str, ...], phases: tuple[str, ...]
    ) -> PolicyTest | None:
        self.known_keys(body, TEST_KEYS, f"test #{index + 1}")
        missing = [k for k in TEST_KEYS if k not in body]
        if missing:
            self.error(self.at(body), f"test #{index + 1} needs {', '.join(missing)}")
            return None
        name = str(body["name"])
        event = self.test_event(body, name)
        expect = self.mapping(body["expect"], self.at(body, "expect"), f"`expect` of {name!r}")
        if event is None or expect is None:
            return None
        self.known_keys(expect, EXPECT_KEYS, f"`expect` of test {name!r}")
        if "decision" not in expect:
            self.error(self.at(body, "expect"), f"`expect` of test {name!r} needs `decision`")
            return None
        checks = {
            key: self.known_name(expect, key, choices)
            for key, choices in (("rule", rule_ids), ("phase", phases))
            if key in expect
        }
        return PolicyTest(
            name=name,
            event=event,
            expect_decision=self.decision(expect, "decision"),
            position=self.at(body, "name"),
            expect_rule=checks.get("rule"),
            checks_rule="rule" in checks,
            expect_phase=checks.get("phase"),
            checks_phase="phase" in checks,
        )

    def known_name(self, expect: CommentedMap, key: str, choices: tuple[str, ...]) -> str | None:
        value = expect[key]
        if value is not None and value not in choices:
            hint = suggest(value, choices or ("",))
            if key == "rule" and value in RESERVED_RULE_IDS:
                hint = "(to expect the policy's default decision, write `rule: null`)"
            self.error(self.at(expect, key), f"unknown {key} {value!r} {hint}")
        return value

    def test_event(self, body: CommentedMap, name: str) -> Event | None:
        node = self.mapping(body["event"], self.at(body, "event"), f"`event` of {name!r}")
        if node is None:
            return None
        self.known_keys(node, EVENT_KEYS, f"event of test {name!r}")
        fields: dict[str, Any] = {"id": name, "sport": 0}
        fields.update({str(k): v for k, v in node.items() if k in EVENT_KEYS})
        if "ts" in node:
            fields["ts"] = self.moment(node, "ts")
            if fields["ts"] is None:
                return None
        try:
            return msgspec.convert(plain(fields), Event)
        except (msgspec.ValidationError, ValueError) as exc:
            self.error(self.at(body, "event"), f"bad event in test {name!r}: {exc}")
            return None


def _overlap(a: Phase, b: Phase) -> bool:
    inf = float("inf")
    start = max(-inf if a.start is None else a.start, -inf if b.start is None else b.start)
    end = min(inf if a.end is None else a.end, inf if b.end is None else b.end)
    return start < end


def _port_range(value: Any) -> tuple[int, int]:
    if isinstance(value, bool):
        raise ValueError(f"not a port: {value!r}")
    if isinstance(value, int):
        lo = hi = value
    elif isinstance(value, str) and value.strip().isdigit():
        lo = hi = int(value)
    elif isinstance(value, str) and (m := _PORT_RANGE.match(value)):
        lo, hi = int(m.group(1)), int(m.group(2))
    else:
        raise ValueError(f'not a port or a "lo-hi" range: {value!r}')
    if not (0 <= lo <= 65535 and 0 <= hi <= 65535):
        raise ValueError(f"port out of range 0-65535: {value!r}")
    if lo > hi:
        raise ValueError(f"empty port range (low end above high end): {value!r}")
    return lo, hi
