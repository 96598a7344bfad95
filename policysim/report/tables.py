"""The report's tables as plain data, rendered alike by report.md and report.html.

Building each table once, from report.json, keeps the Markdown, the HTML and
the terminal's headline from drifting apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from policysim.base.vocabulary import DECISIONS, TRUTH_LABELS


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
    """One row per policy (the enforced first): decision shares, accuracy, collateral."""
    rows = [
        [
            h["policy"],
            h["role"],
            num(h["events"]),
            *(pct(h[f"{d}_share"]) for d in DECISIONS),
            pct(h["precision"]),
            pct(h["recall"]),
            num(h["collateral_events"]),
            num(h["collateral_sources"]),
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
        "precision",
        "recall",
        "collateral",
        "its sources",
        "missed",
        "changed",
    ]
    note = (
        'Precision and recall of "flag or block" against "unregistered VPN"; '
        "collateral = registered or non-VPN traffic flagged or blocked (events, and the "
        "distinct sources behind them); "
        "missed = unregistered VPN traffic allowed; changed = events decided otherwise "
        "than by the enforced policy."
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
    rows = [[r["rule"], r["decision"], num(r["count"])] for r in policy["rules"]]
    return Table(
        f"{policy['name']}: decisions by rule", ["rule", "decision", "events"], rows, numeric={2}
    )


def confusion(policy: dict) -> Table:
    matrix = policy["truth"]["confusion"]
    rows = [[label] + [num(matrix[label][d]) for d in DECISIONS] for label in TRUTH_LABELS]
    truth = policy["truth"]
    note = (
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
        f"In all {num(c['events'])} events from {num(c['sources'])} distinct sources "
        f"and {num(c['entities'])} entities."
    )
    return Table(
        f"{policy['name']}: collateral damage", headers, rows, note, numeric=set(range(1, 8))
    )


def missed(policy: dict) -> Table:
    m = policy["truth"]["missed"]
    rows = [[group, num(count)] for group, count in m["by_population_group"].items()]
    rows = rows or [["(none)", "0"]]
    note = (
        f"{num(m['events'])} unregistered VPN events allowed "
        f"({pct(m['share_of_unregistered_vpn'])} of unregistered VPN traffic) "
        f"from {num(m['sources'])} sources. By app: "
        + ", ".join(f"{app} {num(n)}" for app, n in list(m["by_app"].items())[:8])
    )
    return Table(
        f"{policy['name']}: missed unregistered VPN traffic",
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
