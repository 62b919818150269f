"""``stanceframe report``'s outputs from :mod:`~stanceframe.report_data`'s figures: the
table as CSV (one row per group, voice, task and label) and Markdown, and the
self-contained HTML page: small multiples of each panel's framing shares with their
intervals (Vega-Altair, rendered to SVG by vl-convert and embedded as images), a table per
panel, and the evidence sentences linking to per-article inspection pages written beside
it (``report.py``'s page). Every text goes through Jinja2's autoescape."""

from __future__ import annotations

import base64
import csv
import hashlib
import re
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from stanceframe.report_data import ALL, TIME_KEYS, ReportData

CHART_COLUMNS = 3  # small multiples a row
CHART_WIDTH, CHART_HEIGHT = 230, 150
CSV_COLUMNS = ["voice", "task", "label", "sentences", "articles", "count", "share", "ci_low", "ci_high", "evidence"]


def _fmt_share(cell) -> str:
    return f"{cell.share * 100:.1f}% [{cell.low * 100:.1f}–{cell.high * 100:.1f}]"


def table_rows(data: ReportData) -> list[dict]:
    """The long table: one dict per group, voice, task and label (what the CSV holds)."""
    out = []
    for row in data.rows:
        for (task, label), cell in row.cells.items():
            out.append({**dict(zip(data.by, row.key)), "voice": row.voice, "task": task, "label": label,
                        "sentences": row.sentences, "articles": row.articles, "count": cell.count,
                        "share": cell.share, "ci_low": cell.low, "ci_high": cell.high,
                        "evidence": ";".join(e["id"] for e in cell.evidence)})
    return out


def write_csv(data: ReportData, path: str | Path) -> Path:
    """The long table as CSV (text cells through tag's formula-injection defence)."""
    from stanceframe.tagging.encoders import csv_safe

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = [*data.by, *CSV_COLUMNS]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for row in table_rows(data):
            writer.writerow([csv_safe(v) if isinstance(v, str) else v for v in (row[c] for c in columns)])
    tmp.replace(path)
    return path


def _md_cell(value) -> str:
    """A group value as Markdown table text: pipes escaped, HTML characters as entities
    (Markdown renderers pass raw HTML through), one line."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def markdown(data: ReportData) -> str:
    """One line per group and voice: counts, then each label's share with its interval."""
    from stanceframe.markdown import markdown_table

    labels = [(t, lab) for t, labs in data.tasks.items() for lab in labs]
    headers = [*data.by, "voice", "sentences", "articles", *[f"{t}: {lab}" for t, lab in labels]]
    rows = [[*map(_md_cell, r.key), r.voice, r.sentences, r.articles, *[_fmt_share(r.cells[c]) for c in labels]]
            for r in data.rows]
    return markdown_table(headers, rows, "l" * (len(data.by) + 1) + "r" * (2 + len(labels))) + "\n"


