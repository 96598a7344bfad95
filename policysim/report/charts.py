"""The report's charts as SVG text, drawn from report.json alone.

Charts take the finished report document, not the tallies, so what a chart
shows is exactly what report.json says. SVG keeps text as text (no embedded
fonts, no external references), so report.html stays small and opens with no
network.
"""

from __future__ import annotations

import io
import math
from datetime import datetime
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from policysim.base.palette import DECISION_COLORS
from policysim.base.vocabulary import DECISIONS
from policysim.report.causes import cause_label

POLICY_COLORS = ("#1f4e79", "#7b3f99", "#2a9d8f", "#b5651d", "#555555")
ADOPTION_COLOR = "#2a6fdb"

plt.rcParams.update(
    {
        "svg.fonttype": "none",
        "svg.hashsalt": "policysim",
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _policy_color(i: int) -> str:
    return POLICY_COLORS[i % len(POLICY_COLORS)]


def timeline(report: dict) -> str:
    """Decisions per hour around the deadline, phase boundaries and the adoption curve."""
    zone = ZoneInfo(report["timezone"])
    line = report["timeline"]
    hours = [datetime.fromtimestamp(h, zone).replace(tzinfo=None) for h in line["hour_starts"]]
    names = [p["name"] for p in report["policies"]]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 6.2), sharex=True, gridspec_kw={"height_ratios": [1, 1.15]}
    )
    enforced = line["decisions"][names[0]]
    top.stackplot(
        hours,
        [enforced[d] for d in DECISIONS],
        labels=list(DECISIONS),
        colors=[DECISION_COLORS[d] for d in DECISIONS],
        step="post",
    )
    top.set_ylabel("events per hour")
    top.set_title(f"Decisions per hour — enforced policy {names[0]}", loc="left")
    top.legend(loc="lower right", ncols=3, frameon=False, bbox_to_anchor=(1, 1))
    for i, name in enumerate(names):
        series = line["decisions"][name]
        hit = [f + b for f, b in zip(series["flag"], series["block"], strict=True)]
        style = "-" if i == 0 else "--"
        bottom.step(hours, hit, where="post", color=_policy_color(i), ls=style, lw=1.3, label=name)
    bottom.set_ylabel("flagged + blocked per hour")
    bottom.set_title("Flagged or blocked per hour, every policy", loc="left")
    _adoption(bottom, hours, line["adoption"])
    for axis in (top, bottom):
        _phase_lines(axis, report, zone)
    _day_axis(bottom)
    bottom.set_xlabel(f"event time ({report['timezone']})")
    fig.tight_layout()
    return _svg(fig)


def _day_axis(axis) -> None:
    """One tick per day (at most about ten), labelled like "23 Nov"."""
    low, high = axis.get_xlim()
    axis.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, math.ceil((high - low) / 10))))
    axis.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))


def _adoption(axis, hours: list[datetime], adoption: dict) -> None:
    twin = axis.twinx()
    twin.spines["right"].set_visible(True)
    total = adoption["entities"]
    values = [r / total * 100 for r in adoption["registered"]] if total else adoption["registered"]
    twin.plot(hours, values, color=ADOPTION_COLOR, lw=2, alpha=0.8, label="entities registered")
    twin.set_ylabel("entities registered (%)" if total else "entities registered")
    if total:
        twin.set_ylim(0, 105)
    lines, labels = axis.get_legend_handles_labels()
    more, more_labels = twin.get_legend_handles_labels()
    axis.legend(
        lines + more,
        labels + more_labels,
        loc="lower right",
        frameon=False,
        ncols=4,
        bbox_to_anchor=(1, 1),
    )


def _phase_lines(axis, report: dict, zone: ZoneInfo) -> None:
    """A dotted line where each phase of the enforced policy begins, and the deadline.

    Phase starts come from the policy file when the report has it, else from
    the first verdict seen in each phase.
    """
    marks = _phase_starts(report)
    deadline = ((report.get("inputs") or {}).get("scenario") or {}).get("deadline")
    if deadline is not None and all(abs(t - deadline) > 60 for _, t in marks):
        marks.append(("deadline", deadline))
    first, last = report["window"]["first_ts"], report["window"]["last_ts"]
    for label, ts in marks:
        shown = min(max(ts, first), last)
        when = datetime.fromtimestamp(shown, zone).replace(tzinfo=None)
        if first < ts <= last:
            axis.axvline(when, color="#333333", ls=":", lw=1)
        axis.annotate(
            label,
            xy=(when, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -2),
            textcoords="offset points",
            va="top",
            fontsize=8,
            color="#333333",
        )


