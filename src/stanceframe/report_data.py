"""The figures of ``stanceframe report``, computed by DuckDB over ``tag``'s sentence rows
(JSONL, CSV, Parquet files, or a Spark output folder) in one scan with bounded memory:
per group (``--by`` columns; ``month``/``year``/``day`` from ``date``) and per voice, the
sentences, the articles, each label's count and share with its 95 % Wilson interval, and the
most confident sentences predicted with it (the evidence)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from stanceframe.errors import StanceframeError

EVIDENCE = 3  # sentences per cell
Z95 = 1.959963984540054  # the normal quantile of a two-sided 95 % interval
TIME_KEYS = {"month": "%Y-%m", "year": "%Y", "day": "%Y-%m-%d"}  # derived from the date column
ALL = "all"  # the voice of a group's row over every voice
NONE = "(none)"  # a group value that is missing
MEMORY_LIMIT = "1GB"  # DuckDB spills to disk beyond this
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass
class Cell:
    """One label's figures in one group and voice."""

    task: str
    label: str
    count: int
    share: float
    low: float
    high: float
    evidence: list[dict]  # id, doc_id, text, p, voice: most confident first


@dataclass
class GroupRow:
    """One group (its ``--by`` values) in one voice (``all`` or a voice)."""

    key: tuple[str, ...]
    voice: str
    sentences: int
    articles: int
    cells: dict[tuple[str, str], Cell]


@dataclass
class ReportData:
    by: list[str]
    tasks: dict[str, list[str]]  # task -> labels, in the files' column order
    rows: list[GroupRow]  # sorted by key, then voice (all first)
    sources: list[str]
    n_sentences: int = 0
    has_voice: bool = True
    voices: list[str] = field(default_factory=list)


