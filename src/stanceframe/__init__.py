"""stanceframe: sentence-level stance and narrative-framing tagging of news text.

The public API (everything else is internal and may move between releases)::

    import stanceframe as sf

    model = sf.load_model()                        # the default model; or a folder, runs:/..., models:/NAME@ALIAS
    doc = sf.Document(doc_id="a1", text=article)   # or read files with sf.read_article(path)
    sentences = sf.segment(doc)                    # Sentence(doc_id, id, paragraph, sentence, start, end, text)
    tags = model.predict([s.text for s in sentences])   # per task: .labels, .proba, .classes
    summary = sf.run_tag(["articles/"], model, out="tags.jsonl")   # what `stanceframe tag` does

- :func:`load_model` returns a :class:`ModelBundle`: one fitted :class:`TextClassifier` per
  task (``bundle.tasks``, ``bundle.classes(task)``, ``bundle.predict(texts)``).
- :class:`TextClassifier` is the model interface every family implements (scikit-learn's
  estimator conventions: ``fit``, ``predict_proba``, ``classes_``, ``save``/``load``).
- Every mistake a user can fix raises a subclass of :class:`StanceframeError`.

Names are imported on first use, so ``import stanceframe`` stays cheap.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"  # the one place the version is written (pyproject reads it)

_PUBLIC = {
    "load_model": "stanceframe.models.loading",
    "ModelBundle": "stanceframe.models.bundle",
    "TextClassifier": "stanceframe.models.base",
    "Document": "stanceframe.corpus",
    "Sentence": "stanceframe.corpus",
    "segment": "stanceframe.corpus",
    "read_article": "stanceframe.tagging",
    "run_tag": "stanceframe.tagging",
    "StanceframeError": "stanceframe.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'stanceframe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
