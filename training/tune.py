"""Model selection on the project's protocol, one configuration at a time: grouped-by-article
5-fold CV over the seed and the written corpus (contrast set in training folds only) and the
real-text check on the seed, as `stanceframe compare` runs them, for hyperparameters that are
not in training/experiments.toml.

    python training/tune.py FAMILY '{"C": 30, "char_ngrams": true}'   # one JSON line of results
    python training/tune.py --oof NAME FAMILY PARAMS                     # also save out-of-fold probabilities
    python training/tune.py --weights NAME,NAME,...                      # grid of ensemble weights on saved ones

The ensemble weights in training/experiments.toml were chosen with --weights on grouped CV
only (the real-text column is printed, never used to choose); docs/model-selection.md has
the runs.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from stanceframe import experiments as ex
from stanceframe.dataset import grouped_folds
from stanceframe.evaluate import cross_validate, task_metrics
from stanceframe.paths import contrast_file, corpora, project_root

SEED, N_SPLITS = 13, 5
OOF_DIR = Path("out") / "tune"


def load():
    root = project_root()
    seed, written = corpora(root)
    gold = ex.load_training_data([seed.labels, written.labels], None)
    extra = ex.load_training_data([contrast_file(root)], gold.tasks)
    real = ex.load_training_data([seed.labels], gold.tasks)
    return gold, extra, real


def run(family: str, params: dict, oof_name: str | None = None) -> dict:
    gold, extra, real = load()
    started = time.perf_counter()
    out, arrays = {"family": family, "params": params, "n": len(gold)}, {}
    for task in gold.tasks:
        folds = grouped_folds(gold.labels(task), gold.groups_by("article"), n_splits=N_SPLITS, n_repeats=1, seed=SEED)
        cv = cross_validate(lambda: ex.build_estimator(family, task, params, SEED, schema=gold.schema), gold, task,
                            folds, train_only=extra)
        summary = cv.summary()
        out[task] = {"cv": round(summary["macro_f1"]["mean"], 3),
                     "cv_per_class": {k: round(v["f1"]["mean"], 2) for k, v in summary["per_class"].items()}}
        idx, proba, _ = cv.out_of_fold(0)
        arrays[f"{task}_oof"] = proba[np.argsort(idx)]
    checks = ex.realtext_check(family, params, gold + extra, real, gold.tasks, SEED)
    for task, metrics in checks.items():
        out[task]["real"] = round(metrics["macro_f1"], 3)
    if oof_name:
        held = set(real.docs)
        everything = gold + extra
        train = everything.subset([i for i, e in enumerate(everything.examples) if e.doc not in held])
        bundle, _ = ex.fit_bundle(family, train, gold.tasks, params, SEED)
        preds = bundle.predict(real.texts)
        for task in gold.tasks:
            arrays[f"{task}_real"] = ex.aligned_proba(preds[task], gold.schema.task(task).label_names)
        OOF_DIR.mkdir(parents=True, exist_ok=True)
        np.savez(OOF_DIR / f"{oof_name}.npz", **arrays)
    out["seconds"] = round(time.perf_counter() - started)
    return out


def weights(names: list[str], grid=(0, 1, 2, 3)) -> None:
    gold, _, real = load()
    saved = {n: np.load(OOF_DIR / f"{n}.npz") for n in names}
    for task in gold.tasks:
        labels = gold.schema.task(task).label_names
        rows = []
        for w in itertools.product(grid, repeat=len(names)):
            if not any(w) or np.gcd.reduce([x for x in w if x]) != 1:
                continue
            mix = lambda key: sum(wi * saved[n][key] for wi, n in zip(w, names))  # noqa: E731
            cv = task_metrics(gold.labels(task), mix(f"{task}_oof"), labels, labels)["macro_f1"]
            rt = task_metrics(real.labels(task), mix(f"{task}_real"), labels, labels)["macro_f1"]
            rows.append((cv, rt, w))
        rows.sort(key=lambda r: -r[0])
        for cv, rt, w in rows[:5]:
            print(json.dumps({"task": task, "members": names, "weights": w, "cv": round(cv, 3), "real": round(rt, 3)}))


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--weights"]:
        weights(args[1].split(","))
    elif args[:1] == ["--oof"]:
        print(json.dumps(run(args[2], json.loads(args[3]), oof_name=args[1])))
    else:
        print(json.dumps(run(args[0], json.loads(args[1]) if len(args) > 1 else {})))
