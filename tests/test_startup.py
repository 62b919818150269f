"""Start-up: `stanceframe tag` with the default model imports only what tagging uses. The
heavy libraries that prediction does not need (scikit-learn, pandas, scipy.stats: over two
seconds of a short run) stay out of the process; nltk is loaded for Punkt alone, and stays
whole for any code that imports it afterwards."""

from __future__ import annotations

import json
import subprocess
import sys

from support.paths import REPO

HEAVY = ("sklearn", "pandas", "scipy.stats", "torch", "mlflow", "matplotlib", "transformers", "pyarrow")


def _run(code: str, cwd) -> str:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_tag_with_the_default_model_imports_no_heavy_library(tmp_path):
    article = REPO / "seeds" / "seed-korea-ww3.txt"
    code = ("import json, sys\nfrom stanceframe.cli import main\n"
            f"code = main(['tag', {str(article)!r}, '--quiet', '--out', 'tags.jsonl'])\n"
            f"print(json.dumps([code, sorted(m for m in {HEAVY!r} if m in sys.modules)]))")
    code_, loaded = json.loads(_run(code, tmp_path).strip().splitlines()[-1])
    assert code_ == 0 and (tmp_path / "tags.jsonl").stat().st_size > 0
    assert loaded == []


def test_nltk_imported_after_the_splitter_is_the_whole_package(tmp_path):
    code = ("from stanceframe.corpus import segment, Document\n"
            "segment(Document('d', 'One sentence. Another one.'))\n"
            "import nltk\n"
            "from nltk.metrics import edit_distance\n"
            "print(nltk.wordpunct_tokenize('a b.'), edit_distance('ab', 'abc'), nltk.tokenize.punkt.__name__)")
    assert _run(code, tmp_path).split() == ["['a',", "'b',", "'.']", "1", "nltk.tokenize.punkt"]
