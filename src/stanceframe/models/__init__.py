"""Model families (one module each) and the registry that names them."""

from __future__ import annotations

from importlib import import_module

from stanceframe.errors import StanceframeError

# family name -> "module:Class"; imported lazily so a lexicon run never imports torch.
FAMILIES = {
    "lexicon": "stanceframe.models.lexicon:LexiconClassifier",
    "tfidf-logreg": "stanceframe.models.tfidf:TfidfLogRegClassifier",
    "tfidf-svm": "stanceframe.models.tfidf:TfidfSVMClassifier",
    "minilm-logreg": "stanceframe.models.minilm:MiniLMLogRegClassifier",
    "minilm-finetune": "stanceframe.models.finetune:MiniLMFineTuneClassifier",
    "setfit": "stanceframe.models.setfit_family:SetFitClassifier",
    "ensemble": "stanceframe.models.ensemble:EnsembleClassifier",
}


def family_class(name: str):
    try:
        spec = FAMILIES[name]
    except KeyError:
        raise StanceframeError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}") from None
    module, cls = spec.split(":")
    return getattr(import_module(module), cls)


def make_estimator(name: str, **params):
    """A fresh, unfitted estimator of family ``name``; ``params`` override its defaults."""
    return family_class(name)(**params)
