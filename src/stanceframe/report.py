"""Terminal tables, plots and the self-contained HTML inspection page (no predictions here)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from pathlib import Path

from stanceframe.safe_paths import check_output_file, replace_file
from stanceframe.terminal import printable


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain fixed-width table (numbers right-aligned)."""
    cells = [[printable(h) for h in headers]] + [[printable(_fmt(c)) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in rows) if rows else False for i in range(len(headers))]

    def line(row):
        return "  ".join(c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def label_stats_table(sets) -> str:
    """Label counts per task and label, one column per labelled file (and the total)."""
    tasks = []
    for s in sets:
        tasks += [t for t in s.tasks if t not in tasks]
    headers = ["task", "label"] + _file_columns([getattr(s, "paths", ["?"])[0] for s in sets]) + ["total"]
    rows = []
    for task in tasks:
        labels = []
        for s in sets:
            if task in s.tasks:
                labels += [lab for lab in s.label_counts(task) if lab not in labels]
        for label in labels:
            counts = [s.label_counts(task).get(label, 0) if task in s.tasks else 0 for s in sets]
            rows.append([task, label, *counts, sum(counts)])
    rows.append(["all", "sentences", *[len(s) for s in sets], sum(len(s) for s in sets)])
    return format_table(headers, rows)


def catalog_stats_table(labelled, catalog: dict[str, dict], field: str) -> str:
    """Articles, sentences and label counts per value of a catalog ``field`` (``year``: the
    year of ``date``), most sentences first."""
    def value(doc: str) -> str:
        row = catalog.get(doc) or {}
        raw = str(row.get("date", ""))[:4] if field == "year" else row.get(field, "")
        return str(raw) or "(no catalog row)"

    groups: dict[str, list] = {}
    for e in labelled.examples:
        groups.setdefault(value(e.doc), []).append(e)
    columns = [(t, lab) for t in labelled.tasks for lab in labelled.label_counts(t)]
    rows = []
    for key, examples in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        rows.append([key, len({e.doc for e in examples}), len(examples),
                     *[sum(e.labels[t] == lab for e in examples) for t, lab in columns]])
    rows.append(["all", len({e.doc for e in labelled.examples}), len(labelled),
                 *[labelled.label_counts(t)[lab] for t, lab in columns]])
    return format_table([field, "articles", "sentences", *[lab for _, lab in columns]], rows)


def _file_columns(paths: Sequence[str]) -> list[str]:
    """Column names for labelled files: the file name, or ``folder/name`` where two files
    share a name (``seed/labels.jsonl``, ``written/labels.jsonl``)."""
    names = [p.replace("\\", "/").rsplit("/", 1)[-1] for p in paths]
    return ["/".join(p.replace("\\", "/").rsplit("/", 2)[-2:]) if names.count(n) > 1 else n
            for p, n in zip(paths, names)]


# --------------------------------------------------------------------------- inspect: terminal

TEXT_WIDTH = 72


def sentence_table(rows: Sequence[dict], classes: dict, text_width: int = TEXT_WIDTH) -> str:
    """An article's sentences with each task's label and its probability."""
    tasks = list(classes)
    headers = ["#"]
    for task in tasks:
        headers += [task, f"p({task})"]
    headers.append("text")
    table = []
    for row in rows:
        cells = [f"p{row['paragraph']}.s{row['sentence']}"]
        for task in tasks:
            cells += [row[task], row[f"p_{task}_{row[task]}"]]
        text = row["text"]
        cells.append(text if len(text) <= text_width else text[: text_width - 1] + "…")
        table.append(cells)
    return format_table(headers, table)


# --------------------------------------------------------------------------- inspect: HTML page

# Colours by label name where the name says what it is; other labels take the palette in order.
LABEL_COLORS = {
    "western": "#2563eb", "russian": "#dc2626", "support": "#ea580c", "restraint": "#0d9488",
}
NEUTRAL_LABELS = {"neutral", "none", "other", "no_position", "unclear"}
NEUTRAL_COLOR = "#94a3b8"
PALETTE = ["#7c3aed", "#16a34a", "#d97706", "#db2777", "#0891b2", "#4d7c0f", "#9333ea", "#be123c"]
CHART_WIDTH = 1000


def label_colors(classes: dict) -> dict:
    """task -> label -> colour (hex)."""
    colors, spare = {}, itertools.cycle(PALETTE)  # any number of labels: the palette again
    for task, labels in classes.items():
        colors[task] = {}
        for label in labels:
            if label in NEUTRAL_LABELS:
                colors[task][label] = NEUTRAL_COLOR
            elif label in LABEL_COLORS and LABEL_COLORS[label] not in colors[task].values():
                colors[task][label] = LABEL_COLORS[label]
            else:
                colors[task][label] = next(spare)
    return colors


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha:.3f})"


