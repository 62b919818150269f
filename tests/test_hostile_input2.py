"""Hostile and careless input, second probe (issue 20, part 2): one bad input never stops a
batch, every input is read through the one bounded reader (``corpus/sources.py``), and a
user's or environment's mistake is one line and exit 2, never an internal error.

Each test goes through the command (``run_cli`` in this process, a subprocess where the
process matters) or the function it names."""

from __future__ import annotations

import codecs
import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
from support.cli import run_cli, run_process
from support.paths import STANCEFRAME

from stanceframe.corpus import readers, record_files, sources
from stanceframe.corpus.readers import markdown_to_text

GOOD = "Seoul sends shells.\n"


def rows_of(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# --------------------------------------------------------------------------- file names and special files


def test_a_file_name_that_is_not_utf8_is_tagged_with_its_bytes_escaped(tmp_path, model_dir):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text(GOOD, encoding="utf-8")
    name = os.fsdecode(b"caf\xe9.txt")
    (folder / name).write_text("Kyiv asked for air defence.\n", encoding="utf-8")
    result = run_cli("tag", folder, "--per", "article", "--model", model_dir)
    assert result.code == 0, result.err
    sources_seen = {row["source"] for row in rows_of(result.out)}
    assert sources_seen == {str(folder / "a.txt"), str(folder) + "/caf\\xe9.txt"}


def test_a_device_among_files_is_skipped_with_a_line_and_the_rest_tagged(tmp_path, model_dir):
    (tmp_path / "a.txt").write_text(GOOD, encoding="utf-8")
    (tmp_path / "z.txt").write_text("Kyiv asked for air defence.\n", encoding="utf-8")
    result = run_process("tag", "a.txt", "/dev/zero", "z.txt", "--model", model_dir, cwd=tmp_path, timeout=60)
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert "skipped /dev/zero: binary file" in err
    assert {row["doc_id"] for row in rows_of(result.stdout.decode())} == {"a", "z"}


def feed_forever(fifo: Path, line: bytes = b"y\n") -> threading.Thread:
    """A writer that feeds ``fifo`` like ``yes`` until its reader closes it."""

    def feed():
        try:
            with open(fifo, "wb") as handle:
                while True:
                    handle.write(line * 4096)
        except (BrokenPipeError, OSError):
            pass

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("name", ["endless", "endless.jsonl"])
def test_a_fifo_fed_forever_is_read_up_to_the_bound(tmp_path, model_dir, monkeypatch, name):
    monkeypatch.setattr(sources, "MAX_STREAM_BYTES", 3 << 20)
    (tmp_path / "a.txt").write_text(GOOD, encoding="utf-8")
    fifo = tmp_path / name
    os.mkfifo(fifo)
    line = b"y\n" if name == "endless" else b'{"text": "Seoul sends shells."}\n'
    feeder = feed_forever(fifo, line)
    result = run_cli("tag", tmp_path / "a.txt", fifo, "--model", model_dir, "--per", "article")
    feeder.join(10)
    assert result.code == 1, result.err
    assert f"{fifo}: not a regular file (a pipe or device) and longer than 3 MiB" in result.err
    docs = rows_of(result.out)
    assert docs[0]["doc_id"] == "a"
    if name == "endless":
        assert len(docs) == 1  # the text is skipped whole
    else:
        assert 0 < len(docs) - 1 <= (3 << 20) // len(line) + 1  # the records up to the bound


def test_a_fifo_without_a_writer_does_not_hang(tmp_path, model_dir):
    (tmp_path / "a.txt").write_text(GOOD, encoding="utf-8")
    os.mkfifo(tmp_path / "nobody")
    result = run_process("tag", "a.txt", "nobody", "--model", model_dir, cwd=tmp_path, timeout=60)
    assert result.returncode == 1 and b"skipped nobody: empty file" in result.stderr


# --------------------------------------------------------------------------- formats


def test_markdown_with_many_unclosed_fences_is_linear_and_unchanged():
    md = "```x\n" * 60_000  # 300 KB of lines opening a fence none closes: 108 s with the old pattern
    start = time.perf_counter()
    assert readers._drop_code_blocks(md) == md
    markdown_to_text(md)
    assert time.perf_counter() - start < 2
    old = re.compile(r"^```.*?^```\s*$", re.M | re.S)
    for md in ["a\n```py\ncode\n```\nb\n", "```\n```\n\n\ntext", "```x\n```y\n```\n  \nz", "``` \n```\t\nq\n```"]:
        assert readers._drop_code_blocks(md) == old.sub("", md)


@pytest.mark.parametrize("pattern", ["d/**/*.txt", "d/**"])
def test_a_glob_through_two_symlink_loops_ends(tmp_path, model_dir, pattern):
    folder = tmp_path / "d"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "x.txt").write_text(GOOD, encoding="utf-8")
    os.symlink(".", folder / "l1")
    os.symlink(".", folder / "l2")
    result = run_process("tag", pattern, "--model", model_dir, "--per", "article", cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [row["source"] for row in rows_of(result.stdout.decode())] == ["d/sub/x.txt"]


def test_csv_lines_are_bounded_and_cr_line_endings_read(tmp_path, model_dir, monkeypatch):
    monkeypatch.setattr(record_files, "MAX_RECORD_BYTES", 1000)
    long = tmp_path / "long.csv"
    long.write_bytes(b"id,text\n1,Seoul sends shells.\n2," + b"x" * 5000 + b"\n3,Kyiv asks for aid.\n")
    cr = tmp_path / "cr.csv"
    cr.write_bytes(b"id,text\r4,Seoul sends shells.\r5,Kyiv asks for aid.\r")
    result = run_cli("tag", long, cr, "--model", model_dir, "--per", "article")
    assert result.code == 1, result.err
    assert f"skipped {long}:3: line longer than" in result.err
    assert [row["doc_id"] for row in rows_of(result.out)] == ["1", "3", "4", "5"]


def test_bounded_lines_never_holds_a_long_line_whole():
    import io

    lines = list(record_files.bounded_lines(io.BytesIO(b"a\n" + b"x" * 10_000 + b"\nb\n"), limit=100))
    assert lines[0] == b"a\n" and len(lines[1]) == 101 and lines[2] == b"b\n"


def test_jsonl_on_stdin_with_a_utf8_bom_is_read_as_records(model_dir):
    data = codecs.BOM_UTF8 + b'{"id": "k1", "text": "Seoul sends shells."}\n'
    result = run_cli("tag", "-", "--model", model_dir, stdin=data)
    assert result.code == 0, result.err
    assert [row["doc_id"] for row in rows_of(result.out)] == ["k1"]


def test_utf16_text_and_csv_with_a_bom_are_read(tmp_path, model_dir):
    (tmp_path / "u.txt").write_bytes("Seoul sends shells.\n".encode("utf-16"))
    (tmp_path / "u.csv").write_bytes("id,text\nc1,Kyiv asks for aid.\n".encode("utf-16"))
    result = run_cli("tag", tmp_path / "u.txt", tmp_path / "u.csv", "--model", model_dir)
    assert result.code == 0, result.err
    assert [(row["doc_id"], row["text"]) for row in rows_of(result.out)] == [
        ("u", "Seoul sends shells."), ("c1", "Kyiv asks for aid.")]


def test_parquet_on_the_local_engine_is_read(tmp_path, model_dir):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["p1", "p2"], "text": ["Seoul sends shells.", "Kyiv asks for aid."]}),
                   tmp_path / "t.parquet")
    result = run_cli("tag", tmp_path / "t.parquet", "--model", model_dir)
    assert result.code == 0, result.err
    assert [row["doc_id"] for row in rows_of(result.out)] == ["p1", "p2"]
    typo = run_cli("tag", tmp_path / "t.parquet", "--model", model_dir, "--text-field", "body")
    assert typo.code == 1 and "no column 'body' (columns: id, text)" in typo.err


