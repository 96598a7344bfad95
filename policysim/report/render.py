"""Writing a report: report.json, report.md, a self-contained report.html, and the charts.

The HTML holds its charts as inline SVG and its style inline, and links to
nothing, so it can be mailed on and opened offline. report.md is the same
content for a terminal or a repository, with the charts beside it as files.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from policysim.report import tables
from policysim.report.charts import render_all
from policysim.report.tables import Table

CHART_TITLES = {
    "timeline": "The deadline: decisions per hour, phases and registrations",
    "decision_shares": "Decisions per policy",
    "daily": "Flagged or blocked per day",
    "quality": "Precision and recall: block alone, and flag or block",
    "causes": "Causes of collateral (blocked, flagged) and of misses (allowed, only flagged)",
    "collateral": "Collateral damage by category",
}


def _sections(report: dict) -> list[tuple[str, list[Table | str]]]:
    """The report's outline: (heading, tables and chart names), in reading order."""
    tz = report["timezone"]
    policies = report["policies"]
    return [
        ("Headline", [tables.headline(report), "decision_shares"]),
        ("The deadline", ["timeline", "daily"]),
        (
            "Flag and block apart, per phase",
            ["quality"] + [t for p in policies for t in (tables.views(p), tables.phases(p))],
        ),
        (
            "Why: the cause of every wrong decision",
            ["causes"]
            + [t for p in policies for t in (tables.collateral_causes(p), tables.missed_causes(p))],
        ),
        ("Who is hit by mistake", [t for p in policies for t in tables.who_is_hit(p)]),
        (
            "Ground truth: accuracy, collateral damage, missed traffic",
            ["collateral"]
            + [t for p in policies for t in (tables.confusion(p), tables.collateral(p))]
            + [tables.missed(p) for p in policies],
        ),
        (
            "Enforced policy against the shadows",
            [tables.diff_summary(report)]
            + [tables.diff_transitions(d, tz) for d in report["diffs"]],
        ),
        (
            "Decisions by source category and rule",
            [t for p in policies for t in (tables.by_category(p), tables.rules(p))],
        ),
        ("Decisions per day", [tables.by_day(p, tz) for p in policies]),
        (
            "Top prefixes hit by each flagging or blocking rule (/24, /48)",
            [t for p in policies for t in tables.prefixes(p)],
        ),
        ("Inputs", [tables.inputs(report)]),
    ]


# Characters that Markdown would read as markup; escaped with a backslash.
_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]|"})


def markdown_text(text: str) -> str:
    """Text from the input (policy names, rule ids, entity names) as inert Markdown.

    HTML is escaped as the HTML report escapes it, so ``<script>`` or
    ``<img onerror=...>`` in a name shows as text in any Markdown viewer;
    Markdown's own markup characters get a backslash; a line break becomes a
    space so a table row stays one row.
    """
    escaped = html.escape(text, quote=False).translate(_MARKDOWN_SPECIAL)
    return escaped.replace("\r", " ").replace("\n", " ")


def markdown(report: dict, chart_dir: str = "charts") -> str:
    """report.md: the tables, with links to the chart files."""
    lines = [f"# {markdown_text(_title(report))}", "", markdown_text(_subtitle(report)), ""]
    for heading, parts in _sections(report):
        lines += [f"## {heading}", ""]
        for part in parts:
            if isinstance(part, str):
                lines += [f"![{CHART_TITLES[part]}]({chart_dir}/{part}.svg)", ""]
            else:
                lines += _markdown_table(part)
    return "\n".join(lines)


