"""Start-up: `stanceframe tag` with the default model imports only what tagging uses. The
heavy libraries that prediction does not need (scikit-learn, pandas, scipy.stats: over two
seconds of a short run) stay out of the process, and so do the web readers (trafilatura,
warcio) when no page or archive is read; nltk is loaded for Punkt alone, and stays whole for
any code that imports it afterwards."""

from __future__ import annotations

import json
import subprocess
import sys

from support.paths import REPO

HEAVY = ("sklearn", "pandas", "scipy.stats", "torch", "mlflow", "matplotlib", "transformers", "pyarrow",
         "trafilatura", "warcio", "lxml", "bs4")  # the last four read web pages and archives only


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


def test_an_html_input_loads_trafilatura_and_a_text_input_does_not(tmp_path):
    (tmp_path / "a.html").write_text("<html><body><p>Seoul refused lethal aid.</p></body></html>", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Seoul refused lethal aid.", encoding="utf-8")
    code = ("import json, os, sys\nfrom stanceframe.cli import main\nloaded = []\n"
            "os.environ['STANCEFRAME_SEGMENT_WORKERS'] = '0'  # read in this process, where sys.modules is looked at\n"
            "for name in ('b.txt', 'a.html'):\n"
            "    main(['tag', name, '--quiet', '--out', name + '.jsonl'])\n"
            "    loaded.append('trafilatura' in sys.modules)\n"
            "print(json.dumps(loaded))")
    assert json.loads(_run(code, tmp_path).strip().splitlines()[-1]) == [False, True]


def test_nltk_imported_after_the_splitter_is_the_whole_package(tmp_path):
    code = ("from stanceframe.corpus import segment, Document\n"
            "segment(Document('d', 'One sentence. Another one.'))\n"
            "import nltk\n"
            "from nltk.metrics import edit_distance\n"
            "print(nltk.wordpunct_tokenize('a b.'), edit_distance('ab', 'abc'), nltk.tokenize.punkt.__name__)")
    assert _run(code, tmp_path).split() == ["['a',", "'b',", "'.']", "1", "nltk.tokenize.punkt"]