def _phase_starts(report: dict) -> list[tuple[str, float]]:
    declared = ((report.get("inputs") or {}).get("policies") or [{}])[0].get("phases")
    if declared:
        first = report["window"]["first_ts"]
        starts = [(p["name"], first if p["start"] is None else p["start"]) for p in declared]
        return [(name, ts) for name, ts in starts if ts <= report["window"]["last_ts"]]
    return [(p["phase"], p["first_ts"]) for p in report["policies"][0]["phases"]]


def decision_shares(report: dict) -> str:
    """One stacked bar per policy: the share of events allowed, flagged, blocked."""
    policies = report["policies"]
    fig, axis = plt.subplots(figsize=(8, 0.6 + 0.5 * len(policies)))
    labels = [p["name"] for p in policies]
    left = [0.0] * len(policies)
    for decision in DECISIONS:
        widths = [p["decisions"][decision]["share"] * 100 for p in policies]
        axis.barh(labels, widths, left=left, color=DECISION_COLORS[decision], label=decision)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    axis.invert_yaxis()
    axis.set_xlim(0, 100)
    axis.set_xlabel("share of events (%)")
    axis.legend(loc="lower right", ncols=3, frameon=False, bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return _svg(fig)


def quality(report: dict) -> str:
    """Precision and recall per policy, when only blocks count and when flags count too."""
    policies = report["policies"]
    fig, axis = plt.subplots(figsize=(8, 1.0 + 1.0 * len(policies)))
    labels = [p["name"] for p in policies]
    ys = range(len(policies))
    bars = (
        (-0.3, "block", "precision", "#1f4e79", "block precision"),
        (-0.1, "block", "recall", "#2a9d8f", "block recall"),
        (0.1, "flag_or_block", "precision", "#7fa7cf", "flag or block precision"),
        (0.3, "flag_or_block", "recall", "#94d2bd", "flag or block recall"),
    )
    for offset, view, key, color, label in bars:
        ratios = [p["truth"]["views"][view][key] for p in policies]
        values = [(r or 0) * 100 for r in ratios]
        drawn = axis.barh([y + offset for y in ys], values, height=0.19, color=color, label=label)
        undefined = "– (nothing caught)" if key == "precision" else "– (nothing to stop)"
        texts = [undefined if r is None else f"{r * 100:.1f}%" for r in ratios]
        axis.bar_label(drawn, labels=texts, padding=2, fontsize=7)
    axis.set_yticks(list(ys), labels)
    axis.invert_yaxis()
    axis.set_xlim(0, 112)
    axis.set_xlabel("%")
    axis.legend(loc="lower right", ncols=2, frameon=False, bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return _svg(fig)


def causes(report: dict) -> str:
    """Per policy: collateral by cause (blocked, flagged) and misses by cause (allowed, flagged)."""
    policies = report["policies"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 1.4 + 0.5 * len(policies)), sharey=True)
    labels = [p["name"] for p in policies]
    panels = (
        (left, "collateral", (("block", "blocked", "/"), ("flag", "flagged", ""))),
        (right, "missed", (("flag_or_block", "allowed", ""), ("block", "flagged", "/"))),
    )
    for axis, kind, parts in panels:
        names = _cause_names(policies, kind)
        for i, name in enumerate(names):
            color = CAUSE_COLORS[i % len(CAUSE_COLORS)]
            for part, _, hatch in parts:
                _stack_bar(axis, labels, policies, kind, name, part, color, hatch)
        axis.set_title(
            "collateral by cause (hatched: blocked)" if kind == "collateral"
            else "traffic to stop let through, by cause (hatched: only flagged)",
            loc="left",
        )  # fmt: skip
        axis.set_xlabel("events")
        if names:
            handles = [plt.Rectangle((0, 0), 1, 1, color=CAUSE_COLORS[i % len(CAUSE_COLORS)])
                       for i in range(len(names))]  # fmt: skip
            axis.legend(handles, names, loc="upper left", bbox_to_anchor=(0, -0.25),
                        frameon=False, ncols=2, fontsize=7)  # fmt: skip
        else:
            axis.text(0.5, 0.5, "none", ha="center", va="center", transform=axis.transAxes)
    left.invert_yaxis()
    fig.tight_layout()
    return _svg(fig)


CAUSE_COLORS = ("#1f4e79", "#c0392b", "#2a9d8f", "#e9c46a", "#7b3f99", "#f4a261", "#555555",
                "#8ab17d")  # fmt: skip


def _cause_names(policies: list[dict], kind: str) -> list[str]:
    """Causes with any events in any policy, in the vocabulary's order."""
    names: list[str] = []
    for p in policies:
        for row in p["causes"][kind]:
            name = cause_label(row)
            views = [v for k, v in row.items() if isinstance(v, dict) and "events" in v]
            if any(v["events"] for v in views) and name not in names:
                names.append(name)
    return names


def _stack_bar(axis, labels, policies, kind, name, part, color, hatch) -> None:
    """One cause's share of each policy's bar, stacked after the causes drawn before it."""
    widths = []
    for p in policies:
        rows = {cause_label(r): r for r in p["causes"][kind]}
        row = rows.get(name)
        if row is None:
            widths.append(0)
        elif kind == "missed" and part == "block":
            widths.append(row["block"]["events"] - row["flag_or_block"]["events"])
        else:
            widths.append(row[part]["events"])
    starts = [_drawn_width(axis, i) for i in range(len(labels))]
    axis.barh(labels, widths, left=starts, color=color, hatch=hatch, edgecolor="white", lw=0.3)


def _drawn_width(axis, i: int) -> float:
    """How far the bars already drawn in row ``i`` reach."""
    return max(
        (patch.get_x() + patch.get_width() for patch in axis.patches
         if abs(patch.get_y() + patch.get_height() / 2 - i) < 1e-6),
        default=0.0,
    )  # fmt: skip


def collateral(report: dict) -> str:
    """Registered or non-VPN events flagged or blocked, by category, per policy."""
    policies = report["policies"]
    categories: list[str] = []
    for p in policies:
        for row in p["truth"]["collateral"]["by_category"]:
            if row["category"] not in categories:
                categories.append(row["category"])
    fig, axis = plt.subplots(figsize=(8, 1.2 + 0.22 * max(1, len(categories)) * len(policies)))
    if not categories:
        axis.text(0.5, 0.5, "no collateral damage", ha="center", va="center")
        axis.set_axis_off()
        return _svg(fig)
    height = 0.8 / len(policies)
    for i, p in enumerate(policies):
        counts = {r["category"]: r["events"] for r in p["truth"]["collateral"]["by_category"]}
        ys = [k + i * height for k in range(len(categories))]
        axis.barh(
            ys,
            [counts.get(c, 0) for c in categories],
            height=height,
            color=_policy_color(i),
            label=p["name"],
        )
    axis.set_yticks([k + 0.4 - height / 2 for k in range(len(categories))], categories)
    axis.invert_yaxis()
    axis.set_xlabel("events flagged or blocked by mistake")
    axis.legend(loc="lower right", frameon=False, ncols=len(policies), bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return _svg(fig)


def daily(report: dict) -> str:
    """Share of events flagged or blocked on each local day, per policy."""
    fig, axis = plt.subplots(figsize=(11, 2.8))
    for i, p in enumerate(report["policies"]):
        days = [datetime.fromisoformat(r["day"]) for r in p["by_day"]]
        hit = [(r["flag_share"] + r["block_share"]) * 100 for r in p["by_day"]]
        axis.plot(days, hit, marker="o", ms=3, color=_policy_color(i), label=p["name"])
    axis.set_ylabel("flagged + blocked (%)")
    _day_axis(axis)
    axis.legend(loc="lower right", frameon=False, ncols=4, bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return _svg(fig)


CHARTS = {
    "timeline": timeline,
    "decision_shares": decision_shares,
    "quality": quality,
    "causes": causes,
    "collateral": collateral,
    "daily": daily,
}


def render_all(report: dict) -> dict[str, str]:
    """Every chart of the report, by name."""
    return {name: draw(report) for name, draw in CHARTS.items()}
