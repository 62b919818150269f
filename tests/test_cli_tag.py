"""`stanceframe tag` / `stanceframe inspect` as a user runs them: exit codes, messages,
stdout/stderr, progress bar, and --resume after kill -9. The command runs in this process
(:func:`support.cli.run_cli`: stdin on a real pipe, stderr on a pseudo-terminal where a test
needs one) except the runs killed with SIGKILL, which need a process of their own."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from support.cli import run_cli
from support.paths import REPO, STANCEFRAME
from support.tagging import ARTICLE, corpus_records, read_jsonl, write_jsonl

from stanceframe.cli import main


def no_traceback(result):
    assert "Traceback" not in result.err, result.err


# --------------------------------------------------------------------------- exit codes


def test_exit_0_rows_on_stdout_summary_on_stderr(tmp_path, model_dir):
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    result = run_cli("tag", tmp_path / "a.txt", "--model", model_dir)
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert [r["id"] for r in rows] == ["a-p1-s1", "a-p2-s1", "a-p2-s2", "a-p3-s1"]
    err = result.err
    assert "tagged 1 document(s), 4 sentence(s)" in err and "sentences/s" in err
    assert "\r" not in err  # stderr is not a terminal: no progress bar


def test_exit_1_when_some_input_is_skipped(tmp_path, model_dir):
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"id": "x", "text": "Seoul refused."}\n{oops\n{"id": "y"}\n', encoding="utf-8")
    (tmp_path / "c.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "d.txt").write_bytes(b"")
    result = run_cli("tag", tmp_path, "--model", model_dir, "--out", tmp_path / "out.jsonl")
    assert result.code == 1
    err = result.err.splitlines()
    assert f"skipped {tmp_path / 'b.jsonl'}:2: invalid JSON (Expecting property name enclosed in double quotes at column 2)" in err
    assert f"skipped {tmp_path / 'b.jsonl'}:3: no 'text' field" in err
    assert f"skipped {tmp_path / 'c.txt'}: binary file (NUL bytes), not text" in err
    assert f"skipped {tmp_path / 'd.txt'}: empty file (no text)" in err
    assert "skipped 4" in err[-1]
    assert {r["doc_id"] for r in read_jsonl(tmp_path / "out.jsonl")} == {"a", "x"}
    no_traceback(result)


def test_strict_turns_warnings_into_exit_1(tmp_path, model_dir):
    (tmp_path / "cp1252.txt").write_bytes(b"Seoul\x92s ministry refused lethal aid.")  # cp1252 apostrophe
    lenient = run_cli("tag", tmp_path / "cp1252.txt", "--model", model_dir)
    assert lenient.code == 0
    assert "not valid UTF-8" in lenient.err and "Seoul’s ministry" in lenient.out
    strict = run_cli("tag", tmp_path / "cp1252.txt", "--model", model_dir, "--strict")
    assert strict.code == 1 and strict.out == ""
    assert f"skipped {tmp_path / 'cp1252.txt'}: not valid UTF-8" in strict.err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "{missing}"], "model folder not found"),
        (["--format", "xml"], "invalid choice: 'xml'"),
        (["--batch-size", "0"], "must be at least 1"),
        (["--format", "parquet"], "--format parquet needs --out"),
        (["--resume"], "--resume needs --out"),
    ],
)
def test_exit_2_for_usage_errors(tmp_path, model_dir, args, message):
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    args = [a.format(missing=tmp_path / "no-model") for a in args]
    if "--model" not in args:
        args += ["--model", str(model_dir)]
    result = run_cli("tag", tmp_path / "a.txt", *args)
    assert result.code == 2 and message in result.err
    assert result.out == ""
    no_traceback(result)


def test_exit_2_without_any_input(tmp_path, model_dir):
    result = run_cli("tag", tmp_path / "nothing-*.txt", tmp_path / "missing.txt", "--model", model_dir)
    assert result.code == 2
    assert result.err.strip().startswith("stanceframe: error: no input files")
    empty = run_cli("tag", "--model", model_dir)
    assert empty.code == 2 and "PATH" in empty.err


def test_default_model_is_models_default(tmp_path, model_dir, monkeypatch):
    (tmp_path / "data").mkdir()  # a project folder
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    monkeypatch.setattr("stanceframe.paths.checkout_root", lambda: None)  # no checkout to fall back on,
    monkeypatch.setattr("stanceframe.paths.SHIPPED", tmp_path / "shipped")  # nor a shipped default
    monkeypatch.delenv("STANCEFRAME_MODEL")  # the suite's fast model (conftest): here the default is asked for
    missing = run_cli("tag", "a.txt", cwd=tmp_path)
    assert missing.code == 2
    assert "no default model yet; create it with `make default-model`" in missing.err
    shutil.copytree(model_dir, tmp_path / "models" / "default")
    found = run_cli("tag", "a.txt", cwd=tmp_path)
    assert found.code == 0 and len(found.out.splitlines()) == 4


# --------------------------------------------------------------------------- inputs and outputs


def test_stdin_glob_and_record_unit(tmp_path, model_dir):
    piped = run_cli("tag", "-", "--model", model_dir, stdin=ARTICLE.encode())  # a real pipe on stdin
    assert piped.code == 0 and {json.loads(x)["doc_id"] for x in piped.out.splitlines()} == {"stdin"}

    for name in ("one", "two"):
        (tmp_path / f"{name}.md").write_text(f"# {name.title()}\n\n{ARTICLE}\n", encoding="utf-8")
    globbed = run_cli("tag", str(tmp_path / "*.md"), "--model", model_dir)
    assert sorted({json.loads(x)["doc_id"] for x in globbed.out.splitlines()}) == ["one", "two"]

    write_jsonl(tmp_path / "pre.jsonl", [{"sid": "s-1", "body": "Seoul refused lethal aid. Moscow was angry."}])
    rec = run_cli("tag", tmp_path / "pre.jsonl", "--unit", "record", "--text-field", "body", "--id-field", "sid",
                  "--model", model_dir, "--format", "csv")
    lines = rec.out.splitlines()
    assert rec.code == 0 and len(lines) == 2
    assert lines[0].startswith("doc_id,id,paragraph,sentence,start,end,text,voice,quotes,stance,framing,p_stance_")
    assert lines[1].startswith("s-1,s-1,,,0,43,Seoul refused lethal aid. Moscow was angry.,")


def test_per_article_parquet_file(tmp_path, model_dir):
    import pandas as pd

    write_jsonl(tmp_path / "c.jsonl", corpus_records(6))
    out = tmp_path / "deep" / "articles.parquet"
    result = run_cli("tag", tmp_path / "c.jsonl", "--model", model_dir, "--per", "article", "--format", "parquet",
                     "--out", out)
    assert result.code == 0, result.err
    frame = pd.read_parquet(out)
    assert frame["doc_id"].tolist() == [f"art{i:05d}" for i in range(6)]
    assert (frame["n_sentences"] == 9).all() and f"wrote {out}" in result.err


def test_progress_bar_on_a_terminal_and_quiet(tmp_path, model_dir, monkeypatch):
    write_jsonl(tmp_path / "c.jsonl", corpus_records(20))

    def stderr_through_pty(*extra):
        """The command with stderr on a 120-column terminal: its exit status and what the terminal showed."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        chunks = []

        def drain():
            while True:
                try:
                    data = os.read(master, 4096)
                except OSError:  # the terminal closed
                    break
                if not data:
                    break
                chunks.append(data)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        with open(slave, "w", encoding="utf-8") as terminal, monkeypatch.context() as patch:
            patch.setattr(sys, "stderr", terminal)
            code = main(["tag", str(tmp_path / "c.jsonl"), "--model", str(model_dir),
                         "--out", str(tmp_path / "o.jsonl"), *extra])
        reader.join(60)
        os.close(master)
        return code, b"".join(chunks).decode(errors="replace")

    rc, shown = stderr_through_pty()
    assert rc == 0 and "tagging:" in shown and "doc" in shown and "sent/s" in shown
    rc, quiet = stderr_through_pty("--quiet")
    assert rc == 0 and "tagging:" not in quiet and "tagged 20 document(s)" in quiet