def wilson(count: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``count`` successes in ``n`` trials (0, 1 when n is 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = count / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if count == 0 else max(0.0, centre - half)  # exactly 0 and 1 at the ends (no rounding residue)
    high = 1.0 if count == n else min(1.0, centre + half)
    return low, high


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _reader(path: Path) -> str:
    """The DuckDB table function reading one input: a file by its suffix, or a folder of
    Parquet files (a Spark output, partition folders included)."""
    if path.is_dir():
        if not any(path.rglob("*.parquet")):
            raise StanceframeError(f"{path}: a folder without Parquet files (report reads tag's output: JSONL, "
                                   "CSV, Parquet or a Spark output folder)")
        return f"read_parquet({_literal(str(path / '**' / '*.parquet'))}, hive_partitioning = true, union_by_name = true)"
    if not path.exists():
        raise StanceframeError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return f"read_parquet({_literal(str(path))})"
    if suffix in JSON_SUFFIXES:
        return f"read_json({_literal(str(path))}, format = 'newline_delimited', sample_size = -1)"
    if suffix == ".csv":
        return f"read_csv({_literal(str(path))}, header = true, sample_size = -1)"
    raise StanceframeError(f"{path}: report reads tag's rows as .jsonl, .csv, .parquet or a Spark output folder")


def connect(memory_limit: str = MEMORY_LIMIT, temp_directory: str | None = None):
    """A DuckDB connection with bounded memory (spilling to ``temp_directory``)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = {_literal(memory_limit)}")
    con.execute("SET preserve_insertion_order = false")
    if temp_directory:
        con.execute(f"SET temp_directory = {_literal(temp_directory)}")
    return con


def open_rows(con, paths: Sequence[str | Path], meta: str | Path | None = None,
              meta_fields: Sequence[str] = ()) -> list[str]:
    """Create the view ``tagged`` over every input (columns matched by name), with the
    fields of ``meta`` (a JSONL/CSV/Parquet file of one row per ``doc_id``: a catalog)
    joined on ``doc_id``; its columns. ``meta_fields``: ``NAME`` or ``NAME:AS`` (default:
    every field of ``meta`` that the rows do not have)."""
    if not paths:
        raise StanceframeError("report needs tag's output: one or more files or folders")
    selects = [f"SELECT * FROM {_reader(Path(p))}" for p in paths]
    with read_errors(paths):
        con.execute("CREATE OR REPLACE VIEW tagged_rows AS " + " UNION ALL BY NAME ".join(selects))
        columns = [row[0] for row in con.execute("DESCRIBE tagged_rows").fetchall()]
    joined = " t.* FROM tagged_rows t"
    if meta is not None:
        joined = _meta_join(con, Path(meta), meta_fields, columns)
    con.execute(f"CREATE OR REPLACE VIEW tagged AS SELECT{joined}")
    return [row[0] for row in con.execute("DESCRIBE tagged").fetchall()]


def _meta_join(con, meta: Path, fields: Sequence[str], columns: Sequence[str]) -> str:
    """The select list and join that add ``meta``'s fields to the rows (checked)."""
    with read_errors([meta]):
        con.execute(f"CREATE OR REPLACE VIEW meta AS SELECT * FROM {_reader(meta)}")
        have = [row[0] for row in con.execute("DESCRIBE meta").fetchall()]
        if "doc_id" not in have:
            raise StanceframeError(f"{meta}: no doc_id field (--meta joins one row per doc_id)")
        rows, docs = con.execute("SELECT count(*), count(DISTINCT doc_id) FROM meta").fetchone()
    if rows != docs:
        raise StanceframeError(f"{meta}: {rows - docs} doc_id(s) appear more than once (--meta needs one row each)")
    pairs = [tuple(f.split(":", 1)) if ":" in f else (f, f) for f in fields] or \
        [(c, c) for c in have if c != "doc_id" and c not in columns]
    from stanceframe.tagging.rows import META_COLUMNS

    for name, alias in pairs:
        if name not in have:
            raise StanceframeError(f"--meta-field {name}: {meta} has no field {name!r} (fields: {', '.join(have)})")
        if alias in columns and alias not in META_COLUMNS:
            raise StanceframeError(f"--meta-field {name}: the rows already have a column {alias!r}; "
                                   f"name it otherwise ({name}:OTHER)")
    # a column the rows already have (tag's outlet, date... from a page or a record) keeps its value and
    # the catalog fills the rows where it is empty (a .txt article has no outlet of its own)
    shared = [a for _, a in pairs if a in columns]
    star = f" t.* EXCLUDE ({', '.join(_quote(a) for a in shared)})" if shared else " t.*"
    select = "".join(f", COALESCE(CAST(t.{_quote(a)} AS VARCHAR), CAST(m.{_quote(n)} AS VARCHAR)) AS {_quote(a)}"
                     if a in columns else f", m.{_quote(n)} AS {_quote(a)}" for n, a in pairs)
    return (f"{star}{select} FROM tagged_rows t LEFT JOIN meta m "
            "ON CAST(t.doc_id AS VARCHAR) = CAST(m.doc_id AS VARCHAR)")


@contextmanager
def read_errors(paths: Sequence[str | Path]):
    """DuckDB's errors (a file it cannot parse, a type it cannot cast) as one-line user errors."""
    import duckdb

    try:
        yield
    except duckdb.Error as exc:
        raise StanceframeError(f"{', '.join(map(str, paths))}: cannot read as tag's rows: "
                               f"{str(exc).splitlines()[0]}") from None


def tasks_of(columns: Sequence[str], where: str) -> dict[str, list[str]]:
    """task -> labels from ``<task>`` and ``p_<task>_<label>`` columns (tag's sentence rows)."""
    tasks = {}
    for task in columns:
        labels = [c[len(task) + 3:] for c in columns if c.startswith(f"p_{task}_")]
        if labels and not task.startswith(("p_", "n_", "share_", "mean_p_", "top_")):
            tasks[task] = labels
    if not tasks or "doc_id" not in columns or "id" not in columns:
        hint = " (this looks like tag --per article output)" if "n_sentences" in columns else ""
        raise StanceframeError(f"{where}: not tag's sentence rows{hint}: need doc_id, id, <task> and "
                               f"p_<task>_<label> columns; found {', '.join(columns[:20])}")
    return tasks


def group_expression(key: str, columns: Sequence[str], where: str) -> str:
    if key in TIME_KEYS:
        if "date" not in columns:
            raise StanceframeError(f"--by {key}: {where} have no date column (tag --meta-field date; "
                                   f"columns: {', '.join(columns[:20])})")
        day = "TRY_CAST(left(CAST(date AS VARCHAR), 10) AS DATE)"
        return f"coalesce(strftime({day}, {_literal(TIME_KEYS[key])}), {_literal(NONE)})"
    if key not in columns:
        raise StanceframeError(f"--by {key}: {where} have no column {key!r} (columns: {', '.join(columns[:20])})")
    return f"coalesce(nullif(CAST({_quote(key)} AS VARCHAR), ''), {_literal(NONE)})"


def build_report(paths: Sequence[str | Path], by: Sequence[str] = (), *, evidence: int = EVIDENCE,
                 meta: str | Path | None = None, meta_fields: Sequence[str] = (),
                 memory_limit: str = MEMORY_LIMIT, temp_directory: str | None = None, con=None) -> ReportData:
    """The report's figures over the rows of ``paths`` (with ``meta`` joined: see
    :func:`open_rows`), grouped by ``by``."""
    con = con or connect(memory_limit, temp_directory)
    columns = open_rows(con, paths, meta, meta_fields)
    where = ", ".join(map(str, paths))
    tasks = tasks_of(columns, where)
    by = list(dict.fromkeys(by))
    keys = [f"{group_expression(k, columns, where)} AS g{i}" for i, k in enumerate(by)]
    has_voice = "voice" in columns
    voice = "coalesce(voice, 'narrator')" if has_voice else "NULL"
    aggregates = ["count(*) AS sentences", "count(DISTINCT doc_id) AS articles"]
    for t, (task, labels) in enumerate(tasks.items()):
        for k, label in enumerate(labels):
            cond = f"{_quote(task)} = {_literal(label)}"
            p = _quote(f"p_{task}_{label}")
            aggregates.append(f"count(*) FILTER (WHERE {cond}) AS c_{t}_{k}")
            aggregates.append(
                f"max_by(struct_pack(id := CAST(id AS VARCHAR), doc_id := CAST(doc_id AS VARCHAR), "
                f"text := CAST(text AS VARCHAR), p := CAST({p} AS DOUBLE), v := v), "
                f"struct_pack(p := CAST({p} AS DOUBLE), id := CAST(id AS VARCHAR)), {int(evidence)}) "
                f"FILTER (WHERE {cond}) AS e_{t}_{k}")
    gcols = [f"g{i}" for i in range(len(by))]
    sets = [f"({', '.join([*gcols, 'v'])})"] + ([f"({', '.join(gcols)})"] if has_voice else [])
    inner = ", ".join([*keys, f"{voice} AS v", "*"])
    sql = (f"SELECT {', '.join([*gcols, 'v', 'GROUPING(v) AS all_voices', *aggregates])} "
           f"FROM (SELECT {inner} FROM tagged) GROUP BY GROUPING SETS ({', '.join(sets)})")
    with read_errors(paths):
        result = con.execute(sql)
        names = [d[0] for d in result.description]
        records = result.fetchall()
    rows = []
    for record in records:
        values = dict(zip(names, record))
        key = tuple(str(values[g]) for g in gcols)
        n = int(values["sentences"])
        cells = {}
        for t, (task, labels) in enumerate(tasks.items()):
            for k, label in enumerate(labels):
                count = int(values[f"c_{t}_{k}"])
                low, high = wilson(count, n)
                found = values[f"e_{t}_{k}"] or []
                cells[(task, label)] = Cell(task, label, count, count / n if n else 0.0, low, high,
                                            [{"id": e["id"], "doc_id": e["doc_id"], "text": e["text"], "p": e["p"],
                                              "voice": e["v"]} for e in found])
        rows.append(GroupRow(key, ALL if values["all_voices"] or not has_voice else str(values["v"]), n,
                             int(values["articles"]), cells))
    voice_order = {ALL: 0, "narrator": 1, "quote": 2, "mixed": 3}
    rows.sort(key=lambda r: (r.key, voice_order.get(r.voice, 9), r.voice))
    voices = sorted({r.voice for r in rows} - {ALL}, key=lambda v: (voice_order.get(v, 9), v))
    return ReportData(by, tasks, rows, [str(p) for p in paths],
                      sum(r.sentences for r in rows if r.voice == ALL), has_voice, voices)


def article_rows(con, doc_ids: Sequence[str]) -> dict[str, list[dict]]:
    """The sentence rows of the articles ``doc_ids`` (for their inspection pages), in
    paragraph and sentence order: one more scan, whatever the number of articles."""
    if not doc_ids:
        return {}
    con.execute("CREATE OR REPLACE TEMP TABLE wanted (doc_id VARCHAR)")
    con.executemany("INSERT INTO wanted VALUES (?)", [[d] for d in doc_ids])
    result = con.execute("SELECT t.* FROM tagged t JOIN wanted w ON CAST(t.doc_id AS VARCHAR) = w.doc_id "
                         "ORDER BY t.doc_id, t.paragraph, t.sentence, t.start, t.id")
    names = [d[0] for d in result.description]
    out: dict[str, list[dict]] = {}
    for record in result.fetchall():
        row = dict(zip(names, record))
        out.setdefault(str(row["doc_id"]), []).append(row)
    return out
