"""The `stanceframe data build` and `data stats` commands: exit codes, messages, outputs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.paths import REPO, VENV_BIN

from stanceframe import cli
from stanceframe.errors import UnlabelledSentencesError

ARTICLE = (
    "Seoul will send shells to Kyiv. The U.S. Pentagon welcomed the move.\n"
    "Moscow called it a \"big mistake.\" Mr. Putin warned Seoul.\n"
    "Join the GlobalSecurity.org mailing list |\n"
)
LABELS = [
    ("art-p1-s1", "Seoul will send shells to Kyiv.", "support", "western"),
    ("art-p1-s2", "The U.S. Pentagon welcomed the move.", "support", "neutral"),
    ("art-p2-s1", "Moscow called it a \"big mistake.\"", "restraint", "neutral"),
    ("art-p2-s2", "Mr. Putin warned Seoul.", "restraint", "neutral"),
]


def make_project(tmp_path: Path, labels=LABELS) -> dict[str, Path]:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "art.txt").write_text(ARTICLE, encoding="utf-8")
    labels_path = tmp_path / "labels.jsonl"
    with open(labels_path, "w", encoding="utf-8") as fh:
        for id_, text, stance, framing in labels:
            paragraph = int(id_.split("-p")[1].split("-")[0])
            fh.write(json.dumps({"id": id_, "doc_id": "art", "paragraph": paragraph, "text": text,
                                 "stance": stance, "framing": framing, "source": "gold"}) + "\n")
    return {"seeds": seeds, "labels": labels_path, "sentences": tmp_path / "out" / "sentences.jsonl"}


def build_args(paths: dict[str, Path]) -> list[str]:
    return ["data", "build", "--seeds", str(paths["seeds"]), "--sentences", str(paths["sentences"]),
            "--labels", str(paths["labels"])]


def run_command(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed ``stanceframe`` script as a separate process."""
    return subprocess.run([str(VENV_BIN / "stanceframe"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


# --------------------------------------------------------------------------- data build


def test_data_build_succeeds_on_a_labelled_seed(tmp_path, capsys):
    paths = make_project(tmp_path)
    assert cli.main(build_args(paths)) == 0
    err = capsys.readouterr().err
    assert "4 sentences" in err and str(paths["sentences"]) in err
    written = [json.loads(line) for line in paths["sentences"].read_text(encoding="utf-8").splitlines()]
    assert [(s["id"], s["text"]) for s in written] == [(i, t) for i, t, _, _ in LABELS]
    assert all(set(s) >= {"id", "doc_id", "paragraph", "sentence", "start", "end", "text"} for s in written)


def test_data_build_fails_when_a_seed_sentence_has_no_label(tmp_path, capsys):
    paths = make_project(tmp_path, labels=[LABELS[0], LABELS[2]])
    assert cli.main(build_args(paths)) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].startswith("stanceframe: error: ")
    assert "2 sentence(s) have no labels" in lines[0]
    assert [ln.strip() for ln in lines[1:]] == ["unlabelled: art-p1-s2", "unlabelled: art-p2-s2"]
    assert "Traceback" not in err


def test_data_build_fails_without_a_labels_file(tmp_path, capsys):
    paths = make_project(tmp_path)
    paths["labels"].unlink()
    assert cli.main(build_args(paths)) == 2
    err = capsys.readouterr().err
    assert "4 sentence(s) have no labels" in err
    assert "unlabelled: art-p1-s1" in err


def test_data_build_reports_a_bad_labels_line_in_one_line(tmp_path, capsys):
    paths = make_project(tmp_path)
    with open(paths["labels"], "a", encoding="utf-8") as fh:
        fh.write('{"id": "extra", "text": "x", "stance": "pro", "framing": "neutral"}\n')
    assert cli.main(build_args(paths)) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"stanceframe: error: {paths['labels']}:5: unknown stance label 'pro' "
                           "(expected one of: support, restraint, none)")
    assert not paths["sentences"].exists()  # rejected before anything was written


def test_data_build_missing_seed_folder_is_a_user_error(tmp_path, capsys):
    paths = make_project(tmp_path)
    paths["seeds"] = tmp_path / "no-such-folder"
    assert cli.main(build_args(paths)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"stanceframe: error: {paths['seeds']}: ")
    assert len(err.strip().splitlines()) == 1


def test_data_build_as_a_real_command_exits_2_without_a_traceback(tmp_path):
    paths = make_project(tmp_path, labels=LABELS[:3])
    result = run_command(*build_args(paths), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0].startswith("stanceframe: error: ")
    assert "unlabelled: art-p2-s2" in result.stderr
    assert result.stdout == ""

    with pytest.raises(UnlabelledSentencesError):  # --debug: the exception (its traceback), no exit 2
        cli.main(["--debug", *build_args(paths)])


def test_data_build_of_the_committed_seeds_reproduces_the_committed_sentences(tmp_path, capsys):
    out = tmp_path / "sentences.jsonl"
    code = cli.main(["data", "build", "--seeds", str(REPO / "seeds"), "--sentences", str(out),
                     "--labels", str(REPO / "data" / "seed" / "labels.jsonl")])
    assert code == 0, capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == (REPO / "data" / "seed" / "sentences.jsonl").read_text(encoding="utf-8")


def test_data_build_with_project_defaults(project, capsys):
    (project / "data" / "seed" / "sentences.jsonl").unlink()
    assert cli.main(["data", "build"]) == 0
    assert (project / "data" / "seed" / "sentences.jsonl").read_text(encoding="utf-8") == \
        (REPO / "data" / "seed" / "sentences.jsonl").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- data stats


def _table_rows(out: str) -> dict[tuple[str, str], list[int]]:
    rows = {}
    for line in out.splitlines():
        cells = line.split()
        if len(cells) >= 3 and all(c.isdigit() for c in cells[2:]):
            rows[(cells[0], cells[1])] = [int(c) for c in cells[2:]]
    return rows


def test_data_stats_prints_label_counts(tmp_path, capsys):
    paths = make_project(tmp_path)
    assert cli.main(["data", "stats", str(paths["labels"])]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header == ["task", "label", "labels.jsonl", "total"]
    rows = _table_rows(out)
    assert rows[("stance", "support")] == [2, 2]
    assert rows[("stance", "restraint")] == [2, 2]
    assert rows[("stance", "none")] == [0, 0]
    assert rows[("framing", "western")] == [1, 1]
    assert rows[("framing", "russian")] == [0, 0]
    assert rows[("framing", "neutral")] == [3, 3]
    assert rows[("all", "sentences")] == [4, 4]


def test_data_stats_of_two_files_has_a_column_each_and_a_total(tmp_path, capsys):
    paths = make_project(tmp_path)
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"id": "x1", "text": "The Kiev regime asked.", "stance": "none",
                                 "framing": "russian", "source": "synthetic"}) + "\n", encoding="utf-8")
    assert cli.main(["data", "stats", str(paths["labels"]), str(extra)]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert rows[("framing", "russian")] == [0, 1, 1]
    assert rows[("stance", "none")] == [0, 1, 1]
    assert rows[("all", "sentences")] == [4, 1, 5]


def test_data_stats_defaults_to_the_project_data(project, capsys):
    from stanceframe.dataset import load_labelled

    assert cli.main(["data", "stats"]) == 0
    out = capsys.readouterr().out
    assert out.split()[2:5] == ["seed/labels.jsonl", "written/labels.jsonl", "contrast.jsonl"]
    rows = _table_rows(out)
    sets = [load_labelled(project / "data" / part / "labels.jsonl") for part in ("seed", "written")]
    sets.append(load_labelled(project / "data" / "contrast" / "contrast.jsonl"))
    for task in ("stance", "framing"):
        for label in sets[0].label_counts(task):
            counts = [s.label_counts(task)[label] for s in sets]
            assert rows[(task, label)] == [*counts, sum(counts)]
    assert rows[("all", "sentences")] == [*map(len, sets), sum(map(len, sets))]


def test_data_stats_bad_file_exits_2_with_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "x", "stance": "none", "framing": "neutral"}\n{broken\n', encoding="utf-8")
    assert cli.main(["data", "stats", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"stanceframe: error: {bad}:2: invalid JSON")
    assert "Traceback" not in err


def test_data_stats_by_voice_counts_the_written_corpus_per_catalog_field(tmp_path, capsys):
    labels = tmp_path / "labels.jsonl"
    rows = [("tass-a-p1-s1", "tass-a", "support", "russian"), ("tass-a-p2-s1", "tass-a", "none", "russian"),
            ("wire-b-p1-s1", "wire-b", "restraint", "western")]
    labels.write_text("".join(json.dumps({"id": i, "doc_id": d, "paragraph": 1, "text": f"Sentence {i}.",
                                          "stance": s, "framing": f}) + "\n" for i, d, s, f in rows), encoding="utf-8")
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("".join(json.dumps({"doc_id": d, "voice": v, "topic": "t", "date": date, "synthetic": True}) + "\n"
                               for d, v, date in (("tass-a", "tass", "2024-06-21"), ("wire-b", "wire", "2023-01-02"))),
                       encoding="utf-8")
    assert cli.main(["data", "stats", "--by", "voice", "--catalog", str(catalog), str(labels)]) == 0
    table = _rows_by_first_cell(capsys.readouterr().out)
    # voice, articles, sentences, support, restraint, none, western, russian, neutral
    assert table["tass"] == [1, 2, 1, 0, 1, 0, 2, 0]
    assert table["wire"] == [1, 1, 0, 1, 0, 1, 0, 0]
    assert table["all"] == [2, 3, 1, 1, 1, 1, 2, 0]
    assert cli.main(["data", "stats", "--by", "year", "--catalog", str(catalog), str(labels)]) == 0
    assert _rows_by_first_cell(capsys.readouterr().out)["2024"][:2] == [1, 2]


def _rows_by_first_cell(out: str) -> dict[str, list[int]]:
    return {cells[0]: [int(c) for c in cells[1:]] for cells in (line.split() for line in out.splitlines())
            if len(cells) > 2 and all(c.isdigit() for c in cells[1:])}