def _markdown_table(table: Table) -> list[str]:
    cell = markdown_text
    align = ["---:" if i in table.numeric else "---" for i in range(len(table.headers))]
    out = [f"### {cell(table.title)}", ""]
    out.append("| " + " | ".join(cell(h) for h in table.headers) + " |")
    out.append("|" + "|".join(align) + "|")
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
    if not table.rows:
        out.append("| " + " | ".join("" for _ in table.headers) + " |")
    if table.note:
        out += ["", cell(table.note)]
    return [*out, ""]


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1180px;
color:#1d1d1f;padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:2px solid #1f4e79;padding-bottom:.2rem;
margin-top:2.2rem}h3{font-size:1rem;margin:1.2rem 0 .3rem}
.sub{color:#555;margin-top:0}
.wide{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.82rem;margin:.3rem 0 .4rem}
th,td{border-bottom:1px solid #ddd;padding:.25rem .4rem;text-align:left;vertical-align:top}
td:first-child{white-space:nowrap}th{background:#f1f4f8}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.note{color:#555;font-size:.82rem;margin:.1rem 0 1rem}
figure{margin:.6rem 0 1.4rem}figure svg{max-width:100%;height:auto}
figcaption{font-weight:600;margin-bottom:.3rem}
details{margin:.2rem 0}summary{cursor:pointer;font-weight:600}
"""

# Tables longer than this fold away so the page stays readable.
_FOLD_ROWS = 12


def html_page(report: dict, charts: dict[str, str]) -> str:
    """report.html: one file, no external references."""
    title = html.escape(_title(report))
    body = [f"<h1>{title}</h1>", f'<p class="sub">{html.escape(_subtitle(report))}</p>']
    for heading, parts in _sections(report):
        body.append(f"<section><h2>{html.escape(heading)}</h2>")
        for part in parts:
            if isinstance(part, str):
                caption = html.escape(CHART_TITLES[part])
                body.append(
                    f'<figure class="chart" id="chart-{part}">'
                    f"<figcaption>{caption}</figcaption>{charts[part]}</figure>"
                )
            else:
                body.append(_html_table(part))
        body.append("</section>")
    return page_html(title, body)


def page_html(title: str, body: list[str]) -> str:
    """A self-contained HTML page in the report's style, with ``body`` one part a line."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _html_table(table: Table) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in table.headers)
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{e(c)}</td>' if i in table.numeric else f"<td>{e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in table.rows
    )
    # A table wider than the page scrolls inside its own box, not the whole page.
    grid = (
        f'<div class="wide"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )
    note = f'<p class="note">{e(table.note)}</p>' if table.note else ""
    if len(table.rows) > _FOLD_ROWS:
        return (
            f"<details><summary>{e(table.title)} ({len(table.rows)} rows)</summary>"
            f"{grid}{note}</details>"
        )
    return f"<h3>{e(table.title)}</h3>{grid}{note}"


def _title(report: dict) -> str:
    scenario = (report.get("inputs") or {}).get("scenario") or {}
    return f"Policy impact report: {scenario.get('name', 'verdicts')}"


def _subtitle(report: dict) -> str:
    tz = report["timezone"]
    window = report["window"]
    totals = report["totals"]
    duplicates = totals["duplicate_verdicts"]
    return (
        f"{totals['events']:,} events, {totals['verdicts']:,} verdicts"
        + (f" ({duplicates:,} duplicate verdicts ignored), " if duplicates else ", ")
        + f"{tables.local_time(window['first_ts'], tz)} to "
        f"{tables.local_time(window['last_ts'], tz)} ({tz}); "
        f"every number counted from the verdicts and their ground truth."
    )


def write_report(report: dict, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write report.json, report.md, report.html and charts/*.svg into ``out_dir``."""
    out = Path(out_dir)
    (out / "charts").mkdir(parents=True, exist_ok=True)
    charts = render_all(report)
    written: dict[str, Path] = {}

    def put(name: str, text: str) -> None:
        path = out / name
        path.write_text(text, encoding="utf-8")
        written[name] = path

    put("report.json", json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    for name, svg in charts.items():
        put(f"charts/{name}.svg", svg)
    put("report.md", markdown(report))
    put("report.html", html_page(report, charts))
    return written
