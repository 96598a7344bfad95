"""The report's tables as plain data, rendered alike by report.md and report.html.

Building each table once, from report.json, keeps the Markdown, the HTML and
the terminal's headline from drifting apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from policysim.base.vocabulary import DECISIONS, TRUTH_LABELS
from policysim.report.causes import cause_label


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""
    numeric: set[int] = field(default_factory=set)


def pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.1f}%"


def num(x: int | None) -> str:
    return "–" if x is None else f"{x:,}"


def local_time(ts: float, timezone: str) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def headline(report: dict) -> Table:
    """One row per policy (the enforced first): decision shares, each view's accuracy, harm."""
    rows = [
        [
            h["policy"],
            h["role"],
            num(h["events"]),
            *(pct(h[f"{d}_share"]) for d in DECISIONS),
            pct(h["block_precision"]),
            pct(h["block_recall"]),
            pct(h["precision"]),
            pct(h["recall"]),
            num(h["collateral_blocked"]),
            num(h["collateral_flagged"]),
            num(h["collateral_sources"]),
            num(h["not_blocked_events"]),
            num(h["missed_events"]),
            num(h["changed_vs_enforced"]),
        ]
        for h in report["headline"]
    ]
    headers = [
        "policy",
        "role",
        "events",
        *DECISIONS,
        "block precision",
        "block recall",
        "flag|block precision",
        "flag|block recall",
        "collateral blocked",
        "collateral flagged",
        "its sources",
        "not blocked",
        "missed",
        "changed",
    ]
    note = (
        "Traffic to stop = VPN traffic without a right to it (no business use; where a scenario "
        "does not model need, unregistered). Block precision and recall count only blocks, "
        'flag|block counts "flag or block" as caught; collateral = legitimate traffic blocked or '
        "flagged (and the distinct sources behind it); not blocked = traffic to stop that was "
        "flagged or allowed; missed = traffic to stop allowed; changed = events decided "
        "otherwise than by the enforced policy."
    )
    return Table("Per policy", headers, rows, note, numeric=set(range(2, len(headers))))


def headline_by_policy(report: dict) -> Table:
    """:func:`headline` turned a quarter: a row per figure, a column per policy.

    A terminal is narrow and policies are few, so this is the form that stays
    readable at 80 columns.
    """
    table = headline(report)
    rows = [[header, *(row[i] for row in table.rows)] for i, header in enumerate(table.headers)]
    return Table(
        table.title, rows[0], rows[1:], table.note, numeric=set(range(1, len(table.rows) + 1))
    )


def _decision_table(title: str, key: str, rows: list[dict], key_header: str) -> Table:
    body = [
        [row[key], num(row["total"])]
        + [f"{num(row[d])} ({pct(row[d + '_share'])})" for d in DECISIONS]
        for row in rows
    ]
    return Table(title, [key_header, "events", *DECISIONS], body, numeric={1, 2, 3, 4})


def by_category(policy: dict) -> Table:
    return _decision_table(
        f"{policy['name']}: decisions by source category",
        "category",
        policy["by_category"],
        "registered category of source",
    )


def by_day(policy: dict, timezone: str) -> Table:
    return _decision_table(
        f"{policy['name']}: decisions per day ({timezone})", "day", policy["by_day"], "day"
    )


def rules(policy: dict) -> Table:
    """Every rule of the policy, in its order, with what it decided: 0 said plainly."""
    summary = policy["rule_summary"]
    rows = []
    for r in summary["rules"]:
        declared = r["declared"]
        if isinstance(declared, dict):
            declared = ", ".join(f"{phase}: {d}" for phase, d in declared.items()) or "–"
        rows.append(
            [
                r["rule"],
                declared or "?",
                *(num(r[d]) for d in DECISIONS),
                num(r["events"]) if r["events"] else "0: decided nothing",
            ]
        )
    note = (
        "Rules in the policy's order, then the default; then = the decision the policy file "
        "gives (per phase where it names phases)."
        if summary["rules_known"]
        else "Only rules seen in the verdicts (then: ?): the report was made without the policy "
        "files, so a rule that decided nothing cannot be listed."
    )
    return Table(
        f"{policy['name']}: decisions by rule",
        ["rule", "then", *DECISIONS, "events"],
        rows,
        note,
        numeric={2, 3, 4, 5},
    )


