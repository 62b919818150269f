"""Model families: fit / predict_proba / save / load / explain, pickle-free folders, the
encoder's offline loading, and the two-task model bundle. Real MiniLM weights; the
transformer families train on a few sentences for one or two epochs."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from stanceframe.errors import ModelFolderError, SchemaError
from stanceframe.models import FAMILIES, family_class, make_estimator
from stanceframe.models.bundle import ModelBundle

# A small stance set (schema labels support / restraint / none), six sentences each.
STANCE = [
    ("Berlin will send weapons to Kyiv next month, the minister said.", "support"),
    ("The senators urged the government to supply arms to Ukraine without delay.", "support"),
    ("Warsaw announced lethal aid including artillery and drones for Ukraine.", "support"),
    ("The president hinted he may reconsider the ban and provide weapons.", "support"),
    ("Officials praised the new military aid package as a turning point.", "support"),
    ("Parliament backed sending weapons and a harder response to the shelling.", "support"),
    ("Seoul refused to provide lethal weapons and offered only humanitarian help.", "restraint"),
    ("The cabinet declined the request and kept its non-lethal policy unchanged.", "restraint"),
    ("Tokyo warned that arming Kyiv would provoke a wider war.", "restraint"),
    ("The government resisted calls for tanks and remained reluctant.", "restraint"),
    ("Vienna offered to lend helmets but not to sell rifles.", "restraint"),
    ("The chancellor said sending jets would be a big mistake.", "restraint"),
    ("The summit opened on Tuesday in a seaside hotel.", "none"),
    ("Trade between the two countries grew by four percent last year.", "none"),
    ("The foreign minister met his counterpart for dinner.", "none"),
    ("Prices for wheat rose sharply in the spring.", "none"),
    ("The delegation arrived late because of fog at the airport.", "none"),
    ("A new bridge over the river was opened by the mayor.", "none"),
]
FRAMING = [
    ("Russia's invasion of Ukraine has killed thousands of civilians.", "western"),
    ("The full-scale invasion entered its third year amid reports of war crimes.", "western"),
    ("Kyiv condemned the reckless aggression against its sovereignty and territorial integrity.", "western"),
    ("Investigators found mass graves after the occupation ended.", "western"),
    ("Moscow said the special military operation would reach its goals.", "russian"),
    ("The collective West is waging a proxy war against Russia, the envoy said.", "russian"),
    ("Unfriendly countries keep supplying the Kiev regime with arms.", "russian"),
    ("The denazification goals of the operation remain unchanged, officials said.", "russian"),
    ("The two leaders discussed grain exports and shipping routes.", "neutral"),
    ("The conference will take place in Geneva next week.", "neutral"),
    ("Officials from both sides met to talk about prisoner exchanges.", "neutral"),
    ("The report covers energy prices across Europe.", "neutral"),
]
# The lexicon tests read this schema, not training/schema.toml, whose cues keep evolving.
TEST_SCHEMA = """
[tasks.stance]
description = "arms question"
default = "none"
[tasks.stance.labels.support]
description = "for"
cues = ["send weapons", "sending weapons", "supply arms", "lethal aid", "provide lethal"]
[tasks.stance.labels.restraint]
description = "against"
cues = ["refused", "declined", "only humanitarian", "lend", "big mistake", "warned"]
[tasks.stance.labels.none]
description = "no position"

