"""Dynamic int8 quantisation of an exported network, and the guard that decides whether a
model may run it.

``quantized(folder)`` writes ``model.int8.onnx`` beside the float32 export (ONNX Runtime's
``quantize_dynamic``: weights of the matrix products as signed int8, activations quantised
per batch at run time); nothing torch.

:func:`int8_guard` compares a model's float32 and int8 predictions: macro-F1 per task on
each labelled set (the gold sentences and the real-text check) and the share of labels that
flip on the seed's sentences. int8 is accepted only when no task loses more than
:data:`MAX_F1_DROP` (1 point) on any set and at most :data:`MAX_FLIPS` (1 %) of the seed's
labels flip; the figures are reported either way. ``stanceframe models onnx --precision
int8`` runs it and, when accepted, records ``"onnx": {"precision": "int8", ...}`` in the
model's manifest: what makes ``tag`` load the int8 network.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stanceframe.models.onnx_runtime import MODEL_FILE

MAX_F1_DROP = 0.01  # macro-F1, per task and set
MAX_FLIPS = 0.01  # share of the seed's labels, per task
_LOCK = threading.Lock()


def quantized(folder: Path) -> Path:
    """``folder``'s int8 network, quantised now when missing."""
    target = folder / MODEL_FILE["int8"]
    with _LOCK:
        if target.is_file():
            return target
        import logging

        from onnxruntime.quantization import QuantType, quantize_dynamic

        logging.getLogger("root").setLevel(logging.ERROR)  # quantize_dynamic's advice on pre-processing
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            out = Path(tmp) / MODEL_FILE["int8"]
            quantize_dynamic(folder / MODEL_FILE["fp32"], out, weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul", "Gemm"])
            shutil.move(str(out), target)
    return target


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Macro-F1 over the labels that occur in either (scikit-learn's ``f1_score(average="macro")``)."""
    labels = sorted(set(y_true) | set(y_pred))
    t, p = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    f1s = []
    for lab in labels:
        tp = float(np.sum((p == lab) & (t == lab)))
        fp = float(np.sum((p == lab) & (t != lab)))
        fn = float(np.sum((p != lab) & (t == lab)))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(f1s)) if f1s else 0.0


def int8_guard(fp32, int8, labelled: dict, seed_texts: Sequence[str]) -> dict:
    """The guard's figures and verdict. ``fp32`` / ``int8``: the same model loaded at each
    precision (``ModelBundle``s); ``labelled``: ``{set name: LabelledSet}``; ``seed_texts``:
    the sentences whose labels must not flip."""
    report: dict = {"sets": {}, "flips": {}, "max_f1_drop": MAX_F1_DROP, "max_flips": MAX_FLIPS, "reasons": []}
    for name, data in labelled.items():
        inputs = data.inputs()
        a, b = fp32.predict(inputs), int8.predict(inputs)
        for task in fp32.tasks:
            if task not in data.tasks:
                continue
            gold = data.labels(task)
            keep = [i for i, y in enumerate(gold) if y is not None]
            truth = [gold[i] for i in keep]
            f_a = macro_f1(truth, [a[task].labels[i] for i in keep])
            f_b = macro_f1(truth, [b[task].labels[i] for i in keep])
            report["sets"].setdefault(name, {})[task] = {"fp32": round(f_a, 4), "int8": round(f_b, 4),
                                                         "drop": round(f_a - f_b, 4), "sentences": len(keep)}
            if f_a - f_b > MAX_F1_DROP:
                report["reasons"].append(f"{task} macro-F1 on {name} drops {100 * (f_a - f_b):.1f} points "
                                         f"({f_a:.3f} -> {f_b:.3f})")
    texts = list(seed_texts)
    a, b = fp32.predict(texts), int8.predict(texts)
    for task in fp32.tasks:
        flips = sum(x != y for x, y in zip(a[task].labels, b[task].labels))
        share = flips / max(1, len(texts))
        diff = float(np.max(np.abs(a[task].proba - b[task].proba))) if texts else 0.0
        report["flips"][task] = {"flipped": flips, "sentences": len(texts), "share": round(share, 4),
                                 "max_abs_proba_diff": round(diff, 4)}
        if share > MAX_FLIPS:
            report["reasons"].append(f"{task}: {flips} of {len(texts)} seed labels flip ({share:.1%})")
    report["accepted"] = not report["reasons"]
    return report


def guard_lines(report: dict) -> list[str]:
    """The guard's figures as lines for a person."""
    lines = []
    for name, tasks in report["sets"].items():
        for task, r in tasks.items():
            lines.append(f"{name} {task}: macro-F1 fp32 {r['fp32']:.4f}, int8 {r['int8']:.4f} "
                         f"(drop {100 * r['drop']:+.2f} points; {r['sentences']} sentences)")
    for task, r in report["flips"].items():
        lines.append(f"seed {task}: {r['flipped']} of {r['sentences']} labels flip ({r['share']:.2%}); "
                     f"max abs probability difference {r['max_abs_proba_diff']:.4f}")
    verdict = "accepted" if report["accepted"] else "refused: " + "; ".join(report["reasons"])
    lines.append(f"int8: {verdict} (limits: {100 * MAX_F1_DROP:.0f} point of macro-F1 per task, "
                 f"{MAX_FLIPS:.0%} of labels flipping)")
    return lines


def set_precision(folder: Path, precision: str, labelled: dict | None = None, seed_texts: Sequence[str] = (),
                  log=lambda line: None) -> dict:
    """Export ``folder``'s encoder networks (when not cached) and make ``precision`` the one
    its manifest asks for. int8 runs :func:`int8_guard` first (``labelled``, ``seed_texts``)
    and is refused (:class:`~stanceframe.errors.ModelFolderError`, with the figures) when
    it fails; the guard's figures are recorded in the manifest either way it is accepted.
    Returns the ``onnx`` entry written."""
    import datetime as _dt
    import json

    from stanceframe.errors import ModelFolderError
    from stanceframe.models.bundle import MANIFEST, ModelBundle
    from stanceframe.models.onnx_runtime import RUNTIME_ENV, runtime

    if runtime() != "onnx":
        raise ModelFolderError(f"{RUNTIME_ENV}=torch: the ONNX export needs the onnx runtime")
    folder = Path(folder)
    fp32 = ModelBundle.load(folder, precision="fp32")  # exports what is not cached, parity-checked
    entry: dict = {"precision": precision}
    if precision == "int8":
        int8 = ModelBundle.load(folder, precision="int8")
        report = int8_guard(fp32, int8, labelled or {}, seed_texts)
        for line in guard_lines(report):
            log(line)
        if not report["accepted"]:
            raise ModelFolderError(f"{folder}: int8 refused: " + "; ".join(report["reasons"]))
        entry["int8_guard"] = report
    entry["set"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    manifest_path = folder / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["onnx"] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n")
    return entry