def views(policy: dict) -> Table:
    """Precision and recall when only blocks count, only flags, or either."""
    rows = [
        [
            label,
            num(f["tp"]),
            num(f["fp"]),
            num(f["fn"]),
            pct(f["precision"]),
            pct(f["recall"]),
        ]
        for label, f in _view_rows(policy["truth"]["views"])
    ]
    return Table(
        f"{policy['name']}: precision and recall, flag and block apart",
        ["caught means", "traffic to stop caught", "legitimate caught", "to stop not caught",
         "precision", "recall"],
        rows,
        numeric={1, 2, 3, 4, 5},
    )  # fmt: skip


def _view_rows(figures: dict) -> list[tuple[str, dict]]:
    return [(VIEW_LABELS[view], figures[view]) for view in VIEW_LABELS]


VIEW_LABELS = {"block": "block", "flag": "flag", "flag_or_block": "flag or block"}


def phases(policy: dict) -> Table:
    """Each phase (before and after the deadline, trial windows) on its own row."""
    rows = []
    for p in policy["by_phase"]:
        v = p["views"]
        rows.append(
            [
                p["phase"],
                num(p["events"]),
                pct(v["block"]["precision"]),
                pct(v["block"]["recall"]),
                pct(v["flag_or_block"]["precision"]),
                pct(v["flag_or_block"]["recall"]),
                num(p["decisions_on_legitimate"]["block"]),
                num(p["decisions_on_legitimate"]["flag"]),
                num(v["block"]["fn"]),
                num(v["flag_or_block"]["fn"]),
            ]
        )
    headers = ["phase", "events with truth", "block precision", "block recall",
               "flag|block precision", "flag|block recall", "collateral blocked",
               "collateral flagged", "not blocked", "missed"]  # fmt: skip
    return Table(
        f"{policy['name']}: per phase",
        headers,
        rows,
        "Phases as the verdicts name them; (no phase) where none covered the event time.",
        numeric=set(range(1, len(headers))),
    )


def _figures(cell: dict) -> str:
    return f"{num(cell['events'])} ({num(cell['sources'])} src, {num(cell['entities'])} ent)"


def missed_causes(policy: dict) -> Table:
    """Why traffic to stop got through: every cause, 0 included, blocked-view and allowed."""
    columns = {"not blocked": "block", "allowed (missed)": "flag_or_block"}
    return _causes(policy, "missed", "why traffic to stop got through", columns)


def collateral_causes(policy: dict) -> Table:
    """Why legitimate traffic was hit: every cause, 0 included, blocked and flagged apart."""
    columns = {"blocked": "block", "flagged": "flag"}
    return _causes(policy, "collateral", "why legitimate traffic was hit", columns)


def _causes(policy: dict, kind: str, title: str, columns: dict[str, str]) -> Table:
    """The ``kind`` cause rows, each over all phases and then per phase, with ``columns``
    (heading → view of the cause row)."""
    rows = []
    for r in policy["causes"][kind]:
        name = cause_label(r)
        for phase, figures in [("all", r), *((p["phase"], p) for p in r["by_phase"])]:
            rows.append([name, phase, *(_figures(figures[view]) for view in columns.values())])
    return Table(
        f"{policy['name']}: {title}",
        ["cause", "phase", *columns],
        rows,
        "Events (distinct sources, distinct entities); causes as defined in docs/report.md.",
        numeric={2, 3},
    )