[tasks.framing]
description = "lens"
default = "neutral"
[tasks.framing.labels.western]
description = "west"
cues = ["russia's invasion", "full-scale invasion", "war crimes", "aggression"]
[tasks.framing.labels.russian]
description = "russian"
cues = ["special military operation", "proxy war", "kiev", "kiev regime", "collective west"]
[tasks.framing.labels.neutral]
description = "neutral"
"""

TEXTS = [t for t, _ in STANCE]
LABELS = [lab for _, lab in STANCE]

# Small settings that keep the transformer families to a few seconds of CPU per fit.
FAST_PARAMS = {
    "lexicon": {},  # + schema_path, filled in by the _test_schema fixture
    "tfidf-logreg": {},
    "tfidf-svm": {},
    "encoder-logreg": {"max_length": 64},
    "encoder-finetune": {"epochs": 2, "max_length": 32, "batch_size": 8, "validation_fraction": 0.34, "patience": 1},
    "setfit": {"max_steps": 3, "max_length": 32, "batch_size": 8},
    "ensemble": {"members": ["tfidf-logreg", "tfidf-svm"], "weights": [0.6, 0.4]},
    "encoder-multitask": {"trainable_layers": 1, "epochs": 2, "max_length": 32, "batch_size": 8,
                          "validation_fraction": 0.0},
    "fusion": {"encoder_params": {"trainable_layers": 1, "epochs": 2, "max_length": 32, "batch_size": 8,
                                  "validation_fraction": 0.0}, "ngram_family": "tfidf-logreg"},
}
TRANSFORMER_FAMILIES = {"encoder-finetune", "setfit"}
ALLOWED_SUFFIXES = {".json", ".npy", ".safetensors", ".txt"}


def family_params(name):
    marks = [pytest.mark.slow] if name in TRANSFORMER_FAMILIES else []
    return pytest.param(name, marks=marks, id=name)


# The six single-model families this module covers (others, e.g. ensembles, have their own tests).
ALL_FAMILIES = [family_params(name) for name in FAST_PARAMS]

_FITTED: dict[str, object] = {}


@pytest.fixture(scope="module", autouse=True)
def _test_schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "schema.toml"
    path.write_text(TEST_SCHEMA)
    FAST_PARAMS["lexicon"]["schema_path"] = str(path)
    yield str(path)


def fitted(name):
    """One fitted estimator per family, shared by the tests of this module."""
    if name not in _FITTED:
        _FITTED[name] = make_estimator(name, **FAST_PARAMS[name]).fit(TEXTS, LABELS)
    return _FITTED[name]


def test_registry_names_every_family_class():
    assert set(FAST_PARAMS) <= set(FAMILIES)
    for name in FAST_PARAMS:
        cls = family_class(name)
        assert cls.family == name
        assert make_estimator(name).get_params()  # every hyperparameter is a constructor kwarg


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_fit_predict_save_load_round_trip(name, tmp_path):
    est = fitted(name)
    assert list(est.classes_) == ["none", "restraint", "support"]
    proba = est.predict_proba(TEXTS)
    assert proba.shape == (len(TEXTS), 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert (est.predict(TEXTS) == np.asarray(est.classes_)[proba.argmax(axis=1)]).all()

    folder = est.save(tmp_path / name)
    loaded = family_class(name).load(folder)
    assert list(loaded.classes_) == list(est.classes_)
    assert loaded.get_params() == est.get_params()
    reloaded = loaded.predict_proba(TEXTS)
    assert np.allclose(reloaded, proba, atol=1e-6, rtol=0)
    assert est.predict_proba([]).shape == (0, 3)

    meta = json.loads((folder / "estimator.json").read_text())
    assert meta["family"] == name
    assert meta["params"] == json.loads(json.dumps(est.get_params()))


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_model_folder_holds_no_pickle(name, tmp_path):
    folder = fitted(name).save(tmp_path / name)
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert path.suffix in ALLOWED_SUFFIXES, path
        assert not path.read_bytes()[:2].startswith(b"\x80"), f"{path} looks like a pickle"


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_fits_are_deterministic(name):
    again = make_estimator(name, **FAST_PARAMS[name]).fit(TEXTS, LABELS)
    assert np.allclose(again.predict_proba(TEXTS), fitted(name).predict_proba(TEXTS), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_explain_returns_terms_of_the_text(name):
    est = fitted(name)
    text = "Seoul refused to provide lethal weapons and offered only humanitarian help."
    terms = est.explain(text, top_k=5)
    assert terms and len(terms) <= 5
    for term, weight in terms:
        assert term.lower() in text.lower()
        assert isinstance(weight, float)
    weights = [abs(w) for _, w in terms]
    assert weights == sorted(weights, reverse=True)


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_labels_come_from_y_even_when_a_label_is_missing(name):
    two = [(t, lab) for t, lab in STANCE if lab != "restraint"]
    est = make_estimator(name, **FAST_PARAMS[name]).fit([t for t, _ in two], [lab for _, lab in two])
    assert list(est.classes_) == ["none", "support"]
    assert est.predict_proba(["The minister will send weapons."]).shape == (1, 2)


# ---- targets: (target, text) pairs

SWAP = {"support": "restraint", "restraint": "support", "none": "none"}
# the same sentences towards two targets, support and restraint swapped for the second
PAIRS = [("arms", t) for t in TEXTS] + [("peace", t) for t in TEXTS]
PAIR_LABELS = LABELS + [SWAP[lab] for lab in LABELS]
# Families that learn the flip from 36 pairs. Not tfidf-svm: its Platt calibration is fitted on
# out-of-fold margins, and here every held-out sentence's twin (same text, other target,
# opposite label) sits in the training fold, so the calibration honestly learns an inverted map.
LEARNS_TARGETS = {"tfidf-logreg", "encoder-logreg", "ensemble"}


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_target_pairs_round_trip(name, tmp_path):
    est = make_estimator(name, **FAST_PARAMS[name]).fit(PAIRS, PAIR_LABELS)
    proba = est.predict_proba(PAIRS)
    assert proba.shape == (len(PAIRS), 3) and np.allclose(proba.sum(axis=1), 1.0)
    loaded = family_class(name).load(est.save(tmp_path / name))
    assert loaded.get_params() == est.get_params()
    assert np.allclose(loaded.predict_proba(PAIRS), proba, atol=1e-6, rtol=0)
    # a plain text or an unseen target still gets probabilities (the target-free behaviour)
    assert np.allclose(loaded.predict_proba([TEXTS[0], ("elsewhere", TEXTS[0])]).sum(axis=1), 1.0)
    if name in LEARNS_TARGETS:
        labels = list(est.predict([("arms", TEXTS[0]), ("peace", TEXTS[0])]))
        assert labels == ["support", "restraint"]


@pytest.mark.parametrize("name", ["tfidf-logreg", "lexicon", "encoder-logreg"])
def test_per_target_models_round_trip(name, tmp_path):
    params = {**FAST_PARAMS[name], "target_mode": "per-target"}
    est = make_estimator(name, **params).fit(PAIRS, PAIR_LABELS)
    assert sorted(est.target_models_) == ["arms", "peace"]
    folder = est.save(tmp_path / name)
    assert (folder / "targets" / "000" / "estimator.json").is_file()
    loaded = family_class(name).load(folder)
    assert np.allclose(loaded.predict_proba(PAIRS), est.predict_proba(PAIRS), atol=1e-6, rtol=0)
    unseen = loaded.predict_proba([("elsewhere", TEXTS[0])])[0]
    both = loaded.predict_proba([("arms", TEXTS[0]), ("peace", TEXTS[0])])
    assert np.allclose(unseen, both.mean(axis=0))  # an unseen target: the mean of the targets' models


def test_target_crossed_features_layout():
    import scipy.sparse as sp

    from stanceframe.models.inputs import crossed_to_base, target_crossed

    x = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]]))
    crossed = target_crossed(x, ["a", "b", None], ["a", "b"]).toarray()
    assert crossed.tolist() == [[1, 0, 1, 0, 0, 0, 1, 0], [0, 2, 0, 0, 0, 2, 0, 1], [3, 4, 0, 0, 0, 0, 0, 0]]
    assert np.array_equal(target_crossed(x.toarray(), ["a", "b", None], ["a", "b"]), crossed)
    assert crossed_to_base(np.arange(8), 2, 2).tolist() == [0, 1, 0, 1, 0, 1, -1, -1]


# ---- refusing tampered folders


class _Boom:
    """Unpickling this writes a marker file: proves whether a loader ran pickle."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "executed"))