def strength(p: float, n_labels: int) -> float:
    """0 at chance (1/n_labels), 1 at certainty."""
    floor = 1.0 / max(n_labels, 2)
    return min(1.0, max(0.0, (p - floor) / (1.0 - floor)))


def _highlight_style(row: dict, frame_task: str, stance_task: str | None, classes, colors) -> str:
    label = row[frame_task]
    s = strength(row[f"p_{frame_task}_{label}"], len(classes[frame_task]))
    alpha = (0.03 + 0.09 * s) if label in NEUTRAL_LABELS else (0.10 + 0.36 * s)
    style = f"background-color: {_rgba(colors[frame_task][label], alpha)};"
    if stance_task:
        stance = row[stance_task]
        if stance not in NEUTRAL_LABELS:
            t = strength(row[f"p_{stance_task}_{stance}"], len(classes[stance_task]))
            style += f" text-decoration-color: {_rgba(colors[stance_task][stance], 0.35 + 0.65 * t)};"
    return style


def _task_roles(classes: dict) -> tuple[str, str | None]:
    """(the task that colours the highlight, the task that underlines): framing and stance
    when the model has them, else the first and second task."""
    tasks = list(classes)
    frame = "framing" if "framing" in classes else tasks[0]
    others = [t for t in tasks if t != frame]
    stance = "stance" if "stance" in others else (others[0] if others else None)
    return frame, stance


def _chart(rows: Sequence[dict], classes: dict, colors: dict) -> dict:
    """Geometry of the along-the-article chart: per task a line of each non-neutral label's
    probability over the sentences, and a strip of cells coloured by the predicted label."""
    n = max(len(rows), 1)
    width = CHART_WIDTH
    step = width / n
    line_h, strip_h, gap = 54, 16, 26
    tracks, y = [], 8
    for task, labels in classes.items():
        lines = []
        for label in labels:
            if label in NEUTRAL_LABELS:
                continue
            pts = " ".join(
                f"{(i + 0.5) * step:.1f},{y + line_h - row[f'p_{task}_{label}'] * line_h:.1f}" for i, row in enumerate(rows)
            )
            lines.append({"label": label, "color": colors[task][label], "points": pts})
        cells = []
        for i, row in enumerate(rows):
            label = row[task]
            p = row[f"p_{task}_{label}"]
            cells.append({
                "x": f"{i * step:.2f}", "w": f"{max(step - 0.6, 0.6):.2f}", "id": row["id"],
                "color": colors[task][label], "opacity": f"{0.25 + 0.75 * strength(p, len(labels)):.3f}",
                "title": f"{row['id']}: {task} {label} {p:.3f} — {row['text'][:140]}",
            })
        tracks.append({"task": task, "y": y, "line_h": line_h, "strip_y": y + line_h + 4, "strip_h": strip_h,
                       "lines": lines, "cells": cells, "label_y": y + 11})
        y += line_h + 4 + strip_h + gap
    breaks = [f"{i * step:.2f}" for i in range(1, len(rows)) if rows[i]["paragraph"] != rows[i - 1]["paragraph"]]
    return {"width": width, "height": y - gap + 18, "tracks": tracks, "breaks": breaks, "n": len(rows),
            "axis_y": y - gap + 14}


def _summary(rows: Sequence[dict], classes: dict, colors: dict) -> list[dict]:
    n = max(len(rows), 1)
    out = []
    for task, labels in classes.items():
        parts = []
        for label in labels:
            count = sum(1 for r in rows if r[task] == label)
            mean_p = sum(r[f"p_{task}_{label}"] for r in rows) / n
            parts.append({"label": label, "count": count, "share": count / n, "mean_p": mean_p,
                          "color": colors[task][label]})
        out.append({"task": task, "parts": parts})
    return out