def who_is_hit(policy: dict) -> list[Table]:
    """The entities and the sources with most collateral, for an analyst to call."""
    hit = policy["who_is_hit"]
    unnamed = "(not in the registry)" if hit["names"] == "registry" else "(no registry given)"
    entities = [
        [e["entity_id"], e["name"] or unnamed, e["category"] or "–", num(e["block"]),
         num(e["flag"]), num(e["sources"])]
        for e in hit["entities"]
    ]  # fmt: skip
    sources = [
        [s["src"], s["entity_id"] or "–", s["name"] or ("–" if not s["entity_id"] else unnamed),
         s["category"] or "–", str(s["shared_by"]), num(s["block"]), num(s["flag"])]
        for s in hit["sources"]
    ]  # fmt: skip
    note = (
        "Names from the registry the run used."
        if hit["names"] == "registry"
        else "Names are not available: the report was made without the registry (--registry)."
    )
    return [
        Table(
            f"{policy['name']}: entities hit by mistake (top {len(entities)})",
            ["entity", "name", "category", "blocked", "flagged", "sources"],
            entities or [["(none)", "", "", "0", "0", "0"]],
            note,
            numeric={3, 4, 5},
        ),
        Table(
            f"{policy['name']}: sources hit by mistake (top {len(sources)})",
            ["source", "entity", "name", "category", "shared by", "blocked", "flagged"],
            sources or [["(none)", "", "", "", "", "0", "0"]],
            note,
            numeric={4, 5, 6},
        ),
    ]


def confusion(policy: dict) -> Table:
    matrix = policy["truth"]["confusion"]
    rows = [[label] + [num(matrix[label][d]) for d in DECISIONS] for label in TRUTH_LABELS]
    truth = policy["truth"]
    note = (
        "Flag or block counted as caught: "
        f"TP {num(truth['tp'])}, FP {num(truth['fp'])}, FN {num(truth['fn'])}, "
        f"TN {num(truth['tn'])}; precision {pct(truth['precision'])}, "
        f"recall {pct(truth['recall'])}, F1 {pct(truth['f1'])}; "
        f"{num(truth['events_without_truth'])} events without ground truth."
    )
    return Table(
        f"{policy['name']}: confusion matrix (truth × decision)",
        ["truth", *DECISIONS],
        rows,
        note,
        numeric={1, 2, 3},
    )


def collateral(policy: dict) -> Table:
    c = policy["truth"]["collateral"]
    rows = [
        [
            r["category"],
            num(r["events"]),
            num(r["flag"]),
            num(r["block"]),
            num(r["registered_events"]),
            num(r["non_vpn_unregistered_events"]),
            num(r["sources"]),
            num(r["entities"]),
        ]
        for r in c["by_category"]
    ]
    headers = [
        "category (truth)",
        "events",
        "flagged",
        "blocked",
        "of registered",
        "of non-VPN unregistered",
        "sources",
        "entities",
    ]
    note = (
        f"In all {num(c['events'])} events ({num(c['blocked'])} blocked, "
        f"{num(c['flagged'])} flagged) from {num(c['sources'])} distinct sources "
        f"and {num(c['entities'])} entities; legitimate = ordinary traffic, business use, or "
        "(where need is not modelled) registered."
    )
    return Table(
        f"{policy['name']}: collateral damage", headers, rows, note, numeric=set(range(1, 8))
    )


def missed(policy: dict) -> Table:
    m = policy["truth"]["missed"]
    rows = [[group, num(count)] for group, count in m["by_population_group"].items()]
    rows = rows or [["(none)", "0"]]
    note = (
        f"{num(m['events'])} events of traffic to stop allowed "
        f"({pct(m['share_of_unregistered_vpn'])} of it), {num(m['not_blocked'])} not blocked, "
        f"from {num(m['sources'])} sources. By app: "
        + ", ".join(f"{app} {num(n)}" for app, n in list(m["by_app"].items())[:8])
    )
    return Table(
        f"{policy['name']}: missed traffic to stop (allowed)",
        ["population group", "events"],
        rows,
        note,
        numeric={1},
    )