def _evil_pickle(marker: Path) -> bytes:
    return pickle.dumps(_Boom(marker))


@pytest.mark.parametrize("name,weight_file", [
    ("tfidf-logreg", "coef.npy"),
    ("tfidf-svm", "calibration.npy"),
    ("lexicon", "class_prior.npy"),
    ("encoder-logreg", "intercept.npy"),
])
def test_pickle_in_npy_is_refused(name, weight_file, tmp_path):
    folder = fitted(name).save(tmp_path / name)
    marker = tmp_path / "executed.txt"
    (folder / weight_file).write_bytes(_evil_pickle(marker))
    with pytest.raises(ModelFolderError, match=weight_file):
        family_class(name).load(folder)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["tfidf-logreg", "encoder-logreg"])
def test_object_array_and_wrong_shape_are_refused(name, tmp_path):
    folder = fitted(name).save(tmp_path / name)
    np.save(folder / "coef.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ModelFolderError, match="coef.npy"):
        family_class(name).load(folder)
    np.save(folder / "coef.npy", np.zeros((2, 5)))
    with pytest.raises(ModelFolderError, match="coef.npy"):
        family_class(name).load(folder)


def test_tampered_json_is_refused(tmp_path):
    folder = fitted("tfidf-logreg").save(tmp_path / "m")
    (folder / "vocab_word.json").write_text('{"weapons": "not an index"}')
    with pytest.raises(ModelFolderError, match="vocab_word.json"):
        family_class("tfidf-logreg").load(folder)
    (folder / "estimator.json").write_text("{not json")
    with pytest.raises(ModelFolderError, match="estimator.json"):
        family_class("tfidf-logreg").load(folder)


@pytest.mark.slow
@pytest.mark.parametrize("name,subdir", [("encoder-finetune", "transformer"), ("setfit", "encoder")])
def test_transformer_folder_with_pickle_weights_is_refused(name, subdir, tmp_path):
    folder = fitted(name).save(tmp_path / name)
    weights = folder / subdir / "model.safetensors"
    marker = tmp_path / "executed.txt"

    weights.write_bytes(weights.read_bytes()[:1000])  # truncated safetensors
    with pytest.raises(ModelFolderError, match=subdir):
        family_class(name).load(folder)

    weights.unlink()  # pickle-only weights: the classic torch.save() attack
    (folder / subdir / "pytorch_model.bin").write_bytes(_evil_pickle(marker))
    with pytest.raises(ModelFolderError, match=subdir):
        family_class(name).load(folder)
    assert not marker.exists()


# ---- family specifics


def test_lexicon_uses_schema_cues_and_default(_test_schema):
    est = make_estimator("lexicon", schema_path=_test_schema).fit(TEXTS, LABELS)
    assert est.task_ == "stance" and est.default_ == "none"
    proba = est.predict_proba([
        "The weather was mild.",
        "They agreed to send weapons.",
        "Lending money is common.",  # 'lend' matches on word boundaries only
        "The cabinet REFUSED and declined.",
    ])
    labels = list(est.classes_[proba.argmax(axis=1)])
    assert labels == ["none", "support", "none", "restraint"]
    assert proba[3, list(est.classes_).index("restraint")] > proba[1, list(est.classes_).index("support")]
    assert est.explain("The cabinet refused and declined.") == [("declined", 2.0), ("refused", 2.0)]


def test_lexicon_infers_framing_and_falls_back_to_priors(_test_schema):
    framing = make_estimator("lexicon", schema_path=_test_schema).fit([t for t, _ in FRAMING], [lab for _, lab in FRAMING])
    assert framing.task_ == "framing"
    assert framing.predict(["Kiev regime forces shelled the town."])[0] == "russian"

    other = make_estimator("lexicon", schema_path=_test_schema).fit(["a", "b", "c"], ["x", "y", "y"])
    assert other.task_ is None
    assert np.allclose(other.predict_proba(["anything"]), [[1 / 3, 2 / 3]])

    with pytest.raises(SchemaError):
        make_estimator("lexicon", task="stance", schema_path=_test_schema).fit(["a", "b"], ["support", "banana"])


def test_svm_calibration_handles_a_single_example_class():
    texts = TEXTS[:12] + ["The summit opened on Tuesday."]
    labels = LABELS[:12] + ["none"]
    est = make_estimator("tfidf-svm").fit(texts, labels)
    proba = est.predict_proba(texts)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert est.predict(["Parliament backed sending weapons."])[0] == "support"


def test_tfidf_char_ngrams_round_trip(tmp_path):
    est = make_estimator("tfidf-logreg", char_ngrams=True).fit(TEXTS, LABELS)
    assert len(est.vectorizers_) == 2
    text = "Parliament backed sending weapons."
    terms = est.explain(text)
    assert terms and all(term in text.lower() and term == term.strip() for term, _ in terms)
    loaded = family_class("tfidf-logreg").load(est.save(tmp_path / "m"))
    assert np.array_equal(loaded.predict_proba(TEXTS), est.predict_proba(TEXTS))


def test_class_weight_balanced_lifts_the_minority():
    texts = TEXTS[:6] + [f"Talks on trade continued, day {i}." for i in range(30)]
    labels = ["support"] * 6 + ["none"] * 30
    probe = ["Officials discussed sending weapons."]
    balanced = make_estimator("tfidf-logreg", C=1.0).fit(texts, labels).predict_proba(probe)[0, 1]
    plain = make_estimator("tfidf-logreg", C=1.0, class_weight=None).fit(texts, labels).predict_proba(probe)[0, 1]
    assert balanced > plain


# ---- encoder


def test_encoder_loads_offline_from_the_package_folder(monkeypatch):
    """A fresh load (the process's encoder cache emptied first) with every connection refused."""
    import socket

    from stanceframe.models import encoder as enc

    def closed(*args, **kwargs):
        raise OSError("network closed by test")

    monkeypatch.setattr(socket.socket, "connect", closed)
    monkeypatch.setattr(socket, "create_connection", closed)
    enc.load_encoder.cache_clear()
    assert enc.resolve_encoder() == str(enc.package_model_path())
    v = enc.embed(["Kyiv asked for air defence.", "Prices rose."], cache=False)
    assert v.shape == (2, 384) and round(float(np.linalg.norm(v[0])), 4) == 1.0


def test_unknown_hub_name_offline_is_a_clear_error(monkeypatch):
    from stanceframe.models.encoder import resolve_encoder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelFolderError, match="offline"):
        resolve_encoder("someone/not-a-local-model")


