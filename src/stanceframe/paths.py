"""Where the project's folders and data files are (seeds/, data/, models/, mlruns/, training/).

The labelled data has three parts, each in a place whose name says what it is:

- the **seed**: the one real article (``seeds/``), segmented into ``data/seed/sentences.jsonl``,
  its gold labels in ``data/seed/labels.jsonl``;
- the **written corpus**: articles written for the project (``data/written/articles/``, one
  catalog row each in ``data/written/catalog.jsonl``), segmented into
  ``data/written/sentences.jsonl``, labels in ``data/written/labels.jsonl``;
- the **contrast set**: loose minimal-pair sentences, ``data/contrast/contrast.jsonl``
  (training material only, never scored).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent / "shipped"  # in an installed wheel: the default model and schema


def checkout_root() -> Path | None:
    """The source checkout this package runs from (``src/stanceframe`` of a clone, as in an
    editable install), or None for an installed wheel."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "stanceframe").is_dir() else None


def project_root() -> Path:
    """The current directory when it holds seeds/ or data/, else the checkout the package
    runs from, else the current directory (an installed package outside any project)."""
    cwd = Path.cwd()
    if (cwd / "seeds").is_dir() or (cwd / "data").is_dir():
        return cwd
    return checkout_root() or cwd


def project_file(relative: str | Path, shipped_name: str) -> Path:
    """A file or folder the project keeps at ``relative`` (``models/default``,
    ``training/schema.toml``): the project's copy when there is one (the current project, then
    the checkout), else the copy the installed package ships (``shipped/<shipped_name>``)."""
    for root in dict.fromkeys(r for r in (project_root(), checkout_root()) if r is not None):
        if (root / relative).exists():
            return root / relative
    shipped = SHIPPED / shipped_name
    return shipped if shipped.exists() else project_root() / relative


def default_model_dir() -> Path:
    """The default model: ``models/default/`` of the project or checkout, else the one the
    installed package ships."""
    return project_file(Path("models") / "default", "default-model")


def fast_model_dir() -> Path:
    """The fast model for bulk work (``--model fast``): ``models/fast/`` of the project or
    checkout, else the one the installed package ships."""
    return project_file(Path("models") / "fast", "fast-model")


NAMED_MODELS = {"default": default_model_dir, "fast": fast_model_dir}


@dataclass(frozen=True)
class Corpus:
    """A folder of articles, the file its segmented sentences go to, its labels and (for
    written articles) the catalog that records each article's voice, topic and date."""

    name: str
    articles: Path
    sentences: Path
    labels: Path
    catalog: Path | None = None


def corpora(root: Path | None = None) -> list[Corpus]:
    """The project's article corpora: the seed, then the written corpus."""
    root = root or project_root()
    written = root / "data" / "written"
    return [
        Corpus("seed", root / "seeds", root / "data" / "seed" / "sentences.jsonl", root / "data" / "seed" / "labels.jsonl"),
        Corpus("written", written / "articles", written / "sentences.jsonl", written / "labels.jsonl",
               written / "catalog.jsonl"),
    ]


def contrast_file(root: Path | None = None) -> Path:
    return (root or project_root()) / "data" / "contrast" / "contrast.jsonl"


def labelled_files(root: Path | None = None) -> list[Path]:
    """Every labelled file of the project that exists: the corpora's labels, then the
    contrast set (what ``train`` and ``data stats`` use by default)."""
    root = root or project_root()
    files = [c.labels for c in corpora(root)] + [contrast_file(root)]
    return [f for f in files if f.is_file()]
