"""The spark package: ``tag --engine spark`` on local[2] writes the local engine's rows,
reports bad records as the local engine does, partitions its Parquet output, reads Parquet.

One SparkSession for the module (starting the JVM and the first Python workers is most of
the cost); the inputs are a few hundred generated articles built once per module.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import run_cli, run_process
from support.tagging import corpus_records, gold_sentences, read_jsonl, write_jsonl
from support.web import news_page, write_warc

from stanceframe.errors import StanceframeError
from stanceframe.models.loading import model_classes
from stanceframe.tagging import run_tag
from stanceframe.tagging.rows import sentence_columns

spark_test = pytest.mark.spark
TOLERANCE = 1e-9
DATES = ["2024-05-01", "2024-05-02", "2024-05-03"]


def java_available() -> bool:
    return shutil.which("java") is not None


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    if not java_available():
        pytest.skip("Java 17 is needed for the Spark tests: apt-get install openjdk-17-jre-headless")
    from stanceframe.spark import spark_session

    session, created = spark_session("local[2]")
    yield session
    if created:
        session.stop()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A folder of 240 articles (.txt in two desks, some .md and .html) with four bad files,
    and a JSONL feed of 200 dated articles with five bad lines and a blank one."""
    root = tmp_path_factory.mktemp("spark-inputs")
    folder = root / "articles"
    records = corpus_records(240, seed=11)
    for i, rec in enumerate(records):
        desk = folder / ("desk-a" if i % 2 else "desk-b")
        desk.mkdir(parents=True, exist_ok=True)
        if i % 20 == 0:
            (desk / f"{rec['id']}.md").write_text(f"# Report {i}\n\n{rec['text']}\n", encoding="utf-8")
        elif i % 20 == 1:
            paragraphs = "".join(f"<p>{p}</p>" for p in rec["text"].split("\n\n"))
            (desk / f"{rec['id']}.html").write_text(
                f"<html><head><script>var x = 1;</script></head><body><nav>Home | World</nav>{paragraphs}"
                f"<footer>Subscribe to our newsletter</footer></body></html>", encoding="utf-8")
        else:
            (desk / f"{rec['id']}.txt").write_text(rec["text"], encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (folder / "cp1252.txt").write_bytes(b"Seoul\x92s ministry refused lethal aid to Kyiv.")
    (folder / "furniture.txt").write_text("Subscribe to our newsletter\n|\n---\n", encoding="utf-8")

    rng = random.Random(5)
    feed = []
    for rec in corpus_records(200, seed=12):
        rec = {**rec, "date": rng.choice(DATES)}
        if rng.random() < 0.1:
            del rec["date"]
        feed.append(rec)
    for i in range(0, 200, 50):
        del feed[i]["id"]  # ids from the file name and line: feed-<line>
    lines = [json.dumps(r) for r in feed]
    bad = ['{oops', '{"id": "no-text"}', '{"id": "number", "text": 5}', '{"id": "blank", "text": "  "}', "[1, 2]"]
    for k, line in enumerate(bad):
        lines.insert(17 + 31 * k, line)
    lines.insert(90, "")
    jsonl = root / "feed.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    date_of = {}  # doc_id -> date of the feed's well-formed records
    for number, line in enumerate(lines, start=1):
        record = json.loads(line) if line.startswith('{"') else {}
        if isinstance(record.get("text"), str) and record["text"].strip():
            date_of[record.get("id") or f"feed-{number}"] = record.get("date")
    assert len(date_of) == 200
    return {"root": root, "folder": folder, "jsonl": jsonl, "feed": feed, "date_of": date_of}


def local_tag(paths, model, out: Path, **kwargs):
    """The local engine: (summary, rows, report lines)."""
    err = io.StringIO()
    summary = run_tag([str(p) for p in paths], model, out=out, stderr=err, **kwargs)
    return summary, read_jsonl(out), report_lines(err.getvalue())


def spark_tag(paths, model, out: Path, **kwargs):
    """The Spark engine: (summary, rows read back from the Parquet folder, report lines)."""
    from stanceframe.spark import run_spark_tag

    err = io.StringIO()
    summary = run_spark_tag([str(p) for p in paths], model, out=out, stderr=err, **kwargs)
    return summary, read_parquet_rows(out), report_lines(err.getvalue())


def read_parquet_rows(out: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(out).to_pylist()


def report_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("skipped ", "warning: "))]


