"""The speed benchmark's settings and fixed choices: which families it times, which one is
compared with the transformers pipeline and its forward pass, the seed, and the targets a
full run is judged against (``stanceframe benchmark speed``, :mod:`.speed`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

TRANSFORMER_FAMILY = "encoder-finetune"  # the family compared with the pipeline and its ceiling
RSS_FAMILY = "tfidf-logreg"  # streaming memory is measured with the fast family
DEFAULT_FAMILIES = ("lexicon", "tfidf-logreg", "tfidf-svm", "encoder-logreg", "encoder-finetune", "setfit")
EXPENSIVE_FITS = {"encoder-finetune", "setfit"}  # cached under out/bench/models/ between runs
SHIPPED_DEFAULT = "default"  # `--family default`: the committed models/default/, not a fresh fit
PIPELINE_BATCH_SIZE = 64
WARMUP_SENTENCES = 200  # the untimed run before each family's timed runs
SEED = 13

TARGETS = {
    "ratio_vs_pipeline": 1.5,  # encoder-finetune end to end / pipeline
    "ratio_vs_raw": 0.85,  # encoder-finetune end to end / forward pass alone
    "tfidf_sentences_per_s": 15_000,
    "rss_growth": 0.10,  # peak RSS at the largest size vs the smallest
    "onnx_vs_pipeline": 4.0,  # an encoder model's end-to-end tag on ONNX fp32 / the transformers pipeline
    "onnx_vs_forward": 0.9,  # ... / its ONNX forward pass alone
    "onnx_startup_s": 1.5,  # whole-process `tag one-article.txt`, median
}


@dataclass
class BenchSettings:
    sentences: int = 20_000
    transformer_sentences: int = 2_000
    repeats: int = 3
    families: tuple[str, ...] = DEFAULT_FAMILIES
    rss_sizes: tuple[int, ...] = (100_000, 1_000_000)
    input: list[str] = field(default_factory=list)
    model: str | None = None  # a fine-tuned encoder-finetune folder for the peer and the ceiling
    batch_size: int | None = None  # tag's --batch-size; None: tag's default per family
    refit: bool = False
    quick: bool = False
    out_dir: Path = Path("out/bench")
    onnx_models: tuple[str, ...] = ()  # encoder model folders for the ONNX section (speed_onnx.py)
    startup_rounds: int = 5  # fresh `tag` processes per path for the start-up median
    rss_model: str | None = None  # the model folder of the peak-RSS runs (default: a fitted RSS_FAMILY model)

    @classmethod
    def quick_settings(cls, **overrides) -> BenchSettings:
        base = {"sentences": 2_000, "transformer_sentences": 64, "repeats": 3,
                "families": ("lexicon", "tfidf-logreg", TRANSFORMER_FAMILY), "rss_sizes": (20_000,), "quick": True}
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    @classmethod
    def from_options(cls, quick: bool = False, rss: bool = True, **options) -> BenchSettings:
        """The settings ``stanceframe benchmark speed``'s options ask for: ``--quick``'s
        defaults or a full run's, each option that is given (not None) winning over them;
        ``rss=False`` (``--no-rss``) skips the peak-memory runs."""
        given = {k: v for k, v in options.items() if v is not None}
        settings = cls.quick_settings(**given) if quick else cls(**given)
        if not rss:
            settings.rss_sizes = ()
        return settings