def test_a_text_field_typo_is_one_line_naming_the_field(tmp_path, model_dir):
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps({"id": f"r{i}", "text": "Seoul sends shells."}) + "\n" for i in range(50)),
                    encoding="utf-8")
    result = run_cli("tag", path, "--model", model_dir, "--text-field", "txt")
    assert result.code == 1
    skipped = [line for line in result.err.splitlines() if line.startswith("skipped")]
    assert skipped == [f"skipped {path}: no 'txt' field in any record (50 record(s); their fields: 'id', 'text'); "
                       "name the text field with --text-field"]
    mixed = tmp_path / "m.jsonl"  # a record without the field among good ones: a skip of its own
    mixed.write_text('{"id": "m1", "body": "x"}\n{"id": "m2", "text": "Kyiv asks for aid."}\n', encoding="utf-8")
    result = run_cli("tag", mixed, "--model", model_dir)
    assert result.code == 1 and f"skipped {mixed}:1: no 'text' field" in result.err
    assert [row["doc_id"] for row in rows_of(result.out)] == ["m2"]


def test_inspect_shows_every_sentence_of_a_text_over_one_part(tmp_path, model_dir):
    path = tmp_path / "big.txt"
    paragraph = "Seoul sends shells to the front, officials said on Monday. "
    count = readers.PART_BYTES // len(paragraph) + 2000
    path.write_text("".join(f"{paragraph}Item {i} follows here.\n\n" for i in range(count)), encoding="utf-8")
    result = run_cli("inspect", path, "--model", model_dir)
    assert result.code == 0, result.err
    assert f"\np{count}.s2 " in result.out  # the last paragraph (1 MiB in: the second part)