def assert_same_rows(spark_rows: list[dict], local_rows: list[dict], columns: list[str]) -> None:
    """Same rows, order aside: same ids, every column equal, probabilities within 1e-9."""
    assert len(spark_rows) == len(local_rows)
    ours = {r["id"]: r for r in spark_rows}
    theirs = {r["id"]: r for r in local_rows}
    assert len(ours) == len(spark_rows) and ours.keys() == theirs.keys()
    for key, expected in theirs.items():
        got = ours[key]
        for col in columns:
            if col.startswith("p_"):
                assert abs(got[col] - expected[col]) <= TOLERANCE, (key, col, got[col], expected[col])
            else:
                assert got[col] == expected[col], (key, col, got[col], expected[col])


# --------------------------------------------------------------------------- the same rows as the local engine


@spark_test
def test_text_folder_gives_the_local_engines_rows_and_reports(spark, model, inputs, tmp_path):
    folder = inputs["folder"]
    local_summary, local_rows, local_report = local_tag([folder], model, tmp_path / "local.jsonl")
    summary, rows, report = spark_tag([folder], model, tmp_path / "spark")

    columns = sentence_columns(model_classes(model))
    import pyarrow.parquet as pq

    assert pq.read_schema(next((tmp_path / "spark").glob("*.parquet"))).names == columns
    assert_same_rows(rows, local_rows, columns)
    assert len({r["doc_id"] for r in rows}) == 241  # 240 articles + the cp1252 one
    assert {"desk-a__art00001", "desk-b__art00000"} <= {r["doc_id"] for r in rows}
    assert sorted(report) == sorted(local_report)
    assert f"skipped {folder / 'binary.txt'}: binary file (NUL bytes), not text" in report
    assert f"skipped {folder / 'empty.txt'}: empty file (no text)" in report
    assert f"skipped {folder / 'furniture.txt'}: no sentences (only boilerplate or punctuation)" in report
    assert any(line.startswith(f"warning: {folder / 'cp1252.txt'}: not valid UTF-8") for line in report)
    assert summary.counts() == local_summary.counts()
    assert summary.exit_code == local_summary.exit_code == 1
    assert "skipped 3" in summary.text() and "1 warning(s)" in summary.text()


@spark_test
def test_colliding_and_non_ascii_file_names_get_the_local_engines_unique_ids(spark, model, tmp_path):
    folder = tmp_path / "names"
    folder.mkdir()
    for name in ("a b.txt", "a-b.txt", "x.md", "x.txt", "Киев.txt", "!!.txt", "??.txt"):
        (folder / name).write_text("Seoul refused lethal aid.", encoding="utf-8")
    _, local_rows, _ = local_tag([folder], model, tmp_path / "local.jsonl")
    _, rows, _ = spark_tag([folder], model, tmp_path / "spark")
    ids = {r["doc_id"] for r in rows}
    assert ids == {r["doc_id"] for r in local_rows} and len(ids) == 7
    assert {"a-b", "x", "Киев"} <= ids


@spark_test
def test_bad_jsonl_records_are_reported_not_a_failed_job(spark, model, inputs, tmp_path):
    jsonl = inputs["jsonl"]
    (tmp_path / "none.jsonl").write_text("\n\n", encoding="utf-8")
    paths = [jsonl, tmp_path / "none.jsonl"]
    local_summary, local_rows, local_report = local_tag(paths, model, tmp_path / "local.jsonl")
    summary, rows, report = spark_tag(paths, model, tmp_path / "spark")

    assert_same_rows(rows, local_rows, sentence_columns(model_classes(model)))
    assert report == local_report  # input order: file by file, line by line
    assert report == [
        f"skipped {jsonl}:18: invalid JSON (Expecting property name enclosed in double quotes at column 2)",
        f"skipped {jsonl}:49: no 'text' field",
        f"skipped {jsonl}:80: 'text' is not a string",
        f"skipped {jsonl}:112: empty 'text'",
        f"skipped {jsonl}:143: expected a JSON object, got list",
        f"skipped {tmp_path / 'none.jsonl'}: empty file (no records)",
    ]
    assert summary.documents == 200 and summary.skipped == 6 and summary.exit_code == 1
    assert summary.counts() == local_summary.counts()
    assert {"feed-1", "art00001"} <= {r["doc_id"] for r in rows}  # a record without an id: <file stem>-<line>