def test_max_length_applies_and_batches_are_length_sorted():
    from stanceframe.models.encoder import embed, length_sorted_batches, load_encoder

    tokenizer, _ = load_encoder()
    long_text = " ".join(["weapons"] * 200)
    texts = ["short one", long_text, "a somewhat longer sentence than the first"]
    widths = [(idx, batch["input_ids"].shape[1]) for idx, batch in length_sorted_batches(tokenizer, texts, 16, 2)]
    assert widths[0][0] == [0, 2] and widths[-1] == ([1], 16)
    assert all(w <= 16 for _, w in widths)
    short = embed([long_text], max_length=8, cache=False)
    full = embed([long_text], max_length=128, cache=False)
    assert not np.allclose(short, full)


def test_embedding_cache_embeds_each_sentence_once(monkeypatch):
    import stanceframe.models.encoder as enc

    enc.clear_embedding_cache()
    first = enc.embed(TEXTS[:4])
    calls = []
    original = enc.mean_pooled
    monkeypatch.setattr(enc, "mean_pooled", lambda tok, model, texts, *a, **k: calls.append(list(texts)) or original(tok, model, texts, *a, **k))
    again = enc.embed(TEXTS[:4] + TEXTS[:1] + ["A brand new sentence."])
    assert calls == [["A brand new sentence."]]
    assert np.array_equal(again[:4], first) and np.array_equal(again[4], first[0])