# --------------------------------------------------------------------------- the pipe closing early


def test_tag_into_a_pipe_closed_early_exits_141(tmp_path, model_dir):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(200):
        (folder / f"a{i:03}.txt").write_text(f"Seoul sends shells number {i}.\n\nKyiv asks.\n", encoding="utf-8")
    proc = subprocess.Popen([*STANCEFRAME, "tag", str(folder), "--model", str(model_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    for _ in range(2):
        proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141, err
    assert b"Traceback" not in err and b"Exception ignored" not in err


# --------------------------------------------------------------------------- user mistakes: one line, exit 2


def copy_model(model_dir: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(model_dir, tmp_path / "model"))


@pytest.mark.parametrize("manifest", ["[1, 2]", '{"format_version": 1, "family": "tfidf-logreg", "tasks": {}}',
                                      '{"format_version": 1, "family": "tfidf-logreg", "tasks": {"stance": 3}}'])
def test_a_manifest_that_is_not_a_models_is_one_line(tmp_path, model_dir, manifest):
    model = copy_model(model_dir, tmp_path)
    (model / "manifest.json").write_text(manifest, encoding="utf-8")
    (tmp_path / "a.txt").write_text(GOOD, encoding="utf-8")
    result = run_cli("tag", tmp_path / "a.txt", "--model", model)
    assert result.code == 2, result.err
    assert result.err == f"stanceframe: error: {model}/manifest.json: not a stanceframe model manifest (a JSON object " \
                         'whose "tasks" names at least one task and its folder)\n'


@pytest.mark.parametrize("target", ["/dev/zero", "outside"])
def test_a_weight_file_linked_out_of_the_model_folder_is_refused(tmp_path, model_dir, target):
    model = copy_model(model_dir, tmp_path)
    vocab = model / "stance" / "vocab_word.json"
    vocab.unlink()
    if target == "outside":
        target = tmp_path / "outside.json"
        target.write_text("{}", encoding="utf-8")
    os.symlink(target, vocab)
    (tmp_path / "a.txt").write_text(GOOD, encoding="utf-8")
    result = run_cli("tag", tmp_path / "a.txt", "--model", model)
    assert result.code == 2
    assert result.err.startswith(f"stanceframe: error: {vocab}: a link out of the model folder")


def test_a_weight_file_that_is_not_regular_or_whose_size_is_wrong_is_refused(tmp_path, model_dir):
    from stanceframe.errors import ModelFolderError
    from stanceframe.models import folder

    model = copy_model(model_dir, tmp_path)
    os.mkfifo(model / "stance" / "extra.json")
    result = run_cli("tag", "-", "--model", model, stdin=GOOD.encode())
    assert result.code == 2 and "extra.json: not a regular file; refused" in result.err
    (model / "stance" / "extra.json").unlink()
    intercept = model / "stance" / "intercept.npy"
    with open(intercept, "ab") as handle:
        handle.write(b"\0" * 64)  # more bytes than the header says
    with pytest.raises(ModelFolderError, match="bytes where its header says"):
        folder.load_array(intercept)


def test_inspect_page_with_a_model_of_forty_labels(tmp_path):
    from support.tagging import gold_sentences

    from stanceframe.models.bundle import ModelBundle
    from stanceframe.models.tfidf import TfidfLogRegClassifier

    rows = gold_sentences()[:400]
    texts = [r["text"] for r in rows]
    estimators = {"stance": TfidfLogRegClassifier().fit(texts, [f"l{i % 40}" for i in range(len(rows))]),
                  "framing": TfidfLogRegClassifier().fit(texts, [r["framing"] for r in rows])}
    model = ModelBundle("tfidf-logreg", estimators, {"name": "forty"}).save(tmp_path / "m40")
    (tmp_path / "a.txt").write_text(GOOD, encoding="utf-8")
    result = run_cli("inspect", tmp_path / "a.txt", "--model", model, "--html", tmp_path / "a.html")
    assert result.code == 0, result.err
    assert "l39" in (tmp_path / "a.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("line, message", [('C = "abc"', "C = 'abc': must be a number"),
                                           ("ngram_max = -5", "ngram_max = -5: must be greater than 0"),
                                           ("ngram_max = 2.5", "ngram_max = 2.5: must be a whole number"),
                                           ("no_such = 1", "unknown parameter 'no_such'")])
def test_a_bad_family_parameter_in_the_experiments_config_is_one_line(tmp_path, line, message):
    from stanceframe.errors import StanceframeError
    from stanceframe.experiment_config import load_config

    config = tmp_path / "experiments.toml"
    config.write_text(f"[families.tfidf-logreg]\n{line}\n", encoding="utf-8")
    with pytest.raises(StanceframeError) as caught:
        load_config(config)
    assert str(caught.value).startswith(f"{config}: [families.tfidf-logreg] ") and message in str(caught.value)


def labelled(tmp_path: Path, bad: dict) -> Path:
    rows = [{"id": f"s{i}", "doc_id": f"d{i}", "text": f"Sentence number {i} is here.",
             "stance": ["none", "support"][i % 2], "framing": ["neutral", "western"][i % 2]} for i in range(12)]
    rows[5].update(bad)
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("bad, kind", [({"stance": ["none"]}, 'a list (["none"])'), ({"stance": 3}, "a number (3)")])
def test_a_label_that_is_not_a_string_is_refused_everywhere(tmp_path, project, model_dir, bad, kind):
    path = labelled(tmp_path, bad)
    want = f"stanceframe: error: {path}:6: label of task 'stance' is {kind}, not a string; write the label's name\n"
    for args in (["train", "--family", "lexicon", "--config", "none", "--data", path, "--no-track"],
                 ["evaluate", "--model", model_dir, "--data", path], ["data", "stats", path]):
        result = run_cli(*args)
        assert (result.code, result.err) == (2, want), args


def test_an_invalid_tracking_uri_is_one_line(project):
    result = run_cli("train", "--family", "lexicon", "--tracking-uri", "http://[::1")
    assert result.code == 2
    assert result.err == ("stanceframe: error: tracking URI 'http://[::1' is not a valid URI (Invalid IPv6 URL); "
                          "fix --tracking-uri / MLFLOW_TRACKING_URI\n")


@pytest.fixture
def silent_server():
    """A socket on 127.0.0.1 that accepts and never answers; ``health=True``: it answers
    /health with 200, then nothing else."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held, stop = [], threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.settimeout(5)
            try:
                request = conn.recv(65536)
            except OSError:
                request = b""
            if serve.health and b" /health" in request:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK")
                conn.close()
            else:
                held.append(conn)

    serve.health = False
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], serve
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.slow  # waits for MLflow's timeouts (about 12 s)
@pytest.mark.parametrize("health", [False, True])
def test_a_hanging_tracking_server_is_one_line_within_15_seconds(project, silent_server, health):
    port, serve = silent_server
    serve.health = health
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_HTTP_REQUEST")}
    start = time.monotonic()
    result = subprocess.run([*STANCEFRAME, "train", "--family", "lexicon", "--tracking-uri",
                             f"http://127.0.0.1:{port}"], capture_output=True, cwd=project, timeout=200, env=env)
    elapsed = time.monotonic() - start
    err = result.stderr.decode()
    assert result.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert ("did not answer within 5 s" in err) if health else ("timed out" in err)
    assert elapsed <= 15, elapsed
