"""Where the project's folders are (seeds/, data/, models/, mlruns/, training/)."""

from __future__ import annotations

from pathlib import Path


def project_root() -> Path:
    """The current directory when it holds seeds/ or data/, else the checkout the package
    was installed from (editable install)."""
    cwd = Path.cwd()
    if (cwd / "seeds").is_dir() or (cwd / "data").is_dir():
        return cwd
    return Path(__file__).resolve().parents[2]


def default_model_dir() -> Path:
    return project_root() / "models" / "default"
