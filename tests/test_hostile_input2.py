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


def test_a_glob_through_two_symlink_loops_ends(tmp_path, model_dir):
    folder = tmp_path / "d"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "x.txt").write_text(GOOD, encoding="utf-8")
    os.symlink(".", folder / "l1")
    os.symlink(".", folder / "l2")
    result = run_process("tag", "d/**/*.txt", "--model", model_dir, "--per", "article", cwd=tmp_path, timeout=60)
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
