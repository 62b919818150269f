"""Model families (one module each) and the registry that names them."""

from __future__ import annotations

from importlib import import_module

from stanceframe.errors import StanceframeError

# family name -> "module:Class"; imported lazily so a lexicon run never imports torch.
FAMILIES = {
    "lexicon": "stanceframe.models.lexicon:LexiconClassifier",
    "tfidf-logreg": "stanceframe.models.tfidf:TfidfLogRegClassifier",
    "tfidf-svm": "stanceframe.models.tfidf:TfidfSVMClassifier",
    "encoder-logreg": "stanceframe.models.minilm:MiniLMLogRegClassifier",
    "encoder-finetune": "stanceframe.models.finetune:MiniLMFineTuneClassifier",
    "encoder-multitask": "stanceframe.models.multitask:EncoderMultiTaskClassifier",
    "setfit": "stanceframe.models.setfit_family:SetFitClassifier",
    "ensemble": "stanceframe.models.ensemble:EnsembleClassifier",
    "fusion": "stanceframe.models.fusion:FusionClassifier",
}
# the names the encoder families had while MiniLM was the only encoder: still accepted
# everywhere a family is named (config, --family, model folders written before)
ALIASES = {"minilm-logreg": "encoder-logreg", "minilm-finetune": "encoder-finetune"}


def canonical_family(name: str) -> str:
    """``name`` with an old alias replaced by the family's current name."""
    return ALIASES.get(name, name)


def known_family(name: str) -> bool:
    return canonical_family(name) in FAMILIES


def family_class(name: str):
    try:
        spec = FAMILIES[canonical_family(name)]
    except KeyError:
        raise StanceframeError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}") from None
    module, cls = spec.split(":")
    return getattr(import_module(module), cls)


def make_estimator(name: str, **params):
    """A fresh, unfitted estimator of family ``name``; ``params`` override its defaults."""
    return family_class(name)(**params)


def with_encoder(family: str, params: dict | None, encoder: str | None) -> dict | None:
    """``params`` with every encoder the family uses set to ``encoder`` (``train
    --encoder``): the family's own ``encoder`` parameter, fusion's ``encoder_params``, an
    ensemble's members that take one. A family that uses no encoder is refused."""
    if not encoder:
        return params
    params = dict(params or {})
    accepted = family_class(family)().get_params()
    if "encoder" in accepted:
        params["encoder"] = encoder
    elif "encoder_params" in accepted:
        params["encoder_params"] = {**(params.get("encoder_params") or {}), "encoder": encoder}
    elif "members" in accepted:
        members = params.get("members") or accepted["members"]
        member_params = list(params.get("member_params") or [{} for _ in members])
        touched = False
        for i, member in enumerate(members):
            if "encoder" in family_class(member)().get_params():
                member_params[i] = {**member_params[i], "encoder": encoder}
                touched = True
        if not touched:
            raise StanceframeError(f"family {family!r}: no member uses an encoder; --encoder does not apply")
        params.update(members=list(members), member_params=member_params)
    else:
        raise StanceframeError(f"family {family!r} uses no encoder; --encoder does not apply")
    return params


def fit_params_for(estimator, data, task: str) -> dict:
    """The fit parameters a family takes beyond ``(X, y)``, from a labelled set: every
    task's labels and the article of each example, for families that train all tasks at
    once (``uses_task_labels``: encoder-multitask, fusion)."""
    if not getattr(estimator, "uses_task_labels", False):
        return {}
    return {"task_labels": {t: data.labels(t) for t in data.tasks}, "groups": [e.doc for e in data.examples]}
