"""dataset: validation of labelled files (each error with file:line and its reason), CSV
labelled files, tasks outside the schema, grouped folds, the seed-set build, and the
committed data itself."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from support.paths import REPO

from stanceframe.data_build import build_seed_set
from stanceframe.dataset import grouped_folds, load_labelled, load_many
from stanceframe.errors import DataFileError, UnlabelledSentencesError
from stanceframe.schema import load_schema


def rec(id_, text="Seoul will send shells.", stance="support", framing="neutral", **extra) -> dict:
    return {"id": id_, "text": text, "stance": stance, "framing": framing, **extra}


def write_lines(path: Path, lines: list) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
                    encoding="utf-8")
    return path


# --------------------------------------------------------------------------- valid files


def test_valid_jsonl(tmp_path):
    path = write_lines(tmp_path / "gold.jsonl", [
        rec("a-p1-s1", "Seoul will send shells.", "support", "neutral", doc_id="a", paragraph=1),
        rec("a-p1-s2", "The Kiev regime asked for more.", "none", "russian", doc_id="a", paragraph=1),
        "",
        rec("a-p2-s1", "Seoul refused.", "restraint", "western", doc_id="a", paragraph=2, source="gold"),
    ])
    data = load_labelled(path)
    assert len(data) == 3
    assert data.tasks == ["stance", "framing"]
    assert data.ids == ["a-p1-s1", "a-p1-s2", "a-p2-s1"]
    assert data.labels("stance") == ["support", "none", "restraint"]
    assert data.label_counts("framing") == {"western": 1, "russian": 1, "neutral": 1}
    assert data.groups == ["a#p1", "a#p1", "a#p2"]
    assert [e.origin for e in data.examples] == [f"{path}:1", f"{path}:2", f"{path}:4"]
    assert data.notices == []


def test_labels_are_stripped_and_a_task_subset_can_be_asked_for(tmp_path):
    path = write_lines(tmp_path / "gold.jsonl", [rec("a", stance=" support ", framing="??")])
    data = load_labelled(path, tasks=["stance"])
    assert data.tasks == ["stance"]
    assert data.labels("stance") == ["support"]


def test_target_field(tmp_path):
    path = write_lines(tmp_path / "gold.jsonl", [rec("a", target="Ukraine"), rec("b", target="NATO")])
    data = load_labelled(path, target_field="target")
    assert data.targets == ["Ukraine", "NATO"]
    bad = write_lines(tmp_path / "bad.jsonl", [rec("a", target="Ukraine"), rec("b")])
    with pytest.raises(DataFileError, match=r"bad\.jsonl:2: missing field 'target'"):
        load_labelled(bad, target_field="target")


# --------------------------------------------------------------------------- each validation error

ERRORS = {
    "invalid-json": (
        [rec("a"), '{"id": "b", "text": "x", "stance": "support" "framing": "neutral"}'],
        2, "invalid JSON",
    ),
    "not-an-object": ([rec("a"), "[1, 2]"], 2, "expected a JSON object"),
    "missing-stance": ([rec("a"), {"id": "b", "text": "x", "framing": "neutral"}], 2, "missing field 'stance'"),
    "missing-framing": ([{"id": "a", "text": "x", "stance": "none"}], 1, "missing field 'framing'"),
    "missing-text": ([{"id": "a", "stance": "none", "framing": "neutral"}], 1, "missing field 'text'"),
    "missing-id": ([rec("a"), {"text": "x", "stance": "none", "framing": "neutral"}], 2, "missing field 'id'"),
    "unknown-stance": ([rec("a"), rec("b"), rec("c", stance="pro")], 3, "unknown stance label 'pro'"),
    "unknown-framing": ([rec("a", framing="Western")], 1, "unknown framing label 'Western'"),
    "empty-text": ([rec("a"), rec("b", text="")], 2, "empty text"),
    "blank-text": ([rec("a", text="   \n ")], 1, "empty text"),
    "unpaired-surrogate": ([rec("a"), '{"id": "b", "text": "Kyiv \\ud800", "stance": "none", "framing": "neutral"}'],
                           2, "unpaired surrogate escape \\ud800"),
    "duplicate-id": ([rec("a"), "", rec("b"), rec("a", text="Another.")], 4, "duplicate id 'a' (first on line 1)"),
}


@pytest.mark.parametrize("lines, line, reason", list(ERRORS.values()), ids=list(ERRORS))
def test_each_validation_error_names_file_line_and_reason(tmp_path, lines, line, reason):
    path = write_lines(tmp_path / "labels.jsonl", lines)
    with pytest.raises(DataFileError) as info:
        load_labelled(path)
    err = info.value
    assert err.path == str(path)
    assert err.line == line
    assert reason in err.reason
    assert str(err).startswith(f"{path}:{line}: ")
    assert "\n" not in str(err)


def test_file_level_errors(tmp_path):
    with pytest.raises(DataFileError, match="file not found"):
        load_labelled(tmp_path / "missing.jsonl")
    (tmp_path / "labels.txt").write_text("hello\n")
    with pytest.raises(DataFileError, match="unsupported labelled-file type"):
        load_labelled(tmp_path / "labels.txt")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(DataFileError, match="no records"):
        load_labelled(tmp_path / "empty.jsonl")


def test_validation_error_is_raised_before_anything_is_written(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "art.txt").write_text("Seoul will send shells.\n", encoding="utf-8")
    labels = write_lines(tmp_path / "labels.jsonl", [rec("art-p1-s1"), rec("art-p1-s1")])
    sentences = tmp_path / "data" / "sentences.jsonl"
    with pytest.raises(DataFileError, match=r"labels\.jsonl:2: duplicate id"):
        build_seed_set(seeds, sentences, labels)
    assert not sentences.exists()
    assert not sentences.parent.exists()


# --------------------------------------------------------------------------- CSV labelled files


def test_csv_labelled_file(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(
        "id,text,stance,framing,note\n"
        'c1,"Seoul, after months of caution, will lend shells.",restraint,neutral,lend not sell\n'
        "c2,The collective West pushed Seoul.,none,russian,\n",
        encoding="utf-8",
    )
    data = load_labelled(path)
    assert data.ids == ["c1", "c2"]
    assert data.texts[0] == "Seoul, after months of caution, will lend shells."
    assert data.labels("stance") == ["restraint", "none"]
    assert data.labels("framing") == ["neutral", "russian"]
    assert [e.origin for e in data.examples] == [f"{path}:2", f"{path}:3"]


@pytest.mark.parametrize("body, line, reason", [
    ("c1,Fine.,none,neutral\nc2,Bad.,none,maybe\n", 3, "unknown framing label 'maybe'"),
    ("c1,Fine.,none,neutral\nc2,,none,neutral\n", 3, "empty text"),
    ("c1,Fine.,none,neutral\nc1,Again.,none,neutral\n", 3, "duplicate id 'c1'"),
    ("c1,Fine.,none,neutral,extra\n", 2, "fields"),
])
def test_csv_labelled_file_errors(tmp_path, body, line, reason):
    path = tmp_path / "labels.csv"
    path.write_text("id,text,stance,framing\n" + body, encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_labelled(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert reason in info.value.reason


def test_csv_without_a_task_column(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("id,text,stance\nc1,Fine.,none\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"labels\.csv:2: missing field 'framing'"):
        load_labelled(path)


# --------------------------------------------------------------------------- tasks outside the schema


def test_task_absent_from_the_schema_takes_its_labels_from_the_data(tmp_path):
    path = write_lines(tmp_path / "tone.jsonl", [
        rec("a", tone="calm"), rec("b", tone="alarmed"), rec("c", tone="calm"),
    ])
    data = load_labelled(path, tasks=["stance", "tone"])
    assert data.tasks == ["stance", "tone"]
    assert data.labels("tone") == ["calm", "alarmed", "calm"]
    assert data.schema.task("tone").label_names == ["alarmed", "calm"]
    assert data.schema.task("stance").label_names == ["support", "restraint", "none"]
    assert len(data.notices) == 1
    assert "'tone'" in data.notices[0] and "alarmed, calm" in data.notices[0] and str(path) in data.notices[0]
    # the schema's own tasks are still validated
    bad = write_lines(tmp_path / "bad.jsonl", [rec("a", stance="pro", tone="calm")])
    with pytest.raises(DataFileError, match="unknown stance label"):
        load_labelled(bad, tasks=["stance", "tone"])


def test_task_absent_from_the_schema_still_needs_a_value_on_every_line(tmp_path):
    path = write_lines(tmp_path / "tone.jsonl", [rec("a", tone="calm"), rec("b")])
    with pytest.raises(DataFileError, match=r"tone\.jsonl:2: missing field 'tone'"):
        load_labelled(path, tasks=["tone"])


def test_load_many_rejects_an_id_in_two_files(tmp_path):
    one = write_lines(tmp_path / "one.jsonl", [rec("a"), rec("b")])
    two = write_lines(tmp_path / "two.jsonl", [rec("c"), rec("a")])
    with pytest.raises(DataFileError, match="'a' appears in more than one file"):
        load_many([one, two])
    three = write_lines(tmp_path / "three.jsonl", [rec("d", source="synthetic")])
    both = load_many([one, three])
    assert both.ids == ["a", "b", "d"]
    assert both.where_source({"synthetic"}).ids == ["d"]
    assert both.where_source({"synthetic"}, keep=False).ids == ["a", "b"]


def test_fingerprint_changes_with_a_label(tmp_path):
    one = load_labelled(write_lines(tmp_path / "one.jsonl", [rec("a"), rec("b")]))
    same = load_labelled(write_lines(tmp_path / "same.jsonl", [rec("a"), rec("b")]))
    other = load_labelled(write_lines(tmp_path / "other.jsonl", [rec("a"), rec("b", stance="none")]))
    assert one.fingerprint() == same.fingerprint()
    assert one.fingerprint() != other.fingerprint()


# --------------------------------------------------------------------------- grouped folds


def _grouped_data(n_groups: int = 30, per_group: int = 3):
    labels, groups = [], []
    for g in range(n_groups):
        label = ("support", "restraint", "none")[g % 3]
        for _ in range(per_group):
            labels.append(label)
            groups.append(f"doc#p{g}")
    return labels, groups


def test_grouped_folds_never_put_a_group_on_both_sides():
    labels, groups = _grouped_data()
    g = np.asarray(groups)
    folds = grouped_folds(labels, groups, n_splits=5, n_repeats=3, seed=7)
    assert len(folds) == 15
    for train, test in folds:
        assert set(g[train]).isdisjoint(set(g[test]))
        assert len(train) + len(test) == len(labels)
    for repeat in range(3):  # within a repeat every sentence is tested exactly once
        tested = np.concatenate([test for _, test in folds[repeat * 5:(repeat + 1) * 5]])
        assert sorted(tested.tolist()) == list(range(len(labels)))


def test_grouped_folds_are_deterministic_for_a_seed():
    labels, groups = _grouped_data()
    first = grouped_folds(labels, groups, n_splits=5, n_repeats=2, seed=3)
    again = grouped_folds(labels, groups, n_splits=5, n_repeats=2, seed=3)
    other = grouped_folds(labels, groups, n_splits=5, n_repeats=2, seed=4)
    assert all(np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0]) for a, b in zip(first, again))
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, other))


def test_grouped_folds_are_stratified():
    labels, groups = _grouped_data()
    y = np.asarray(labels)
    for _train, test in grouped_folds(labels, groups, n_splits=5, n_repeats=3, seed=0):
        counts = Counter(y[test].tolist())
        assert set(counts) == {"support", "restraint", "none"}
        # 18 test sentences per fold, 6 per class when perfectly stratified; allow one group off
        assert all(abs(n - 6) <= 3 for n in counts.values()), counts


def test_grouped_folds_need_two_groups():
    with pytest.raises(DataFileError, match="at least 2"):
        grouped_folds(["support", "none"], ["g", "g"])
    folds = grouped_folds(["support", "none", "support", "none"], ["g1", "g1", "g2", "g2"], n_splits=5, n_repeats=1)
    assert len(folds) == 2  # k shrinks to the number of groups


# --------------------------------------------------------------------------- the seed-set build


def test_build_seed_set_writes_sentences_and_checks_labels(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "art.txt").write_text("Seoul will send shells. The U.S. Pentagon welcomed it.\nMoscow called it a mistake.\n",
                                   encoding="utf-8")
    labels = write_lines(tmp_path / "labels.jsonl", [
        rec("art-p1-s1", "Seoul will send shells.", doc_id="art", paragraph=1),
        rec("art-p1-s2", "The U.S. Pentagon welcomed it.", "none", doc_id="art", paragraph=1),
    ])
    sentences = tmp_path / "out" / "sentences.jsonl"
    with pytest.raises(UnlabelledSentencesError) as info:
        build_seed_set(seeds, sentences, labels)
    assert info.value.ids == ["art-p2-s1"]
    written = [json.loads(line) for line in sentences.read_text().splitlines()]
    assert [s["id"] for s in written] == ["art-p1-s1", "art-p1-s2", "art-p2-s1"]  # written to label from

    with open(labels, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec("art-p2-s1", "Moscow called it a mistake.", "restraint", doc_id="art", paragraph=2)) + "\n")
    report = build_seed_set(seeds, sentences, labels)
    assert (report.sentences, report.documents, report.labelled) == (3, 1, 3)


def test_build_seed_set_rejects_labels_whose_text_no_longer_matches(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "art.txt").write_text("Seoul will send shells.\n", encoding="utf-8")
    labels = write_lines(tmp_path / "labels.jsonl", [rec("art-p1-s1", "Seoul will lend shells.")])
    with pytest.raises(DataFileError, match="no longer match"):
        build_seed_set(seeds, tmp_path / "sentences.jsonl", labels)


@pytest.mark.parametrize("make", ["missing", "file", "empty"])
def test_build_seed_set_bad_seed_folder(tmp_path, make):
    seeds = tmp_path / "seeds"
    if make == "file":
        seeds.write_text("not a folder")
    elif make == "empty":
        seeds.mkdir()
    with pytest.raises(DataFileError) as info:
        build_seed_set(seeds, tmp_path / "sentences.jsonl", tmp_path / "labels.jsonl")
    assert str(info.value).startswith(str(seeds))


# --------------------------------------------------------------------------- the committed data


@pytest.fixture(scope="module")
def committed():
    schema = load_schema(REPO / "training" / "schema.toml")
    gold = load_labelled(REPO / "data" / "seed" / "labels.jsonl", schema=schema)
    contrast = load_labelled(REPO / "data" / "contrast" / "contrast.jsonl", schema=schema)
    sentences = [json.loads(line) for line in (REPO / "data" / "seed" / "sentences.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    return schema, gold, contrast, sentences


def test_every_seed_sentence_is_labelled_on_both_tasks(committed):
    schema, gold, _, sentences = committed
    assert gold.tasks == ["stance", "framing"]
    by_id = {e.id: e for e in gold.examples}
    assert len(sentences) > 0
    missing = [s["id"] for s in sentences if s["id"] not in by_id]
    assert missing == []
    for s in sentences:
        example = by_id[s["id"]]
        assert example.text == s["text"]
        assert example.labels["stance"] in schema.task("stance").label_names
        assert example.labels["framing"] in schema.task("framing").label_names
    assert set(by_id) == {s["id"] for s in sentences}  # no stale labels either
    assert {e.source for e in gold.examples} == {"gold"}


def test_every_label_has_at_least_five_gold_examples(committed):
    schema, gold, _, _ = committed
    for task in ("stance", "framing"):
        counts = gold.label_counts(task)
        for label in schema.task(task).label_names:
            assert counts[label] >= 5, f"{task}={label}: only {counts[label]} gold examples"


def test_contrast_set_is_synthetic_and_covers_every_label(committed):
    schema, gold, contrast, _ = committed
    assert len(contrast) >= 60
    assert {e.source for e in contrast.examples} == {"synthetic"}
    for task in ("stance", "framing"):
        assert set(contrast.labels(task)) == set(schema.task(task).label_names)
    assert set(contrast.ids).isdisjoint(gold.ids)


# --------------------------------------------------------------------------- the project's corpora


def _corpus(tmp_path, name, articles: dict[str, str], labels: list[dict], catalog: list[dict] | None = None):
    from stanceframe.paths import Corpus

    folder = tmp_path / name / "articles"
    folder.mkdir(parents=True)
    for file_name, text in articles.items():
        (folder / file_name).write_text(text, encoding="utf-8")
    labels_path = write_lines(tmp_path / name / "labels.jsonl", labels)
    catalog_path = write_lines(tmp_path / name / "catalog.jsonl", catalog) if catalog is not None else None
    return Corpus(name, folder, tmp_path / name / "sentences.jsonl", labels_path, catalog_path)


def _label(id_, text, stance="none", framing="neutral"):
    doc, _, rest = id_.rpartition("-p")
    return {"id": id_, "doc_id": doc, "paragraph": int(rest.split("-")[0]), "text": text, "stance": stance,
            "framing": framing, "source": "synthetic"}


def _catalog_row(doc_id, **extra):
    return {"doc_id": doc_id, "voice": "wire", "topic": "shells", "date": "2024-06-21", "synthetic": True, **extra}


def test_build_corpora_validates_two_corpora_and_writes_their_sentences(tmp_path):
    from stanceframe.data_build import build_corpora

    seed = _corpus(tmp_path, "seed", {"real.txt": "Seoul weighs shells.\n\nMoscow warned Seoul."},
                   [_label("real-p1-s1", "Seoul weighs shells.", "support"), _label("real-p2-s1", "Moscow warned Seoul.", "restraint")])
    written = _corpus(tmp_path, "written", {"tass-a.txt": "Kiev asked for more weapons."},
                      [_label("tass-a-p1-s1", "Kiev asked for more weapons.", "support", "russian")], [_catalog_row("tass-a")])
    reports = build_corpora([seed, written])
    assert [(r.name, r.documents, r.sentences) for r in reports] == [("seed", 1, 2), ("written", 1, 1)]
    rows = [json.loads(line) for line in written.sentences.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["tass-a-p1-s1"]


def test_build_corpora_refuses_a_sentence_text_repeated_in_another_article(tmp_path):
    from stanceframe.data_build import build_corpora

    seed = _corpus(tmp_path, "seed", {"real.txt": "Seoul weighs shells."}, [_label("real-p1-s1", "Seoul weighs shells.")])
    written = _corpus(tmp_path, "written", {"wire-a.txt": "A new lede.\n\nSeoul  weighs SHELLS."},
                      [_label("wire-a-p1-s1", "A new lede."), _label("wire-a-p2-s1", "Seoul weighs SHELLS.")],
                      [_catalog_row("wire-a")])
    with pytest.raises(DataFileError, match=r"wire-a\.txt: sentence wire-a-p2-s1 repeats the text of real-p1-s1"):
        build_corpora([seed, written])


def test_build_corpora_allows_one_article_to_repeat_itself(tmp_path):
    from stanceframe.data_build import build_corpora

    seed = _corpus(tmp_path, "seed", {"real.txt": "Seoul lends shells.\n\nSeoul lends shells."},
                   [_label("real-p1-s1", "Seoul lends shells."), _label("real-p2-s1", "Seoul lends shells.")])
    assert build_corpora([seed])[0].sentences == 2


def test_build_corpora_refuses_a_contrast_sentence_that_repeats_an_article(tmp_path):
    from stanceframe.data_build import build_corpora

    seed = _corpus(tmp_path, "seed", {"real.txt": "Seoul weighs shells."}, [_label("real-p1-s1", "Seoul weighs shells.")])
    contrast = write_lines(tmp_path / "contrast.jsonl", [rec("c1", text="Another sentence."),
                                                         rec("c2", text="Seoul weighs shells.")])
    with pytest.raises(DataFileError, match=r"contrast\.jsonl:2: text repeats the article sentence real-p1-s1"):
        build_corpora([seed], also_labelled=[contrast])


def test_build_corpora_names_a_written_sentence_without_labels(tmp_path):
    from stanceframe.data_build import build_corpora

    written = _corpus(tmp_path, "written", {"wire-a.txt": "First.\n\nSecond one here."},
                      [_label("wire-a-p1-s1", "First.")], [_catalog_row("wire-a")])
    with pytest.raises(UnlabelledSentencesError) as info:
        build_corpora([written])
    assert info.value.ids == ["wire-a-p2-s1"]
    assert json.loads(written.sentences.read_text(encoding="utf-8").splitlines()[1])["text"] == "Second one here."


def test_build_corpora_refuses_a_label_row_for_no_sentence(tmp_path):
    from stanceframe.data_build import build_corpora

    written = _corpus(tmp_path, "written", {"wire-a.txt": "First."},
                      [_label("wire-a-p1-s1", "First."), _label("wire-a-p2-s1", "Gone after an edit.")],
                      [_catalog_row("wire-a")])
    with pytest.raises(DataFileError, match=r"labels\.jsonl:2: label for 'wire-a-p2-s1', which is no sentence"):
        build_corpora([written])


@pytest.mark.parametrize("catalog, message", [
    ([], r"catalog\.jsonl: 1 article\(s\) have no catalog row: wire-a"),
    ([_catalog_row("wire-a", synthetic=False)], r"catalog\.jsonl:1: written articles are synthetic"),
    ([{"doc_id": "wire-a", "voice": "wire", "synthetic": True}], r"catalog\.jsonl:1: missing field\(s\) topic, date"),
    ([_catalog_row("wire-a"), _catalog_row("wire-b")], r"catalog\.jsonl:2: doc_id 'wire-b' names no article file"),
    ([_catalog_row("wire-a"), _catalog_row("wire-a")], r"catalog\.jsonl:2: doc_id 'wire-a' again \(first on line 1\)"),
])
def test_build_corpora_checks_the_catalog(tmp_path, catalog, message):
    from stanceframe.data_build import build_corpora

    written = _corpus(tmp_path, "written", {"wire-a.txt": "First."}, [_label("wire-a-p1-s1", "First.")], catalog)
    with pytest.raises(DataFileError, match=message):
        build_corpora([written])


def test_article_groups_keep_every_article_on_one_side(tmp_path):
    rows = [_label(f"doc{d}-p{p}-s1", f"Sentence {d} {p}.", ["support", "restraint", "none"][(d + p) % 3])
            for d in range(9) for p in range(1, 5)]
    data = load_labelled(write_lines(tmp_path / "l.jsonl", rows))
    assert data.groups_by("article")[:4] == ["doc0"] * 4
    assert len(set(data.groups_by("paragraph"))) == 36
    for train, test in grouped_folds(data.labels("stance"), data.groups_by("article"), n_splits=3, n_repeats=2, seed=1):
        assert not {data.docs[i] for i in train} & {data.docs[i] for i in test}
    with pytest.raises(ValueError, match="unknown grouping"):
        data.groups_by("sentence")