# ---- bundle


def test_bundle_round_trip_with_two_tasks(tmp_path):
    stance = make_estimator("tfidf-logreg").fit(TEXTS, LABELS)
    framing = make_estimator("tfidf-logreg").fit([t for t, _ in FRAMING], [lab for _, lab in FRAMING])
    bundle = ModelBundle("tfidf-logreg", {"stance": stance, "framing": framing})
    path = bundle.save(tmp_path / "model", data_hash="abc123")

    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["tasks"]["framing"]["labels"] == ["neutral", "russian", "western"]
    assert manifest["data_hash"] == "abc123"

    loaded = ModelBundle.load(path)
    assert loaded.tasks == ["stance", "framing"]
    probe = ["Moscow says the special military operation goes on.", "Berlin will send weapons."]
    before, after = bundle.predict(probe), loaded.predict(probe)
    for task in ("stance", "framing"):
        assert after[task].labels == before[task].labels
        assert after[task].classes == before[task].classes
        assert np.array_equal(after[task].proba, before[task].proba)
    assert after["framing"].labels[0] == "russian"


def test_bundle_refuses_a_tampered_estimator(tmp_path):
    stance = make_estimator("encoder-logreg").fit(TEXTS, LABELS)
    path = ModelBundle("encoder-logreg", {"stance": stance}).save(tmp_path / "model")
    marker = tmp_path / "executed.txt"
    (path / "stance" / "coef.npy").write_bytes(_evil_pickle(marker))
    with pytest.raises(ModelFolderError):
        ModelBundle.load(path)
    assert not marker.exists()


def test_lexicon_reads_the_project_schema_by_default():
    from stanceframe.schema import load_schema

    est = make_estimator("lexicon").fit(TEXTS, LABELS)
    task = load_schema().task("stance")
    assert est.task_ == "stance" and est.default_ == task.default
    assert est.cues_["support"] == list(task.label("support").cues)