# --------------------------------------------------------------------------- kill -9 and --resume


def wait_for(condition, timeout=120.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def committed(state: Path) -> int:
    try:
        return json.loads(state.read_text())["consumed"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return 0


def assert_same_rows(resumed: Path, whole: Path):
    got, want = resumed.read_bytes(), whole.read_bytes()
    lines = got.decode("utf-8").splitlines()
    assert all(json.loads(line) for line in lines)  # no torn line
    ids = [json.loads(line)["id"] for line in lines]
    assert len(ids) == len(set(ids))  # no duplicate
    assert sorted(got.splitlines()) == sorted(want.splitlines())  # the same set of rows, byte for byte
    assert got == want  # ...and, with this design, in the same order


@pytest.mark.slow  # a real run killed with SIGKILL, then two whole runs
def test_resume_after_kill_9_mid_run(tmp_path, model_dir):
    """A real run killed at a random point while it tags (small batches keep it busy)."""
    src = write_jsonl(tmp_path / "corpus.jsonl", corpus_records(200, paragraphs=3, per_paragraph=4))
    out, whole = tmp_path / "out.jsonl", tmp_path / "whole.jsonl"
    args = ["tag", str(src), "--model", str(model_dir), "--batch-size", "1", "--quiet"]
    proc = subprocess.Popen([*STANCEFRAME, *args, "--out", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    state = tmp_path / "out.jsonl.part.json"
    wait_for(lambda: committed(state) >= 64 or proc.poll() is not None, what="the first committed window")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not out.exists() and (tmp_path / "out.jsonl.part").stat().st_size > 0

    resumed = run_cli(*args, "--out", out, "--resume")
    assert resumed.code == 0, resumed.err
    assert "resumed after the" in resumed.err
    assert run_cli(*args, "--out", whole).code == 0
    assert_same_rows(out, whole)
    assert not (tmp_path / "out.jsonl.part").exists() and not state.exists()


@pytest.mark.slow  # a real run killed with SIGKILL, then four more runs
def test_resume_after_kill_9_at_a_known_point_with_a_torn_tail(tmp_path, model_dir):
    """Deterministic variant: the input is a FIFO fed half-way, the run is killed once two
    windows are committed, a torn line is left behind, and --resume reads the full file."""
    records = corpus_records(300)
    src = tmp_path / "feed.jsonl"
    os.mkfifo(src)
    out, whole = tmp_path / "out.csv", tmp_path / "whole.csv"
    args = ["tag", str(src), "--model", str(model_dir), "--format", "csv", "--quiet"]
    proc = subprocess.Popen([*STANCEFRAME, *args, "--out", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    feeder_done = threading.Event()

    def feed():
        try:
            with open(src, "w", encoding="utf-8") as fifo:
                for record in records[:150]:
                    fifo.write(json.dumps(record) + "\n")
                fifo.flush()
                feeder_done.wait(120)  # keep the FIFO open: the reader blocks mid-window
        except BrokenPipeError:
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    state = tmp_path / "out.csv.part.json"
    try:
        wait_for(lambda: committed(state) == 128, what="two committed windows")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        feeder_done.set()
        feeder.join(10)
    part = tmp_path / "out.csv.part"
    with open(part, "ab") as handle:
        handle.write(b'art00130,art00130-p1-s1,1,1,0,17,"a torn ro')
    src.unlink()
    write_jsonl(src, records)  # the same input, now complete

    plain = run_cli(*args, "--out", out)
    assert plain.code == 2 and "add --resume" in plain.err
    resumed = run_cli(*args, "--out", out, "--resume")
    assert resumed.code == 0, resumed.err
    assert "tagged 300 document(s)" in resumed.err
    assert run_cli(*args, "--out", whole).code == 0
    got, want = out.read_bytes(), whole.read_bytes()
    assert b"a torn ro" not in got
    assert sorted(got.splitlines()) == sorted(want.splitlines()) and got == want
    again = run_cli(*args, "--out", out, "--resume")
    assert again.code == 0 and "already complete" in again.err


# --------------------------------------------------------------------------- inspect


def test_inspect_prints_a_table_and_writes_a_page(tmp_path, model_dir):
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    result = run_cli("inspect", tmp_path / "a.txt", "--model", model_dir, "--html", tmp_path / "a.html")
    assert result.code == 0, result.err
    table = result.out.splitlines()
    assert table[0].split() == ["#", "stance", "p(stance)", "framing", "p(framing)", "text"]
    assert [line.split()[0] for line in table[2:]] == ["p1.s1", "p2.s1", "p2.s2", "p3.s1"]
    page = BeautifulSoup((tmp_path / "a.html").read_text(encoding="utf-8"), "html.parser")
    assert len(page.select("span.sent")) == 4
    assert f"inspection page: {tmp_path / 'a.html'}" in result.err


def test_inspect_bad_article_is_a_one_line_error(tmp_path, model_dir):
    (tmp_path / "empty.txt").write_bytes(b"")
    for path, message in [(tmp_path / "nope.txt", "no such file"), (tmp_path / "empty.txt", "empty file")]:
        result = run_cli("inspect", path, "--model", model_dir)
        assert result.code == 2 and message in result.err
        no_traceback(result)


def test_repo_seed_article_tags_cleanly(model_dir):
    result = run_cli("tag", REPO / "seeds", "--model", model_dir, "--per", "article")
    assert result.code == 0
    (row,) = [json.loads(line) for line in result.out.splitlines()]
    assert row["doc_id"] == "seed-korea-ww3" and row["n_sentences"] == 119


def test_inspect_open_writes_the_page_and_hands_its_file_uri_to_the_browser(tmp_path, model_dir, monkeypatch):
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)  # the browser the user's system would start
    result = run_cli("inspect", "a.txt", "--model", model_dir, "--open", cwd=tmp_path)
    assert result.code == 0, result.err
    page = tmp_path / "a.inspect.html"
    assert page.exists()
    assert opened == [page.resolve().as_uri()]
