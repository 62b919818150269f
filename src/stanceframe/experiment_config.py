"""The experiments config (``training/experiments.toml``): its ``[data]``, ``[cv]``,
``[promote]``, ``[report]`` and ``[families.*]`` tables parsed and validated into an
``ExperimentConfig``; every mistake a ``StanceframeError`` naming the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from stanceframe.errors import StanceframeError
from stanceframe.models import FAMILIES, known_family
from stanceframe.tracking import REGISTERED_MODEL_NAME

DEFAULT_CONFIG = Path("training") / "experiments.toml"


@dataclass
class ExperimentConfig:
    families: dict[str, dict]
    gold: list[str]
    train_only: list[str]
    tasks: list[str] | None = None
    n_splits: int = 5
    n_repeats: int = 2
    seed: int = 13
    group_by: str = "paragraph"
    realtext: list[str] = field(default_factory=list)
    cv_repeats: dict[str, int] = field(default_factory=dict)  # family -> repeats (costly families: fewer)
    cv_folds: dict[str, int] = field(default_factory=dict)  # family -> at most this many of the shared folds
    int8_check: list[str] = field(default_factory=list)  # encoder families whose fold models are also run as int8
    promote_rule: str = "min_macro_f1"
    promote_protocols: list[str] = field(default_factory=lambda: ["cv"])
    promote_export: str = "models/champion"
    registered_model: str = REGISTERED_MODEL_NAME
    register: str = "all"  # "all": every family fitted on everything and registered; "best": the best only
    report_dir: str = "out/compare"
    path: str | None = None


def load_config(path: str | Path) -> ExperimentConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StanceframeError(f"{path}: experiments config not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise StanceframeError(f"{path}: invalid TOML: {exc}") from None
    families = raw.get("families") or {}
    unknown = [f for f in families if not known_family(f)]
    if unknown:
        raise StanceframeError(f"{path}: unknown families {unknown}; known: {', '.join(FAMILIES)}")
    if not families:
        raise StanceframeError(f"{path}: no [families.*] tables")
    cv, data, promote = raw.get("cv", {}), raw.get("data", {}), raw.get("promote", {})
    families = {name: dict(params or {}) for name, params in families.items()}
    cv_repeats = {name: int(params.pop("cv_repeats")) for name, params in families.items() if "cv_repeats" in params}
    cv_folds = {name: int(params.pop("cv_folds")) for name, params in families.items() if "cv_folds" in params}
    int8_check = [name for name, params in families.items() if _flag(path, name, params.pop("int8_check", False))]
    for name, params in families.items():
        check_family_params(path, name, params)
    if any(v < 1 for v in [*cv_repeats.values(), *cv_folds.values()]):
        raise StanceframeError(f"{path}: cv_repeats and cv_folds must be at least 1")
    group_by = str(cv.get("group_by", "paragraph"))
    if group_by not in {"paragraph", "article"}:
        raise StanceframeError(f"{path}: [cv] group_by must be \"paragraph\" or \"article\", not {group_by!r}")
    protocols = list(promote.get("protocols", ["cv"]))
    realtext = list(data.get("realtext", []))
    unknown = [p for p in protocols if p not in {"cv", "realtext"}]
    if unknown or not protocols or ("realtext" in protocols and not realtext):
        raise StanceframeError(f"{path}: [promote] protocols must name \"cv\" and/or \"realtext\" (the latter with "
                               f"[data] realtext files), not {protocols}")
    return ExperimentConfig(
        families=families,
        gold=list(data.get("gold", ["data/seed/labels.jsonl"])),
        train_only=list(data.get("train_only", ["data/contrast/contrast.jsonl"])),
        tasks=data.get("tasks"),
        n_splits=int(cv.get("n_splits", 5)),
        n_repeats=int(cv.get("n_repeats", 2)),
        seed=int(cv.get("seed", 13)),
        group_by=group_by,
        realtext=realtext,
        cv_repeats=cv_repeats,
        cv_folds=cv_folds,
        int8_check=int8_check,
        promote_rule=str(promote.get("rule", "min_macro_f1")),
        promote_protocols=protocols,
        promote_export=str(promote.get("export", "models/champion")),
        registered_model=str(promote.get("registered_model", REGISTERED_MODEL_NAME)),
        register=_register_setting(path, promote),
        report_dir=str(raw.get("report", {}).get("dir", "out/compare")),
        path=str(path),
    )


def _flag(path: Path, family: str, value) -> bool:
    if not isinstance(value, bool):
        raise StanceframeError(f"{path}: [families.{family}] int8_check must be true or false, not {value!r}")
    return value


def check_family_params(path: Path, family: str, params: dict) -> None:
    """Each ``[families.NAME]`` value against the family's constructor default: a known
    name, the default's type (a whole number where it is one, a number where it is a
    float, true/false where it is a boolean, text where it is text), and positive where
    the default is (``ngram_max = -5``, ``C = "abc"`` are refused here, not mid-run)."""
    import inspect

    from stanceframe.models import family_class

    signature = inspect.signature(family_class(family).__init__).parameters
    defaults = {name: p.default for name, p in signature.items()
                if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    open_ended = any(p.kind is p.VAR_KEYWORD for p in signature.values())
    for name, value in params.items():
        if name not in defaults and open_ended:
            continue
        if name not in defaults:
            raise StanceframeError(f"{path}: [families.{family}] unknown parameter {name!r}; known: "
                                   f"{', '.join(defaults)}")
        default, where = defaults[name], f"{path}: [families.{family}] {name} = {value!r}"
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise StanceframeError(f"{where}: must be true or false")
        elif isinstance(default, (int, float)):
            whole = isinstance(default, int)
            if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
                raise StanceframeError(f"{where}: must be a {'whole number' if whole else 'number'}")
            if default > 0 and value <= 0:
                raise StanceframeError(f"{where}: must be greater than 0")
        elif isinstance(default, str) and not isinstance(value, str):
            raise StanceframeError(f"{where}: must be text (in quotes)")


def _register_setting(path: Path, promote: dict) -> str:
    value = str(promote.get("register", "all"))
    if value not in {"all", "best"}:
        raise StanceframeError(f"{path}: [promote] register must be \"all\" or \"best\", not {value!r}")
    return value