def test_word_tokens_are_what_sklearns_pattern_finds():
    """word_ngrams.batch_tokens finds, as positions in one array of code points, exactly the
    tokens sklearn's pattern finds in each lowercased text, and \\w is str.isalnum or "_"
    for every code point."""
    import random
    import re

    from support.word_ngrams import string_hash

    from stanceframe.models.ngram_tfidf import SKLEARN_TOKEN_PATTERN
    from stanceframe.models.word_ngrams import batch_tokens, is_word_char

    word = re.compile(r"\w")
    assert all(bool(word.match(chr(i))) == is_word_char(chr(i)) for i in range(0x110000))
    sklearn_pattern = re.compile(SKLEARN_TOKEN_PATTERN)
    rng = random.Random(0)
    alphabet = "ab1_ ÄöΣß-.'İ\u2019\n\t\x00\u00a0\u0301\u4e2d\u0663\U0001d7d8\ud800é"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(3000)]
    texts += ["", "ΣΑΣ ΟΔΟΣ Σ", "İstanbul", "x" * 5000]
    tokens = batch_tokens(texts)
    found = [[] for _ in texts]
    for start, length, row, h in zip(tokens.starts, tokens.lengths, tokens.rows, tokens.hashes):
        text = "".join(map(chr, tokens.codes[start:start + length]))
        found[row].append(text)
        assert int(h) == string_hash(text)
    assert found == [sklearn_pattern.findall(t.lower()) for t in texts]


def test_word_tokens_in_groups_and_hash_collisions_never_count_a_wrong_token(monkeypatch):
    import dataclasses

    from support.word_ngrams import string_hash

    import stanceframe.models.word_ngrams as wn

    texts = ["Seoul refused lethal aid.", "Kyiv asked", "", "aid aid"] * 20
    whole = wn.batch_tokens(texts)
    monkeypatch.setattr(wn, "_GROUP_CHARS", 40)  # about one text per group
    grouped = wn.batch_tokens(texts)
    for name in ("lengths", "rows", "hashes"):
        assert np.array_equal(getattr(whole, name), getattr(grouped, name)), name

    def words(tokens):
        return ["".join(map(chr, tokens.codes[s:s + n])) for s, n in zip(tokens.starts, tokens.lengths)]

    assert words(whole) == words(grouped)
    index = wn.NgramIndex({"seoul": 0, "aid": 1, "lethal aid": 2}, 2)
    ids = index.token_ids(whole)
    assert [int(i) > 0 for i in ids[:5]] == [True, False, True, True, False]
    rows, cols = index.lookup(whole, len(texts))
    assert sorted(zip(rows.tolist(), cols.tolist()))[:4] == [(0, 0), (0, 1), (0, 2), (3, 1)]
    # a token with a vocabulary token's hash and length but other characters is not that token
    aid = string_hash("aid")
    forged = dataclasses.replace(whole, hashes=np.where(whole.lengths == 3, np.uint64(aid), whole.hashes))
    forged_ids = index.token_ids(forged)
    assert all((forged_ids[i] > 0) == (w in {"seoul", "aid", "lethal"}) for i, w in enumerate(words(whole)))


@pytest.mark.parametrize("params", [{}, {"ngram_max": 3}, {"char_ngrams": True}, {"ngram_max": 3, "min_df": 2},
                                    {"ngram_max": 4, "max_features": 40, "sublinear_tf": False},
                                    {"ngram_max": 40}])  # 40-gram numbers overflow 64 bits: the Python-string path
def test_tfidf_features_equal_sklearn_transform_bit_for_bit(params):
    """The predictor's n-gram paths (word and char_wb, shared by a bundle's tasks) build
    exactly the matrix sklearn's TfidfVectorizer.transform builds, whatever the batch."""
    est = make_estimator("tfidf-logreg", **params).fit(TEXTS, LABELS)
    blocks = est.predictor_.blocks
    assert (blocks["word"].index() is None) == (params.get("ngram_max") == 40)
    texts = TEXTS + [t for t, _ in FRAMING] + ["", "a", "Ünïcödé wörds ÄÖ 123 45", "the the the the", "x_y __ 9 99",
                                               "New words the model never saw.", "ΣΑΣ ΟΔΟΣ Σ", "İstanbul ß",
                                               "refused lethal aid refused lethal aid"]
    for name, vec in est.vectorizers_.items():
        for size in (1, 5, len(texts)):
            for start in range(0, len(texts), size):
                batch = texts[start:start + size]
                fast, slow = blocks[name].transform(batch), vec.transform(batch)
                assert fast.shape == slow.shape
                assert np.array_equal(fast.indptr, slow.indptr) and np.array_equal(fast.indices, slow.indices)
                assert np.array_equal(fast.data, slow.data)
