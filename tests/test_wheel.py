"""The package works outside its checkout: build the wheel, install it into a fresh virtualenv
(reusing the dependencies already installed here), tag an article from an empty folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from support.paths import REPO

from stanceframe import __version__

ARTICLE = REPO / "seeds" / "seed-korea-ww3.txt"


def _source_copy(target: Path) -> Path:
    """The tracked files of the checkout (what a clone has), without build outputs or the venv."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: cannot list the files a clone would have")
    for name in listed.stdout.decode().split("\0"):
        if name and (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ folder of a fresh venv with the built wheel installed in it."""
    root = tmp_path_factory.mktemp("wheel")
    source = _source_copy(root / "source")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    str(source), "-w", str(root / "dist")], check=True, cwd=root)
    wheel = next((root / "dist").glob("stanceframe-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # the dependencies: this environment's site-packages as a plain path entry (its own .pth files,
    # such as the editable install of the checkout, are not processed from there)
    Path(purelib, "reuse-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True)
    return venv / "bin"


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return {**env, "HF_HUB_OFFLINE": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}


def test_wheel_ships_the_default_model_schema_and_templates(installed):
    wheel = next(installed.parent.parent.glob("dist/stanceframe-*.whl"))
    assert wheel.name.startswith(f"stanceframe-{__version__}-")  # one source for the version
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("stanceframe/shipped/default-model/manifest.json", "stanceframe/shipped/schema.toml",
                     "stanceframe/templates/inspect.html", "stanceframe/annotate/templates/index.html"):
        assert expected in names


def test_installed_package_tags_from_any_folder(installed, tmp_path, monkeypatch):
    work = tmp_path / "elsewhere"
    work.mkdir()
    shutil.copy(ARTICLE, work / "article.txt")
    env = _clean_env()
    where = subprocess.run([str(installed / "python"), "-c", "import stanceframe; print(stanceframe.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert str(installed.parent) in where and str(REPO) not in where  # the wheel, not the checkout

    done = subprocess.run([str(installed / "stanceframe"), "tag", "article.txt", "--quiet", "--out", "tags.jsonl"],
                          cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = (work / "tags.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) > 50 and '"stance"' in rows[0] and '"framing"' in rows[0]

    # the same tags as the checkout's own default model gives for the same file
    from stanceframe.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["tag", str(work / "article.txt"), "--quiet", "--model", str(REPO / "models" / "fast"),
                 "--out", str(tmp_path / "checkout.jsonl")]) == 0
    assert (tmp_path / "checkout.jsonl").read_text(encoding="utf-8").splitlines() == rows

    page = subprocess.run([str(installed / "stanceframe"), "inspect", "article.txt", "--html", "page.html"],
                          cwd=work, env=env, capture_output=True, text=True)
    assert page.returncode == 0, page.stderr
    assert "<html" in (work / "page.html").read_text(encoding="utf-8")
