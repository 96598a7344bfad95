"""A sensitivity sweep's page: recall and collateral of each policy against each varied value.

One point of a sweep is one simulated run; :class:`PointTally` folds its
verdicts into four numbers per policy, counted against ground truth
(:meth:`~policysim.policies.model.Truth.legitimate`): **recall**, the share
of illegitimate VPN traffic blocked (and flagged or blocked), and
**collateral**, the legitimate events blocked and those flagged, kept apart
because a flag costs a look and a block costs someone their work. The page
(sweep.html, inline SVG, no external references) and sweep.json are drawn
from the sweep document alone, as the report's are from report.json.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from policysim.base.vocabulary import DECISIONS
from policysim.policies.model import Verdict
from policysim.report import tables
from policysim.report.charts import _policy_color, _svg
from policysim.report.render import _html_table, page_html
from policysim.report.tables import Table

LEGITIMATE, ILLEGITIMATE = "legitimate", "illegitimate_vpn"
_DECISION = {name: i for i, name in enumerate(DECISIONS)}
# Lines of the same policy at different values of the other parameters.
_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P")
METRICS = (
    ("recall_block", "Recall: illegitimate VPN blocked", "%"),
    ("recall_flag_or_block", "Recall: illegitimate VPN flagged or blocked", "%"),
    ("collateral_blocked", "Collateral: legitimate events blocked", "events"),
    ("collateral_flagged", "Collateral: legitimate events flagged", "events"),
)


class PointTally:
    """Decisions of each policy on legitimate and on illegitimate VPN traffic, at one point."""

    def __init__(self, policies: Sequence[str]) -> None:
        self.policies = list(policies)
        # [policy][0 legitimate, 1 illegitimate VPN, 2 no truth][decision]
        self.counts = [[[0, 0, 0] for _ in range(3)] for _ in self.policies]

    def add(self, verdicts: Sequence[Sequence[Verdict]]) -> None:
        """Fold the engine's verdicts on one batch of events, ``[policy][event]``."""
        kinds = [_kind(v) for v in verdicts[0]] if verdicts else []
        for counts, per_event in zip(self.counts, verdicts, strict=True):
            for kind, verdict in zip(kinds, per_event, strict=True):
                counts[kind][_DECISION[verdict.decision]] += 1

    def result(self) -> list[dict]:
        """Per policy: decisions by kind of traffic, recall and collateral."""
        return [
            _outcome(name, counts) for name, counts in zip(self.policies, self.counts, strict=True)
        ]


def _kind(verdict: Verdict) -> int:
    truth = verdict.truth
    if truth is None:
        return 2
    return 1 if truth.is_vpn and not truth.legitimate() else 0


def _outcome(name: str, counts: list[list[int]]) -> dict:
    legit, illegit, unknown = counts
    legit_total, illegit_total = sum(legit), sum(illegit)
    flag, block = _DECISION["flag"], _DECISION["block"]
    return {
        "name": name,
        LEGITIMATE: {**dict(zip(DECISIONS, legit, strict=True)), "total": legit_total},
        ILLEGITIMATE: {**dict(zip(DECISIONS, illegit, strict=True)), "total": illegit_total},
        "without_truth": sum(unknown),
        "recall_block": _ratio(illegit[block], illegit_total),
        "recall_flag_or_block": _ratio(illegit[flag] + illegit[block], illegit_total),
        "collateral_blocked": legit[block],
        "collateral_flagged": legit[flag],
        "collateral_blocked_share": _ratio(legit[block], legit_total),
        "collateral_flagged_share": _ratio(legit[flag], legit_total),
    }


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


# --- the page -------------------------------------------------------------------