def write_markdown(data: ReportData, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(data), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the HTML page


def _roles(data: ReportData) -> tuple[int | None, int | None]:
    """(index of the --by key that makes the panels, index of the time key) or None each."""
    time = next((i for i, k in enumerate(data.by) if k in TIME_KEYS), None)
    panel = next((i for i, k in enumerate(data.by) if i != time), None)
    return panel, time


def _panel_of(key: tuple[str, ...], panel: int | None, time: int | None) -> str:
    """A group's panel: its panel key, with any further keys joined to it."""
    if panel is None:
        return "all"
    return " · ".join(v for i, v in enumerate(key) if i != time)


def panels_of(data: ReportData) -> dict[str, list]:
    """Panel name -> its rows (every time value and voice), in the data's order."""
    panel, time = _roles(data)
    panels: dict[str, list] = {}
    for row in data.rows:
        panels.setdefault(_panel_of(row.key, panel, time), []).append(row)
    return panels


def panel_evidence(data: ReportData, k: int) -> dict[str, dict[tuple[str, str], list[dict]]]:
    """Per panel and label, its ``k`` most confident sentences over the panel's groups (the
    top ``k`` of the groups' top ``k``): what the page shows and links, so that the number of
    article pages stays bounded by panels x labels x k however many groups there are."""
    out = {}
    for name, rows in panels_of(data).items():
        out[name] = {}
        for key in [(t, lab) for t, labs in data.tasks.items() for lab in labs]:
            found = {e["id"]: e for r in rows if r.voice == ALL for e in r.cells[key].evidence}
            out[name][key] = sorted(found.values(), key=lambda e: (e["p"], e["id"]), reverse=True)[:k]
    return out


def chart_svg(data: ReportData, task: str, colors: dict[str, str], voice: str = ALL) -> str:
    """Small multiples (one per panel) of ``task``'s label shares in ``voice``, with 95 %
    Wilson intervals: over time when a --by key is a time key, else one bar per label."""
    import altair as alt
    import vl_convert

    panel, time = _roles(data)
    records = []
    for row in data.rows:
        if row.voice != voice:
            continue
        for label in data.tasks[task]:
            cell = row.cells[(task, label)]
            records.append({"panel": _panel_of(row.key, panel, time), "time": row.key[time] if time is not None else "",
                            "label": label, "share": cell.share, "low": cell.low, "high": cell.high,
                            "n": row.sentences})
    labels = data.tasks[task]
    color = alt.Color("label:N", title=task, scale=alt.Scale(domain=labels, range=[colors[lab] for lab in labels]))
    base = alt.Chart(alt.Data(values=records)).properties(width=CHART_WIDTH, height=CHART_HEIGHT)
    share = alt.Y("share:Q", title="share of sentences", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"))
    tooltip = ["panel:N", "time:N", "label:N", alt.Tooltip("share:Q", format=".1%"), "n:Q"]
    if time is not None:
        x = alt.X("time:O", title=data.by[time], sort="ascending")
        layers = [base.mark_area(opacity=0.15).encode(x=x, y="low:Q", y2="high:Q", color=color),
                  base.mark_line(point=True).encode(x=x, y=share, color=color, tooltip=tooltip)]
    else:
        x = alt.X("label:N", title=None, sort=labels)
        layers = [base.mark_bar().encode(x=x, y=share, color=color, tooltip=tooltip),
                  base.mark_rule(color="#111827").encode(x=x, y="low:Q", y2="high:Q")]
    chart = alt.layer(*layers).facet(facet=alt.Facet("panel:N", title=None), columns=CHART_COLUMNS)
    chart = chart.resolve_axis(x="independent")  # each panel its own axis labels, on the shared scale
    return vl_convert.vegalite_to_svg(chart.to_json())


def _svg_image(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def article_page_name(doc_id: str) -> str:
    """A safe, unique file name for a document's inspection page."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", doc_id).strip("-.")[:60] or "doc"
    return f"{slug}-{hashlib.sha1(doc_id.encode('utf-8')).hexdigest()[:10]}.html"


def _model_card(sources: Sequence[str]) -> dict:
    """What an inspection page shows as its model when it is made from tagged rows."""
    from stanceframe import __version__

    return {"name": "tagged rows", "family": "as tagged", "version": "", "stanceframe_version": __version__,
            "data_hash": "", "created": "", "source": ", ".join(sources), "run_id": ""}


def write_article_pages(data: ReportData, con, folder: Path, evidence: dict) -> dict[str, str]:
    """One inspection page per article that gives ``evidence`` (:func:`panel_evidence`);
    doc_id -> its file name."""
    from stanceframe.corpus import Document
    from stanceframe.report import write_inspection_html
    from stanceframe.report_data import article_rows
    from stanceframe.tagging.tagger import ArticleTags

    wanted = sorted({e["doc_id"] for cells in evidence.values() for found in cells.values() for e in found})
    pages = {}
    model = _model_card(data.sources)
    for doc_id, rows in article_rows(con, wanted).items():
        for row in rows:
            for key in ("paragraph", "sentence"):
                row[key] = row.get(key) if row.get(key) is not None else 0
        doc = Document(doc_id, "", str(rows[0].get("source") or rows[0].get("url") or ""))
        name = article_page_name(doc_id)
        write_inspection_html(ArticleTags(doc, rows, data.tasks, {}, model), folder / name)
        pages[doc_id] = name
    return pages


def render_html(data: ReportData, *, evidence: dict, pages: dict[str, str], pages_folder: str,
                generated: str | None = None) -> str:
    import datetime as dt

    from jinja2 import Environment, PackageLoader, StrictUndefined

    from stanceframe.report import _task_roles, label_colors

    env = Environment(loader=PackageLoader("stanceframe", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    colors = label_colors(data.tasks)
    frame, stance = _task_roles(data.tasks)
    charts = [{"title": f"{frame}: share of sentences (all voices)", "src": _svg_image(chart_svg(data, frame, colors[frame]))}]
    for voice in data.voices:
        charts.append({"title": f"{frame}: in the {voice} voice" if voice != "quote" else f"{frame}: in quotations",
                       "src": _svg_image(chart_svg(data, frame, colors[frame], voice))})
    _, time = _roles(data)

    def href(evidence: dict) -> str | None:
        name = pages.get(evidence["doc_id"])
        if name is None:
            return None
        return f"{urllib.parse.quote(pages_folder)}/{urllib.parse.quote(name)}#s-{urllib.parse.quote(evidence['id'], safe='')}"

    generated = generated or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return env.get_template("corpus_report.html").render(
        data=data, charts=charts, panels=panels_of(data), evidence=evidence, colors=colors, frame_task=frame, stance_task=stance,
        time_key=data.by[time] if time is not None else None, href=href, generated=generated,
        labels=[(t, lab) for t, labs in data.tasks.items() for lab in labs], all_voices=ALL,
    )


def write_html(data: ReportData, con, path: str | Path, generated: str | None = None, evidence_k: int = 3) -> Path:
    """The page at ``path`` and its inspection pages in ``<stem>_articles/`` beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder_name = f"{path.stem}_articles"
    evidence = panel_evidence(data, evidence_k)
    pages = write_article_pages(data, con, path.parent / folder_name, evidence)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(data, evidence=evidence, pages=pages, pages_folder=folder_name, generated=generated),
                   encoding="utf-8")
    tmp.replace(path)
    return path
