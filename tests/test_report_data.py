"""report_data.py: DuckDB's figures over tag's rows in every format (JSONL, CSV, Parquet, a
Spark output folder) checked against pandas, Wilson intervals, time keys, voices, evidence,
and the errors a user can make."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from support.tagged_rows import TASKS, tagged_rows, write_rows

from stanceframe.errors import StanceframeError
from stanceframe.report_data import ALL, build_report, wilson


def test_wilson_interval_known_values():
    low, high = wilson(5, 10)
    assert math.isclose(low, 0.2366, abs_tol=1e-4) and math.isclose(high, 0.7634, abs_tol=1e-4)
    low, high = wilson(0, 10)
    assert low == 0.0 and math.isclose(high, 0.2775, abs_tol=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(81, 263)  # Wilson (1927)'s example, as in Newcombe (1998): 0.2553 to 0.3662
    assert math.isclose(low, 0.2553, abs_tol=1e-4) and math.isclose(high, 0.3662, abs_tol=1e-4)


def _expected(rows: list[dict]) -> dict:
    """(outlet, month, voice) -> (sentences, articles, {(task, label): count}) by pandas."""
    frame = pd.DataFrame(rows)
    frame["month"] = frame["date"].str[:7]
    out = {}
    for voice_split in (False, True):
        keys = ["outlet", "month"] + (["voice"] if voice_split else [])
        for key, part in frame.groupby(keys):
            counts = {(t, lab): int((part[t] == lab).sum()) for t, labs in TASKS.items() for lab in labs}
            out[(key[0], key[1], key[2] if voice_split else ALL)] = (len(part), part["doc_id"].nunique(), counts)
    return out


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "spark"])
def test_figures_match_pandas_in_every_input_format(tmp_path, fmt):
    rows = tagged_rows()
    path = write_rows(rows, tmp_path / (f"rows.{fmt}" if fmt != "spark" else "spark-out"), fmt)
    data = build_report([path], ["outlet", "month"])
    assert data.tasks == TASKS and data.n_sentences == len(rows)
    expected = _expected(rows)
    assert {(*r.key, r.voice) for r in data.rows} == set(expected)
    for r in data.rows:
        sentences, articles, counts = expected[(*r.key, r.voice)]
        assert (r.sentences, r.articles) == (sentences, articles)
        for (task, label), cell in r.cells.items():
            assert cell.count == counts[(task, label)]
            assert math.isclose(cell.share, cell.count / sentences)
            assert (cell.low, cell.high) == wilson(cell.count, sentences)
            assert cell.low <= cell.share <= cell.high


def test_evidence_is_the_most_confident_sentences_of_each_cell(tmp_path):
    rows = tagged_rows()
    data = build_report([write_rows(rows, tmp_path / "r.jsonl")], ["outlet"], evidence=2)
    for r in data.rows:
        mine = [x for x in rows if x["outlet"] == r.key[0] and (r.voice == ALL or x["voice"] == r.voice)]
        for (task, label), cell in r.cells.items():
            ranked = sorted((x for x in mine if x[task] == label), key=lambda x: (-x[f"p_{task}_{label}"], x["id"]))
            assert [e["id"] for e in cell.evidence] == [x["id"] for x in ranked[:2]]
            assert all(e["text"] and e["doc_id"] for e in cell.evidence)


def test_groups_by_any_column_and_by_year_and_several_files_together(tmp_path):
    rows = tagged_rows()
    a = write_rows(rows[:100], tmp_path / "a.jsonl")
    b = write_rows(rows[100:], tmp_path / "b.parquet")
    by_voice = build_report([a, b], ["voice"])
    assert {r.key for r in by_voice.rows} == {("mixed",), ("narrator",), ("quote",)}
    assert sum(r.sentences for r in by_voice.rows if r.voice == ALL) == len(rows)
    by_year = build_report([a, b], ["year", "doc_id"])
    assert {r.key[0] for r in by_year.rows} == {"2024"} and len({r.key for r in by_year.rows}) == 24
    whole = build_report([a, b])
    assert [r.key for r in whole.rows if r.voice == ALL] == [()] and whole.n_sentences == len(rows)


def test_rows_without_a_voice_or_a_date_column(tmp_path):
    rows = [{k: v for k, v in r.items() if k not in ("voice", "date")} for r in tagged_rows()]
    path = write_rows(rows, tmp_path / "old.jsonl")
    data = build_report([path], ["outlet"])
    assert {r.voice for r in data.rows} == {ALL} and not data.has_voice
    with pytest.raises(StanceframeError, match="--by month: .*no date column"):
        build_report([path], ["month"])


@pytest.mark.parametrize("case, message", [
    ("missing-column", "--by outlet2: .* no column 'outlet2'"),
    ("per-article", "not tag's sentence rows .*--per article"),
    ("no-file", "no such file or folder"),
    ("suffix", r"report reads tag's rows as \.jsonl"),
    ("bad-json", "cannot read as tag's rows"),
])
def test_user_mistakes_are_one_line_errors(tmp_path, case, message):
    good = write_rows(tagged_rows(3, 2), tmp_path / "r.jsonl")
    path, by = good, ["outlet"]
    if case == "missing-column":
        by = ["outlet2"]
    elif case == "per-article":
        path = write_rows([{"doc_id": "d", "source": "x", "n_sentences": 3, "n_framing_neutral": 3}],
                          tmp_path / "articles.jsonl")
    elif case == "no-file":
        path = tmp_path / "nothing.jsonl"
    elif case == "suffix":
        path = tmp_path / "rows.txt"
        path.write_text("x")
    elif case == "bad-json":
        path = tmp_path / "bad.jsonl"
        path.write_text('{"doc_id": "d", "id": \n')
    with pytest.raises(StanceframeError, match=message) as err:
        build_report([path], by)
    assert "\n" not in str(err.value)


def test_a_catalog_joined_on_doc_id_gives_columns_to_group_by(tmp_path):
    rows = [{k: v for k, v in r.items() if k not in ("outlet", "date")} for r in tagged_rows()]
    path = write_rows(rows, tmp_path / "r.jsonl")
    catalog = write_rows([{"doc_id": f"doc{d}", "voice": f"writer-{d % 2}", "date": f"202{d % 3}-05-01"}
                          for d in range(24)], tmp_path / "catalog.jsonl")
    data = build_report([path], ["outlet", "year"], meta=catalog, meta_fields=["voice:outlet", "date"])
    assert {r.key for r in data.rows} == {(f"writer-{w}", f"202{y}") for w in range(2) for y in range(3)}
    assert data.voices == ["narrator", "quote", "mixed"]  # the rows' voice column is kept
    with pytest.raises(StanceframeError, match="already have a column 'voice'"):
        build_report([path], ["outlet"], meta=catalog, meta_fields=["voice"])
    # tag's metadata columns (empty for a .txt article) are filled from the catalog, a row's own value first
    own = [{**r, "outlet": "page-outlet" if r["doc_id"] == "doc0" else None, "date": None} for r in rows]
    data = build_report([write_rows(own, tmp_path / "own.jsonl")], ["outlet"], meta=catalog,
                        meta_fields=["voice:outlet", "date"])
    assert {r.key for r in data.rows} == {("page-outlet",), ("writer-0",), ("writer-1",)}
    twice = write_rows([{"doc_id": "doc1", "x": 1}, {"doc_id": "doc1", "x": 2}], tmp_path / "twice.jsonl")
    with pytest.raises(StanceframeError, match="more than once"):
        build_report([path], meta=twice)