def shown(value: object) -> str:
    """A varied value as it was typed (``true``, not ``True``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def short_names(paths: Sequence[str]) -> list[str]:
    """Each dotted path by its shortest tail no other path ends with (``household.vpn_share``)."""
    names = []
    for path in paths:
        keys = path.split(".")
        tails = (".".join(keys[-n:]) for n in range(1, len(keys) + 1))
        names.append(
            next(t for t in tails if sum(p == t or p.endswith("." + t) for p in paths) == 1)
        )
    return names


def table(doc: dict) -> Table:
    """One row per point and policy: the varied values, recall and collateral."""
    paths = [p["path"] for p in doc["parameters"]]
    rows = []
    for point in doc["points"]:
        values = [shown(point["values"][path]) for path in paths]
        for outcome in point["policies"]:
            rows.append(
                [
                    *values,
                    outcome["name"],
                    tables.pct(outcome["recall_block"]),
                    tables.pct(outcome["recall_flag_or_block"]),
                    tables.num(outcome["collateral_blocked"]),
                    tables.num(outcome["collateral_flagged"]),
                ]
            )
    headers = [
        *short_names(paths),
        "policy",
        "recall: block",
        "recall: flag or block",
        "legitimate blocked",
        "legitimate flagged",
    ]
    return Table(
        "Recall and collateral at each point",
        headers,
        rows,
        note="Recall: illegitimate VPN events blocked (or flagged or blocked) out of all"
        " illegitimate VPN events. Collateral: legitimate events blocked, and flagged"
        " (as shares of all legitimate events in sweep.json).",
        numeric=set(range(len(paths) + 1, len(headers))),
    )


def chart(doc: dict, index: int) -> str:
    """Recall and collateral of every policy against parameter ``index``, as SVG.

    Colour is the policy; with more than one parameter, each combination of
    the others' values gets a line style of its own.
    """
    parameter = doc["parameters"][index]
    path, values = parameter["path"], parameter["values"]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    xs = values if numeric else list(range(len(values)))
    others = [p["path"] for i, p in enumerate(doc["parameters"]) if i != index]
    groups: dict[tuple, dict] = {}  # the other parameters' values -> {this value: point}
    for point in doc["points"]:
        rest = tuple(point["values"][o] for o in others)
        groups.setdefault(rest, {})[repr(point["values"][path])] = point
    names = [p["name"] for p in doc["points"][0]["policies"]]
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.4), sharex=True)
    for axis, (key, title, unit) in zip(axes.flat, METRICS, strict=True):
        scale = 100 if unit == "%" else 1
        for g, by_value in enumerate(groups.values()):
            for i in range(len(names)):
                ys = [_value(by_value[repr(v)], i, key, scale) for v in values]
                axis.plot(xs, ys, color=_policy_color(i), **_style(g), ms=4, lw=1.3)
        axis.set_title(title, loc="left")
        axis.set_ylabel(unit)
        axis.set_ylim(*((-3, 103) if unit == "%" else (0, None)))
        axis.set_xticks(xs, [shown(v) for v in values])
    for axis in axes[1]:
        axis.set_xlabel(path)
    handles = [Line2D([], [], color=_policy_color(i), lw=1.3) for i in range(len(names))]
    labels = list(names)
    if others:
        for g, rest in enumerate(groups):
            handles.append(Line2D([], [], color="#555555", **_style(g), ms=4, lw=1.3))
            labels.append(", ".join(f"{o}={shown(v)}" for o, v in zip(others, rest, strict=True)))
    rows = 1 + (len(labels) - 1) // 3
    fig.legend(handles, labels, loc="lower center", ncols=min(3, len(labels)), frameon=False)
    fig.tight_layout(rect=(0, 0.045 * rows, 1, 1))
    return _svg(fig)


def _style(group: int) -> dict:
    return {"ls": _STYLES[group % len(_STYLES)], "marker": _MARKERS[group % len(_MARKERS)]}


def _value(point: dict, policy: int, key: str, scale: int) -> float:
    value = point["policies"][policy][key]
    return float("nan") if value is None else value * scale


def _subtitle(doc: dict) -> str:
    sweep = doc["sweep"]
    return (
        f"{len(doc['points'])} points × {sweep['count']:,} events, seed {sweep['seed']};"
        f" scenario {sweep['scenario']['path']}; every number counted from verdicts and their"
        " ground truth. Legitimate: ordinary traffic, and VPN traffic with a business need (or,"
        " where the scenario does not model need, from a registered subscriber)."
    )


def html_page(doc: dict) -> str:
    """sweep.html: one file, charts inline, no external references."""
    e = html.escape
    title = e(f"Sensitivity sweep: {doc['sweep']['scenario']['name']}")
    body = [f"<h1>{title}</h1>", f'<p class="sub">{e(_subtitle(doc))}</p>']
    for i, parameter in enumerate(doc["parameters"]):
        caption = e(f"Recall and collateral against {parameter['path']}")
        body.append(
            f'<figure class="chart" id="chart-{i + 1}"><figcaption>{caption}</figcaption>'
            f"{chart(doc, i)}</figure>"
        )
    body.append(_html_table(table(doc)))
    body.append(_html_table(_inputs(doc)))
    return page_html(title, body)


def _inputs(doc: dict) -> Table:
    sweep = doc["sweep"]
    rows = [["scenario", f"{sweep['scenario']['path']} (sha256 {sweep['scenario']['sha256']})"]]
    rows += [
        [f"policy ({p['role']})", f"{p['name']} v{p['version']}: {p['path']}"]
        for p in sweep["policies"]
    ]
    rows += [
        [f"point {p['index']}", f"{p['scenario_file']}: {p['events']:,} events"]
        for p in doc["points"]
    ]
    return Table("Inputs", ["input", "what"], rows)


def write_sweep(doc: dict, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write sweep.json and sweep.html into ``out_dir``."""
    out = Path(out_dir)
    written = {}
    for name, text in (
        ("sweep.json", json.dumps(doc, indent=1, ensure_ascii=False) + "\n"),
        ("sweep.html", html_page(doc)),
    ):
        path = out / name
        path.write_text(text, encoding="utf-8")
        written[name] = path
    return written