def _paragraphs(rows: Sequence[dict], frame: str, stance: str | None, classes, colors) -> list[list[dict]]:
    paragraphs: list[list[dict]] = []
    last = object()
    for row in rows:
        if row["paragraph"] != last:
            paragraphs.append([])
            last = row["paragraph"]
        tooltip = " · ".join(f"{t}: {row[t]} {row[f'p_{t}_{row[t]}']:.3f}" for t in classes)
        # data-<task>="<label>" and data-p-<task>-<label>="<probability as tag writes it>";
        # names are sanitised (autoescape protects attribute values, not attribute names)
        attrs = [(f"data-{_attr_name(t)}", row[t]) for t in classes]
        attrs += [(f"data-p-{_attr_name(t)}-{_attr_name(label)}", repr(float(row[f"p_{t}_{label}"])))
                  for t, labels in classes.items() for label in labels]
        paragraphs[-1].append({"row": row, "style": _highlight_style(row, frame, stance, classes, colors),
                               "tooltip": tooltip, "attrs": attrs, "labels": {t: row[t] for t in classes}})
    return paragraphs


def _attr_name(value: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "_", str(value).lower()) or "_"


def _title(rows: Sequence[dict]) -> str:
    """The article's first paragraph when it is a one-sentence headline, else its doc id."""
    first = [r for r in rows if r["paragraph"] == rows[0]["paragraph"]] if rows else []
    if len(first) == 1 and len(first[0]["text"]) <= 160:
        return first[0]["text"]
    return rows[0]["doc_id"] if rows else "article"


def _page_data(article, colors: dict) -> dict:
    """What the page's script reads: every sentence's labels, probabilities and words."""
    sentences = []
    for row in article.rows:
        sentences.append({
            "id": row["id"], "paragraph": row["paragraph"], "sentence": row["sentence"], "text": row["text"],
            "labels": {t: row[t] for t in article.classes},
            "p": {t: {label: row[f"p_{t}_{label}"] for label in labels} for t, labels in article.classes.items()},
            "why": {t: [[term, weight] for term, weight in terms]
                    for t, terms in article.explanations.get(row["id"], {}).items()},
        })
    return {"classes": article.classes, "colors": colors, "sentences": sentences}


def render_inspection_html(article, generated: str | None = None) -> str:
    """One self-contained page (inline CSS, JS and SVG; no network requests) for an
    :class:`stanceframe.tagging.ArticleTags`. All article text goes through Jinja2's
    autoescape; the embedded JSON through ``tojson`` (``<``, ``>``, ``&``, ``'`` escaped)."""
    import datetime as dt

    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("stanceframe", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    colors = label_colors(article.classes)
    frame, stance = _task_roles(article.classes)
    generated = generated or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return env.get_template("inspect.html").render(
        doc=article.doc, rows=article.rows, classes=article.classes, model=article.model, colors=colors,
        frame_task=frame, stance_task=stance, generated=generated, title=_title(article.rows),
        neutral_labels=NEUTRAL_LABELS,
        paragraphs=_paragraphs(article.rows, frame, stance, article.classes, colors),
        chart=_chart(article.rows, article.classes, colors),
        summary=_summary(article.rows, article.classes, colors),
        data=_page_data(article, colors),
        has_explanations=any(article.explanations.values()),
    )


GENERATOR_MARK = b'<meta name="generator" content="stanceframe '  # in every page inspect writes


def write_inspection_html(article, path, inputs: Sequence[str | Path] = ()) -> Path:
    """Write the page atomically (a new file renamed into place) at ``path``: a new file or
    an earlier inspection page, never one of ``inputs``, a link or a device; returns its path."""
    path = check_page_path(path, inputs)
    return replace_file(path, lambda handle: handle.write(render_inspection_html(article)))


def check_page_path(path, inputs: Sequence[str | Path] = ()) -> Path:
    """``path`` if an inspection page may be written there (see :func:`write_inspection_html`),
    else one line naming why not."""
    return check_output_file(path, what="--html", inputs=[i for i in inputs if str(i) != "-"],
                             own=is_inspection_page, not_own="is not a page stanceframe inspect wrote")


def is_inspection_page(path: Path) -> bool:
    """``path`` is empty or a page that ``inspect`` wrote (its generator line)."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    return not head or GENERATOR_MARK in head


def default_page_path(doc_id: str) -> Path:
    """Where ``inspect --open`` writes without ``--html``: ``<doc id>.inspect.html`` in the
    current folder, the id made safe for a file name (``../x`` or ``/etc/x`` stay here)."""
    from stanceframe.corpus.ids import safe_id

    name = safe_id(doc_id).lstrip(".") or "article"
    return Path(f"{name}.inspect.html")
