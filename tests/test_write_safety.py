"""Write safety through the command (issue 20): no command writes through a symbolic link,
replaces anything but a regular file, or removes or overwrites a file or folder it did not
create itself. Each test reproduces the issue's repro from an empty folder (``a.txt``
holding one sentence) through ``stanceframe`` itself and checks that the user's file is
untouched, the refusal is one line (exit 2), and the command's own output still works."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from support.cli import run_cli
from support.tagging import read_jsonl

SENTENCE = "Seoul sends shells.\n"


@pytest.fixture
def here(tmp_path) -> Path:
    """An empty folder holding only ``a.txt`` (the issue's ``printf 'Seoul sends shells.\\n' > a.txt``)."""
    (tmp_path / "a.txt").write_text(SENTENCE, encoding="utf-8")
    return tmp_path


def tag(here: Path, model_dir, *args):
    result = run_cli("tag", *args, "--model", model_dir, cwd=here)
    assert "Traceback" not in result.err, result.err
    return result


def refused(result, *words) -> str:
    """The one line of a refusal (exit 2) and that it says ``words``."""
    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------- tag's side files


def test_a_link_at_the_lock_file_is_not_written_through(here, model_dir):
    (here / "v.txt").write_text("keep\n")
    (here / "o.jsonl.lock").symlink_to("v.txt")
    refused(tag(here, model_dir, "a.txt", "--out", "o.jsonl"), "o.jsonl.lock", "symbolic link")
    assert (here / "v.txt").read_text() == "keep\n" and (here / "o.jsonl.lock").is_symlink()
    assert not (here / "o.jsonl").exists()


def test_the_users_own_lock_file_is_neither_written_nor_removed(here, model_dir):
    (here / "p.jsonl.lock").write_text("my notes on the lock\n")
    refused(tag(here, model_dir, "a.txt", "--out", "p.jsonl"), "p.jsonl.lock", "not a lock file of stanceframe tag")
    assert (here / "p.jsonl.lock").read_text() == "my notes on the lock\n"
    (here / "p.jsonl.lock").unlink()
    assert tag(here, model_dir, "a.txt", "--out", "p.jsonl").code == 0
    assert not (here / "p.jsonl.lock").exists() and len(read_jsonl(here / "p.jsonl")) == 1


def test_a_lock_file_left_by_a_killed_run_is_reused(here, model_dir):
    (here / "o.jsonl.lock").write_text("4242\n")  # what a run killed with -9 leaves
    assert tag(here, model_dir, "a.txt", "--out", "o.jsonl").code == 0
    assert not (here / "o.jsonl.lock").exists()


def test_a_link_at_the_journals_temporary_name_is_not_written_through(here, model_dir):
    (here / "v.txt").write_text("keep\n")
    (here / "o.jsonl.part.json.tmp").symlink_to("v.txt")
    assert tag(here, model_dir, "a.txt", "--out", "o.jsonl").code == 0
    assert (here / "v.txt").read_text() == "keep\n" and (here / "o.jsonl.part.json.tmp").is_symlink()
    assert len(read_jsonl(here / "o.jsonl")) == 1 and not (here / "o.jsonl").is_symlink()


def test_a_dangling_part_link_never_makes_the_output_a_link(here, model_dir):
    (here / "o.jsonl.part").symlink_to(here / "elsewhere.jsonl")
    for extra in ([], ["--resume"], ["--force"]):
        refused(tag(here, model_dir, "a.txt", "--out", "o.jsonl", *extra), "o.jsonl.part",
                "not the unfinished output of a stanceframe tag run")
        assert not (here / "elsewhere.jsonl").exists() and not (here / "o.jsonl").exists()
    assert (here / "o.jsonl.part").is_symlink()


def test_the_users_own_part_file_is_not_truncated_or_called_an_unfinished_run(here, model_dir):
    (here / "v.part").write_text("data\n")
    for extra in ([], ["--resume"], ["--force"]):
        line = refused(tag(here, model_dir, "a.txt", "--out", "v", *extra), "v.part", "is not the unfinished output")
        assert "unfinished output of an earlier" not in line
        assert (here / "v.part").read_text() == "data\n" and not (here / "v").exists()


def test_a_progress_file_link_is_refused(here, model_dir):
    (here / "v.txt").write_text("keep\n")
    (here / "o.jsonl.part.json").symlink_to("v.txt")
    refused(tag(here, model_dir, "a.txt", "--out", "o.jsonl", "--resume"), "o.jsonl.part.json", "symbolic link")
    refused(tag(here, model_dir, "a.txt", "--out", "o.jsonl", "--force"), "o.jsonl.part.json", "symbolic link")
    assert (here / "v.txt").read_text() == "keep\n"


def test_tags_own_unfinished_run_is_still_named_and_resumed(here, model_dir):
    assert tag(here, model_dir, "a.txt", "--out", "o.jsonl").code == 0
    whole = (here / "o.jsonl").read_bytes()
    os.rename(here / "o.jsonl", here / "o.jsonl.part")  # an unfinished run: its part and its progress file
    part = os.stat(here / "o.jsonl.part")
    (here / "o.jsonl.part.json").write_text(json.dumps({
        "version": 1, "offset": 0, "consumed": 0, "counts": {}, "part": [part.st_dev, part.st_ino],
        "fingerprint": json.loads(os.getxattr(here / "o.jsonl.part", "user.stanceframe.tag"))["fingerprint"]}))
    refused(tag(here, model_dir, "a.txt", "--out", "o.jsonl"), "unfinished output of an earlier stanceframe tag run",
            "--resume")
    assert tag(here, model_dir, "a.txt", "--out", "o.jsonl", "--resume").code == 0
    assert (here / "o.jsonl").read_bytes() == whole and not (here / "o.jsonl.part").exists()


# --------------------------------------------------------------------------- what --out may name


def test_out_onto_a_device_or_a_link_to_one_is_refused_even_with_force(here, model_dir):
    os.mknod(here / "nulldev", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    (here / "link").symlink_to("nulldev")
    os.mkfifo(here / "fifo")
    for name, kind in (("nulldev", "a device"), ("link", "a symbolic link"), ("fifo", "a FIFO")):
        refused(tag(here, model_dir, "a.txt", "--out", name, "--force"), name, kind)
    assert stat.S_ISCHR(os.lstat(here / "nulldev").st_mode) and (here / "link").is_symlink()
    assert stat.S_ISFIFO(os.lstat(here / "fifo").st_mode)


def test_out_onto_a_link_to_a_regular_file_is_refused(here, model_dir):
    (here / "real.jsonl").write_text("precious\n")
    (here / "o.jsonl").symlink_to("real.jsonl")
    refused(tag(here, model_dir, "a.txt", "--out", "o.jsonl", "--force"), "symbolic link", "name the file it points to")
    assert (here / "real.jsonl").read_text() == "precious\n" and (here / "o.jsonl").is_symlink()


def test_out_with_a_trailing_slash_names_a_folder_and_is_refused(here, model_dir):
    line = refused(tag(here, model_dir, "a.txt", "--out", "newdir/"), "newdir/", "names a folder")
    assert "newdir/out.jsonl" in line
    assert not (here / "newdir").exists()


def test_a_copy_of_tags_output_is_not_taken_for_tags_own(here, model_dir):
    (here / "x.txt").write_text(SENTENCE)
    assert tag(here, model_dir, "x.txt", "--out", "out.jsonl").code == 0
    subprocess.run(["cp", "-a", str(here / "out.jsonl"), str(here / "cur.jsonl")], check=True)
    with open(here / "cur.jsonl", "a") as handle:
        handle.write("note\n")
    refused(tag(here, model_dir, "x.txt", "--out", "cur.jsonl"), "cur.jsonl", "not written by stanceframe tag")
    assert (here / "cur.jsonl").read_text().endswith("note\n")
    subprocess.run(["cp", "-a", str(here / "out.jsonl"), str(here / "same.jsonl")], check=True)  # unedited copy
    refused(tag(here, model_dir, "x.txt", "--out", "same.jsonl"), "not written by stanceframe tag")
    with open(here / "out.jsonl", "a") as handle:  # tag's own file, edited in place
        handle.write("note\n")
    refused(tag(here, model_dir, "x.txt", "--out", "out.jsonl"), "not written by stanceframe tag")
    assert tag(here, model_dir, "x.txt", "--out", "cur.jsonl", "--force").code == 0
    assert tag(here, model_dir, "x.txt", "--out", "cur.jsonl").code == 0  # now tag's own: made again


def test_a_full_disk_during_tag_is_one_line_and_resume_completes(here, model_dir, monkeypatch):
    lines = "".join(json.dumps({"id": f"d{i}", "text": f"Seoul sends shells number {i}."}) + "\n" for i in range(40))
    (here / "many.jsonl").write_text(lines)
    whole = tag(here, model_dir, "many.jsonl", "--out", "whole.jsonl")
    assert whole.code == 0
    real_fsync, calls = os.fsync, []

    def fsync(fd):  # the disk fills up after the first commit (output and progress file)
        calls.append(fd)
        if len(calls) > 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    full = tag(here, model_dir, "many.jsonl", "--out", "o.jsonl")
    line = refused(full, "o.jsonl.part", "disk full", "--resume")
    assert "No space left on device" in line
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert tag(here, model_dir, "many.jsonl", "--out", "o.jsonl", "--resume").code == 0
    assert (here / "o.jsonl").read_bytes() == (here / "whole.jsonl").read_bytes()
    assert not list(here.glob(".*.tmp"))


# --------------------------------------------------------------------------- model folders


def labelled(here: Path) -> Path:
    from support.tagging import gold_sentences

    path = here / "ok.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in gold_sentences()), encoding="utf-8")
    return path


def train(here: Path, export: str):
    result = run_cli("train", "--family", "tfidf-logreg", "--config", "none", "--data", labelled(here), "--no-track",
                     "--export", export, cwd=here)
    assert "Traceback" not in result.err, result.err
    return result


def test_train_export_never_removes_a_folder_that_is_not_a_model(here):
    (here / "web" / "src").mkdir(parents=True)
    (here / "web" / "manifest.json").write_text("{}\n")  # a web app's manifest, not a model's
    (here / "web" / "src" / "app.js").write_text("code\n")
    refused(train(here, "web"), "web", "not a stanceframe model folder")
    assert (here / "web" / "src" / "app.js").read_text() == "code\n"
    assert (here / "web" / "manifest.json").read_text() == "{}\n"
    (here / "notes").mkdir()
    (here / "notes" / "todo.txt").write_text("mine\n")
    refused(train(here, "notes"), "notes", "not empty")
    assert (here / "notes" / "todo.txt").read_text() == "mine\n"


def test_train_export_replaces_only_a_models_own_files(here):
    assert train(here, "m").code == 0
    (here / "m" / "stance" / "intercept.npy").unlink(missing_ok=True)  # a model to be replaced whole
    (here / "m" / "README.md").write_text("my notes on this model\n")  # the user's, beside the model
    assert train(here, "m").code == 0
    assert (here / "m" / "README.md").read_text() == "my notes on this model\n"
    assert run_cli("tag", "a.txt", "--model", "m", cwd=here).code == 0
    (here / "stance").mkdir()
    (here / "stance" / "mine.txt").write_text("mine\n")  # a user's folder where a task folder goes
    shutil.rmtree(here / "m" / "stance")
    os.symlink(here / "stance", here / "m" / "stance")
    refused(train(here, "m"), "its stance is a symbolic link")
    assert (here / "stance" / "mine.txt").read_text() == "mine\n"


def test_compare_promote_never_removes_a_folder_that_is_not_a_model(project):
    (project / "web" / "src").mkdir(parents=True)
    (project / "web" / "manifest.json").write_text('{"name": "my app"}\n')
    (project / "web" / "src" / "app.js").write_text("code\n")
    config = project / "training" / "promote.toml"
    config.write_text('[data]\ngold = ["data/seed/labels.jsonl"]\n[cv]\nn_splits = 2\nn_repeats = 1\n'
                      '[promote]\nexport = "web"\nregister = "best"\n[report]\ndir = "out/compare"\n'
                      '[families.lexicon]\n')
    result = run_cli("compare", "--config", config, "--promote", "--no-track", "--quiet", cwd=project)
    assert result.code == 2 and "not a stanceframe model folder" in result.err.strip().splitlines()[-1]
    assert (project / "web" / "src" / "app.js").read_text() == "code\n"
    config.write_text(config.read_text().replace('export = "web"', 'export = "models/champion"'))
    result = run_cli("compare", "--config", config, "--promote", "--no-track", "--quiet", cwd=project)
    assert result.code == 0, result.err
    assert (project / "models" / "champion" / "manifest.json").is_file()


# --------------------------------------------------------------------------- inspect --html / --open


def test_inspect_html_never_replaces_its_article_or_another_file(here, model_dir):
    result = run_cli("inspect", "a.txt", "--model", model_dir, "--html", "a.txt", cwd=here)
    refused(result, "a.txt", "is an input")
    assert (here / "a.txt").read_text() == SENTENCE
    (here / "notes.html").write_text("<p>my notes</p>\n")
    refused(run_cli("inspect", "a.txt", "--model", model_dir, "--html", "notes.html", cwd=here),
            "notes.html", "not a page stanceframe inspect wrote")
    assert (here / "notes.html").read_text() == "<p>my notes</p>\n"
    assert run_cli("inspect", "a.txt", "--model", model_dir, "--html", "page.html", cwd=here).code == 0
    assert run_cli("inspect", "a.txt", "--model", model_dir, "--html", "page.html", cwd=here).code == 0  # its own
    assert "stanceframe" in (here / "page.html").read_text()


@pytest.mark.parametrize("record_id", ["../escaped/pwn", "/ABSOLUTE/pwn", "..", ".hidden"])
def test_inspect_open_names_its_page_inside_the_folder(here, model_dir, monkeypatch, record_id):
    import webbrowser

    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    work = here / "work"
    work.mkdir()
    record_id = record_id.replace("/ABSOLUTE", str(here / "abs"))
    (here / "r.jsonl").write_text(json.dumps({"id": record_id, "text": SENTENCE.strip()}) + "\n")
    result = run_cli("inspect", here / "r.jsonl", "--model", model_dir, "--open", cwd=work)
    assert result.code == 0, result.err
    pages = list(work.iterdir())
    assert len(pages) == 1 and pages[0].name.endswith(".inspect.html") and not pages[0].name.startswith(".")
    assert opened == [pages[0].resolve().as_uri()]
    assert sorted(p.name for p in here.iterdir()) == ["a.txt", "r.jsonl", "work"]  # nothing outside


# --------------------------------------------------------------------------- data build --sentences


def seed_folder(here: Path) -> tuple[Path, Path]:
    """A folder of one article and its gold labels (one sentence)."""
    (here / "seeds").mkdir()
    shutil.copy(here / "a.txt", here / "seeds" / "a.txt")
    labels = here / "labels.jsonl"
    labels.write_text(json.dumps({"id": "a-p1-s1", "doc_id": "a", "paragraph": 1, "text": SENTENCE.strip(),
                                  "stance": "support", "framing": "neutral"}) + "\n")
    return here / "seeds", labels


def test_data_build_never_overwrites_the_gold_labels_or_an_article(here):
    seeds, labels = seed_folder(here)
    gold = labels.read_bytes()
    for target, why in ((labels, "is an input"), (seeds / "a.txt", "is an input"),
                        (here / "a.txt", "is not a sentences file")):
        result = run_cli("data", "build", "--seeds", seeds, "--labels", labels, "--sentences", target, cwd=here)
        refused(result, str(target), why)
    assert labels.read_bytes() == gold and (here / "a.txt").read_text() == SENTENCE
    (here / "other.jsonl").write_text('{"id": "x", "text": "Seoul refused.", "stance": "none"}\n')  # labels too
    refused(run_cli("data", "build", "--seeds", seeds, "--labels", labels, "--sentences", "other.jsonl", cwd=here),
            "is not a sentences file")
    for _ in range(2):  # a new file, then its own file again
        result = run_cli("data", "build", "--seeds", seeds, "--labels", labels, "--sentences", "s.jsonl", cwd=here)
        assert result.code == 0, result.err
    assert [r["id"] for r in read_jsonl(here / "s.jsonl")] == ["a-p1-s1"]


# --------------------------------------------------------------------------- annotate export --out


def test_annotate_export_never_overwrites_the_store_or_an_article(here):
    _, labels = seed_folder(here)
    assert run_cli("annotate", "import", labels, "--store", "s.sqlite", "--annotator", "ann", cwd=here).code == 0
    assert run_cli("annotate", "import", labels, "--store", "t.sqlite", cwd=here).code == 0  # another store
    def contents():  # the stores' rows (a checkpoint may move bytes between a store and its -wal) and the article
        import sqlite3

        dumps = {}
        for name in ("s.sqlite", "t.sqlite"):
            with sqlite3.connect(here / name) as db:
                dumps[name] = list(db.iterdump())
        return {**dumps, "a.txt": (here / "a.txt").read_bytes()}

    before = contents()
    for out, why in (("s.sqlite", "is an input"), ("t.sqlite", "is not a labels file"),
                     ("a.txt", "is not a labels file")):
        refused(run_cli("annotate", "export", "--store", "s.sqlite", "--out", out, cwd=here), out, why)
    (here / "link.jsonl").symlink_to("s.sqlite")
    refused(run_cli("annotate", "export", "--store", "s.sqlite", "--out", "link.jsonl", cwd=here), "is an input")
    assert contents() == before
    for _ in range(2):  # a new labels file, then export's own file again
        assert run_cli("annotate", "export", "--store", "s.sqlite", "--out", "l.jsonl", cwd=here).code == 0
    assert [r["id"] for r in read_jsonl(here / "l.jsonl")] == ["a-p1-s1"]


# --------------------------------------------------------------------------- MLflow: temporary folders, store paths


def test_a_runs_model_load_leaves_no_temporary_folder_behind(here, model_dir, monkeypatch):
    from support.cli import run_process

    from stanceframe.tracking import Tracker, local_store_uri

    uri = local_store_uri(here / "store")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # what set_tracking_uri exports, put back after the test
    tracker = Tracker(uri, "write-safety", root=here / "store")
    with tracker.run("tfidf"):
        logged = tracker.log_bundle(model_dir)
    (here / "tmp").mkdir()
    env = {"TMPDIR": str(here / "tmp"), "MLFLOW_TRACKING_URI": uri}
    for spec in (logged["model_uri"], "runs:/0123456789abcdef/model"):  # loaded, and a failed fetch
        proc = run_process("tag", "a.txt", "--model", spec, cwd=here, env=env)
        assert proc.returncode in (0, 2) and b"Traceback" not in proc.stderr, proc.stderr.decode()
        assert not [p.name for p in (here / "tmp").iterdir() if p.name.startswith("stanceframe-model-")]
    assert proc.returncode == 2 and b"cannot fetch the model" in proc.stderr


def test_a_sqlite_store_in_a_missing_folder_is_refused_not_created(here):
    _, labels = seed_folder(here)
    uri = f"sqlite:///{here}/typo/dir/x.db"
    result = run_cli("train", "--family", "lexicon", "--config", "none", "--data", labels, "--tracking-uri", uri,
                     cwd=here)
    refused(result, uri, f"{here}/typo/dir does not exist")
    assert not (here / "typo").exists()