@spark_test
def test_strict_and_record_unit_match_the_local_engine(spark, model, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cp1252.txt").write_bytes(b"Seoul\x92s ministry refused lethal aid.")
    (tmp_path / "in" / "ok.txt").write_text('Seoul refused lethal aid. Moscow welcomed it.\n\n"We will not send '
                                            'arms.\n\nOur line holds," he said. A "provocation", Moscow said.',
                                            encoding="utf-8")
    local_summary, local_rows, local_report = local_tag([tmp_path / "in"], model, tmp_path / "l.jsonl", strict=True)
    summary, rows, report = spark_tag([tmp_path / "in"], model, tmp_path / "strict", strict=True)
    assert report == local_report == [f"skipped {tmp_path / 'in' / 'cp1252.txt'}: not valid UTF-8 (byte 5); "
                                      f"decoded as cp1252 (--strict)"]
    assert_same_rows(rows, local_rows, sentence_columns(model_classes(model)))
    assert [r["voice"] for r in sorted(rows, key=lambda r: r["start"])] == [
        "narrator", "narrator", "quote", "quote", "mixed"]  # voices and quote spans as the local engine's
    assert summary.exit_code == 1 and summary.counts() == local_summary.counts()

    texts = [r["text"] for r in gold_sentences()[:40]]
    records = [{"sid": f"s-{i}", "body": t, "doc_id": f"d{i // 5}", "paragraph": 1, "sentence": i % 5 + 1}
               for i, t in enumerate(texts)]
    write_jsonl(tmp_path / "pre.jsonl", records)
    options = dict(unit="record", text_field="body", id_field="sid")
    _, local_rows, _ = local_tag([tmp_path / "pre.jsonl"], model, tmp_path / "r.jsonl", **options)
    summary, rows, report = spark_tag([tmp_path / "pre.jsonl"], model, tmp_path / "record", **options)
    assert_same_rows(rows, local_rows, sentence_columns(model_classes(model)))
    assert {r["id"] for r in rows} == {f"s-{i}" for i in range(40)} and report == [] and summary.exit_code == 0


@spark_test
def test_web_archives_give_the_local_engines_rows_with_their_metadata(spark, model, tmp_path):
    """A folder of WARC files as a news crawl leaves them (pages, images, redirects; a page
    saved as a resource record): one task per archive, the local engine's rows, metadata
    columns included, and the same counts of records passed over."""
    crawl = tmp_path / "crawl"
    crawl.mkdir()
    records = corpus_records(30, seed=21)
    for n in range(3):
        pages = []
        for i, rec in enumerate(records[n * 10:(n + 1) * 10]):
            pages.append({"uri": f"https://outlet{n}.example/news/{i}",
                          "payload": news_page(rec["text"].split("\n\n"), title=f"Report {n}-{i}", site=f"Outlet {n}",
                                               date=f"2024-0{n + 1}-1{i % 10}", canonical=None)})
            if i % 4 == 0:
                pages.append({"uri": f"https://outlet{n}.example/img/{i}.jpg", "payload": b"\xff\xd8", "type": "image/jpeg"})
                pages.append({"uri": f"https://outlet{n}.example/old/{i}", "payload": "", "status": "301 Moved"})
        write_warc(crawl / f"CC-NEWS-2024-{n:05d}.warc.gz", pages)
    (crawl / "broken.warc.gz").write_bytes(b"not an archive")
    meta = ["author", "crawled=crawl_date"]
    local_summary, local_rows, local_report = local_tag([crawl], model, tmp_path / "local.jsonl", meta_field=meta)
    summary, rows, report = spark_tag([crawl], model, tmp_path / "spark", meta_field=meta, partition_by="outlet")

    from stanceframe.tagging.rows import meta_fields

    columns = sentence_columns(model_classes(model), meta_fields(meta))
    assert_same_rows(rows, local_rows, columns)
    assert sorted(p.name for p in (tmp_path / "spark").glob("outlet=*")) == [f"outlet=Outlet {n}" for n in range(3)]
    assert {r["doc_id"] for r in rows} == {f"https://outlet{n}.example/news/{i}" for n in range(3) for i in range(10)}
    assert {(r["outlet"], r["date"][:7]) for r in rows} == {(f"Outlet {n}", f"2024-0{n + 1}") for n in range(3)}
    assert all(r["author"] == "Kim Min-ji" and r["crawled"].endswith("Z") for r in rows)
    assert report == local_report and len(report) == 1 and report[0].startswith(
        f"skipped {crawl / 'broken.warc.gz'}: not a readable WARC file")
    assert summary.counts() == local_summary.counts()
    assert summary.counts()["passed"] == {"not HTML": 9, "HTTP status 301": 9}


# --------------------------------------------------------------------------- partitions and Parquet input


@spark_test
def test_output_partitioned_by_a_record_field_and_by_an_output_column(spark, model, inputs, tmp_path):
    jsonl = inputs["jsonl"]
    _, local_rows, _ = local_tag([jsonl], model, tmp_path / "local.jsonl")
    columns = sentence_columns(model_classes(model))

    _, rows, _ = spark_tag([jsonl], model, tmp_path / "by-date", partition_by="date")
    folders = sorted(p.name for p in (tmp_path / "by-date").iterdir() if p.is_dir())
    assert folders == sorted(["date=__HIVE_DEFAULT_PARTITION__"] + [f"date={d}" for d in DATES])
    assert_same_rows(rows, local_rows, columns)
    assert {(r["doc_id"], r["date"]) for r in rows} == set(inputs["date_of"].items())

    _, rows, _ = spark_tag([jsonl], model, tmp_path / "by-framing", partition_by="framing")
    assert sorted(p.name for p in (tmp_path / "by-framing").iterdir() if p.is_dir()) == sorted(
        f"framing={label}" for label in {r["framing"] for r in local_rows})
    assert_same_rows(rows, local_rows, columns)


@spark_test
def test_parquet_input_gives_the_rows_of_the_same_records_as_jsonl(spark, model, inputs, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [dict(r) for r in inputs["feed"][:120]]
    records[7] = {"id": "no-text", "date": "2024-05-01", "text": None}
    (tmp_path / "pq").mkdir()
    table = pa.Table.from_pylist([{"id": r.get("id"), "text": r["text"], "date": r.get("date")} for r in records])
    pq.write_table(table, tmp_path / "pq" / "feed.parquet", row_group_size=50)
    write_jsonl(tmp_path / "feed.jsonl", [{k: v for k, v in r.items() if v is not None} for r in records])

    _, local_rows, local_report = local_tag([tmp_path / "feed.jsonl"], model, tmp_path / "local.jsonl")
    summary, rows, report = spark_tag([tmp_path / "pq"], model, tmp_path / "spark", partition_by="date")
    assert_same_rows(rows, local_rows, sentence_columns(model_classes(model)))
    assert local_report == [f"skipped {tmp_path / 'feed.jsonl'}:8: no 'text' field"]
    assert report == [f"skipped {tmp_path / 'pq' / 'feed.parquet'}:8: no 'text' field"]
    assert summary.documents == 119 and summary.exit_code == 1
    assert {"feed-1", "feed-51", "feed-101"} <= {r["doc_id"] for r in rows}  # null ids: <file stem>-<row>


# --------------------------------------------------------------------------- usage


@spark_test
def test_usage_errors_and_rerun_over_an_earlier_output(spark, model, inputs, tmp_path):
    from stanceframe.spark import run_spark_tag

    jsonl = inputs["jsonl"]
    cases = [
        (dict(out=None), "needs --out DIR"),
        (dict(fmt="jsonl"), "drop --format jsonl"),
        (dict(per="article"), "--per article"),
        (dict(resume=True), "does not --resume"),
    ]
    for kwargs, message in cases:
        with pytest.raises(StanceframeError, match=message):
            run_spark_tag([str(jsonl)], model, **{"out": tmp_path / "o", **kwargs})
    with pytest.raises(StanceframeError, match="cannot read standard input"):
        run_spark_tag(["-"], model, out=tmp_path / "o")
    with pytest.raises(StanceframeError, match="no input files"):
        run_spark_tag([str(tmp_path / "missing-*.txt")], model, out=tmp_path / "o")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(StanceframeError, match="not the output of an earlier tag run"):
        run_spark_tag([str(jsonl)], model, out=tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").exists()

    small = write_jsonl(tmp_path / "small.jsonl", corpus_records(5, seed=3))
    first, rows_first, _ = spark_tag([small], model, tmp_path / "again")
    second, rows_again, _ = spark_tag([small], model, tmp_path / "again")  # an earlier output is replaced
    assert first.exit_code == second.exit_code == 0
    assert len(rows_again) == len(rows_first) == first.sentences


def test_without_pyspark_the_spark_engine_is_a_one_line_error(tmp_path):
    (tmp_path / "a.txt").write_text("Seoul refused lethal aid.", encoding="utf-8")
    code = ("import sys; sys.modules['pyspark'] = None\n"
            "from stanceframe.cli import main\n"
            f"sys.exit(main(['tag', '--engine', 'spark', {str(tmp_path / 'a.txt')!r}, '--out', "
            f"{str(tmp_path / 'out')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("stanceframe: error: --engine spark needs pyspark, which is not installed: "
                                   "pip install 'stanceframe[spark]' (and Java 17: apt-get install "
                                   "openjdk-17-jre-headless)")


def test_spark_options_need_the_spark_engine(tmp_path, model_dir):
    (tmp_path / "a.txt").write_text("Seoul refused lethal aid.", encoding="utf-8")
    result = run_cli("tag", tmp_path / "a.txt", "--model", model_dir, "--partition-by", "date")
    assert result.code == 2 and "--partition-by and --master need --engine spark" in result.err


@spark_test
def test_cli_engine_spark_with_relative_paths(tmp_path, model_dir):
    pytest.importorskip("pyspark")
    if not java_available():
        pytest.skip("Java 17 is needed for the Spark tests")
    (tmp_path / "in").mkdir()
    for rec in corpus_records(6, seed=4):
        (tmp_path / "in" / f"{rec['id']}.txt").write_text(rec["text"], encoding="utf-8")
    (tmp_path / "in" / "broken.txt").write_bytes(b"\x00\x00")
    # a process of its own: the JVM resolves relative paths against its own working folder
    proc = run_process("tag", "--engine", "spark", "--master", "local[2]", "in", "--model", model_dir,
                       "--out", "out", "--partition-by", "source", "--quiet", cwd=tmp_path)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "skipped in/broken.txt: binary file (NUL bytes), not text" in err.splitlines()
    assert err.splitlines()[-1].startswith("stanceframe tag: tagged 6 document(s)")
    assert "wrote out" in err.splitlines()[-1] and "Traceback" not in err and " INFO " not in err
    assert (tmp_path / "out" / "_SUCCESS").exists()
    assert sorted(p.name for p in (tmp_path / "out").glob("source=*")) == sorted(
        f"source=in%2Fart0000{i}.txt" for i in range(6))
    assert {r["source"] for r in read_parquet_rows(tmp_path / "out")} == {f"in/art0000{i}.txt" for i in range(6)}


@spark_test
def test_mlflow_model_uri_is_fetched_on_the_driver_and_shipped(spark, model, model_dir, inputs, tmp_path, monkeypatch):
    from stanceframe.tracking import Tracker, local_store_uri

    uri = local_store_uri(tmp_path)
    tracker = Tracker(uri, "spark-engine", root=tmp_path)
    with tracker.run("tfidf"):
        logged = tracker.log_bundle(model_dir)
    tracker.set_alias(logged["version"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)

    jsonl = inputs["jsonl"]
    _, by_folder, _ = spark_tag([jsonl], model, tmp_path / "folder")
    summary, by_alias, report = spark_tag([jsonl], "models:/stanceframe@champion", tmp_path / "alias")
    assert_same_rows(by_alias, by_folder, sentence_columns(model_classes(model)))
    assert summary.documents == 200 and len(report) == 5


@spark_test
def test_out_replaces_only_a_folder_this_command_wrote_never_an_input(spark, model_dir, tmp_path):
    """Issue 20: ``--out DIR`` deleted any folder holding ``_SUCCESS``: the run's own Parquet
    input, a colleague's job output. Now an input is refused and only a folder with tag's
    own marker is replaced."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "data").mkdir()
    pq.write_table(pa.table({"id": ["r1"], "text": ["Seoul sends shells."]}), tmp_path / "data" / "part-0.parquet")
    (tmp_path / "data" / "_SUCCESS").write_text("")
    (tmp_path / "colleague").mkdir()
    (tmp_path / "colleague" / "part-0.parquet").write_bytes((tmp_path / "data" / "part-0.parquet").read_bytes())
    (tmp_path / "colleague" / "_SUCCESS").write_text("")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def tag(*args):
        result = run_cli("tag", "--engine", "spark", "--model", model_dir, "--quiet", *args, cwd=tmp_path)
        assert "Traceback" not in result.err, result.err
        return result

    for out, why in (("data", "is or holds an input"), ("colleague", "not the output of an earlier tag run")):
        result = tag("data", "--out", tmp_path / out)  # absolute: this JVM's working folder is not tmp_path
        assert result.code == 2 and why in result.err.strip().splitlines()[-1], result.err
    result = tag("data/part-0.parquet", "--out", tmp_path)
    assert result.code == 2 and "is or holds an input" in result.err, result.err
    assert {p: p.read_bytes() for p in before} == before
    for _ in range(2):  # a new folder, then the folder this command wrote
        result = tag("data", "--out", tmp_path / "out")
        assert result.code == 0, result.err
        assert (tmp_path / "out" / "_STANCEFRAME_TAG").exists()
    assert [r["doc_id"] for r in read_parquet_rows(tmp_path / "out")] == ["r1"]
