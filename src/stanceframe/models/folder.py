"""A model folder's files, read and written without pickle: JSON, and ``.npy`` arrays
whose header is checked before their data is read, so a folder from a stranger can never
execute code when loaded (and a wrong shape is refused before gigabytes are read)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from stanceframe.errors import ModelFolderError

PARAMS_FILE = "estimator.json"
PER_TARGET_DIR = "targets"  # target_mode="per-target": one estimator folder per target


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and anything else JSON cannot hold as its
    ``str`` (what ``estimator.json`` records of the parameters)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


MAX_WEIGHT_FILE_BYTES = 8 << 30  # no file of a model folder is larger (a fine-tuned encoder is ~90 MB)
MAX_JSON_BYTES = 1 << 30  # nor a JSON file of one (a tf-idf vocabulary is a few MB)


def check_folder_files(folder: Path) -> None:
    """Every file below a model folder, before any is opened: a regular file (not a
    device, a FIFO, a socket), inside the folder once symbolic links are resolved
    (``stance/vocab_word.json -> /dev/zero`` or ``-> ~/.ssh/id_rsa`` is refused), and at
    most :data:`MAX_WEIGHT_FILE_BYTES`. A :class:`ModelFolderError` names the file."""
    root = Path(folder).resolve()
    for dirpath, dirnames, filenames in os.walk(folder):  # links to folders are not followed, only checked
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            target = path.resolve()
            if not target.is_relative_to(root):
                raise ModelFolderError(f"{path}: a link out of the model folder (to {target}); refused")
            if name in dirnames:
                continue
            try:
                info = path.stat()
            except OSError as exc:
                raise ModelFolderError(f"{path}: cannot read ({exc.strerror or exc})") from None
            if not stat.S_ISREG(info.st_mode):
                raise ModelFolderError(f"{path}: not a regular file; refused")
            if info.st_size > MAX_WEIGHT_FILE_BYTES:
                raise ModelFolderError(f"{path}: {info.st_size:,} bytes, larger than any stanceframe model file; "
                                       "refused")


def read_json(path: Path) -> dict:
    return read_json_with_bytes(path)[0]


def read_json_with_bytes(path: Path) -> tuple[dict, bytes]:
    """A model folder's JSON file, and its bytes (for a digest without reading it twice)."""
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_JSON_BYTES:
                raise ModelFolderError(f"{path}: not a regular file of at most {MAX_JSON_BYTES >> 20} MiB; refused")
            data = handle.read(MAX_JSON_BYTES + 1)
        return json.loads(data.decode("utf-8")), data
    except FileNotFoundError:
        raise ModelFolderError(f"{path}: missing (not a stanceframe model folder?)") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFolderError(f"{path}: not valid JSON: {exc}") from None
    except OSError as exc:
        raise ModelFolderError(f"{path}: cannot read ({exc.strerror or exc})") from None


def save_array(path: Path, array: np.ndarray) -> None:
    np.save(path, np.asarray(array), allow_pickle=False)


MAX_UNCHECKED_ELEMENTS = 1 << 26  # an array whose expected size is not known may hold at most this many values


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from a ``.npy`` file's header, reading nothing of the data."""
    return _npy_header(path)[:2]


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int, int]:
    """(shape, dtype, bytes the header says the file holds, bytes it holds)."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as handle:
            version = fmt.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, _, dtype = fmt.read_array_header_2_0(handle)
            else:
                raise ModelFolderError(f"{path}: unsupported .npy format version {version}")
            expected = handle.tell() + int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
            size = os.fstat(handle.fileno()).st_size
    except FileNotFoundError:
        raise ModelFolderError(f"{path}: missing weight file") from None
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise ModelFolderError(f"{path}: not a .npy file ({exc})") from None
    return tuple(shape), dtype, expected, size


def load_array(path: Path, shape: tuple | None = None, kind: str | None = None) -> np.ndarray:
    """A ``.npy`` array without pickle, its header (``kind``: dtype kind; ``shape``, with
    ``None`` for any size) checked before the data is read: a 3 GB file with the wrong
    shape is refused at once, and one of unknown size may hold at most
    :data:`MAX_UNCHECKED_ELEMENTS` values."""
    found, dtype, expected, size = _npy_header(path)
    if dtype.hasobject:
        raise ModelFolderError(f"{path}: holds Python objects (needs pickle), refused")
    if kind is not None and dtype.kind != kind:
        raise ModelFolderError(f"{path}: expected a numeric array of kind {kind!r}, found {dtype}")
    if shape is not None and (len(found) != len(shape) or any(s is not None and s != a for s, a in zip(shape, found))):
        raise ModelFolderError(f"{path}: expected shape {shape}, found {found}")
    if (shape is None or None in shape) and int(np.prod(found, dtype=np.float64)) > MAX_UNCHECKED_ELEMENTS:
        raise ModelFolderError(f"{path}: {found} is larger than any stanceframe weight ({MAX_UNCHECKED_ELEMENTS:,} "
                               "values at most)")
    if size != expected:  # truncated, or more behind the array than its header says
        raise ModelFolderError(f"{path}: {size:,} bytes where its header says {expected:,}; refused")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ModelFolderError(f"{path}: refused to load ({exc})") from None


def read_array(path: Path, shape: tuple | None = None, kind: str = "f") -> np.ndarray:
    """A ``.npy`` file loaded without pickle, its header checked for dtype kind and shape
    before its data is read (``None`` entries in ``shape`` match any size), and finite."""
    array = load_array(path, shape, kind)
    if kind == "f" and not np.all(np.isfinite(array)):
        raise ModelFolderError(f"{path}: holds NaN or infinite values")
    return array