def prefixes(policy: dict) -> list[Table]:
    tables = []
    for entry in policy["top_prefixes"]:
        width = max(len(entry["sources"]), len(entry["destinations"]))
        rows = []
        for k in range(width):
            src = entry["sources"][k] if k < len(entry["sources"]) else None
            dst = entry["destinations"][k] if k < len(entry["destinations"]) else None
            rows.append(
                [
                    src["prefix"] if src else "",
                    num(src["count"]) if src else "",
                    dst["prefix"] if dst else "",
                    num(dst["count"]) if dst else "",
                ]
            )
        tables.append(
            Table(
                f"{policy['name']}: rule {entry['rule']} ({entry['decision']}, "
                f"{num(entry['events'])} events)",
                ["source prefix", "events", "destination prefix", "events"],
                rows,
                numeric={1, 3},
            )
        )
    return tables


def diff_summary(report: dict) -> Table:
    rows = [
        [
            d["baseline"],
            d["shadow"],
            num(d["events_compared"]),
            f"{num(d['changed'])} ({pct(d['changed_share'])})",
            num(d["rule_changed_same_decision"]),
            ", ".join(f"{c['category']} {num(c['count'])}" for c in d["by_category"][:6]),
        ]
        for d in report["diffs"]
    ]
    headers = [
        "enforced",
        "shadow",
        "events compared",
        "decision changed",
        "same decision, other rule",
        "changed, by source category",
    ]
    return Table("Enforced policy against each shadow", headers, rows, numeric={2, 3, 4})


def diff_transitions(diff: dict, timezone: str) -> Table:
    rows = []
    for t in diff["by_transition"]:
        examples = "; ".join(
            f"{e['id']} @ {local_time(e['ts'], timezone)} {e['src_prefix']}→{e['dst']} "
            f"{e['app'] or ''} [{e['truth'] or 'no truth'}]"
            for e in t["examples"]
        )
        rows.append(
            [
                f"{t['from_decision']} by {t['from_rule']}",
                f"{t['to_decision']} by {t['to_rule']}",
                num(t["count"]),
                ", ".join(f"{k} {num(v)}" for k, v in list(t["by_category"].items())[:5]),
                examples,
            ]
        )
    return Table(
        f"{diff['baseline']} → {diff['shadow']}: changed decisions",
        [diff["baseline"], diff["shadow"], "events", "by source category", "examples"],
        rows,
        numeric={2},
    )


def inputs(report: dict) -> Table:
    rows: list[list[str]] = []
    given = report.get("inputs") or {}
    scenario = given.get("scenario") or {}
    if scenario:
        rows.append(["scenario", scenario.get("name", ""), _file(scenario)])
        rows.append(["seed", str(scenario.get("seed", "")), ""])
    for p in given.get("policies", []):
        rows.append(
            [f"policy ({p.get('role', '')})", f"{p['name']} v{p.get('version', '?')}", _file(p)]
        )
    registry = given.get("registry") or {}
    if registry:
        rows.append(["registry", f"version {registry.get('version', '?')}", _file(registry)])
    totals = report["totals"]
    rows.append(["duplicate verdicts ignored", num(totals["duplicate_verdicts"]), ""])
    versions = sorted({v for p in report["policies"] for v in p["registry_versions"]})
    rows.append(["registry versions in verdicts", ", ".join(map(str, versions)), ""])
    run = given.get("run") or {}
    for key, value in run.items():
        rows.append([f"run: {key}", str(value), ""])
    software = given.get("software") or {}
    for key, value in software.items():
        rows.append([key, str(value), ""])
    rows.append(["generated", report["generated_at"], ""])
    return Table("Inputs (enough to reproduce the run)", ["input", "value", "file, sha256"], rows)


def _file(entry: dict) -> str:
    path = entry.get("path")
    digest = entry.get("sha256")
    return f"{path} {digest}" if path else ""
