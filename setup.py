"""Build step beside pyproject.toml: the wheel carries the shipped default model and the label
schema as package data (``stanceframe/shipped/``). In a checkout they live where the project
keeps them, ``models/default/`` and ``training/schema.toml``; ``stanceframe.paths`` prefers those
when present and falls back to the shipped copies in an installed package."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = {"models/default": "default-model", "models/fast": "fast-model", "training/schema.toml": "schema.toml"}


class BuildWithShippedData(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's own files
            return
        target = Path(self.build_lib) / "stanceframe" / "shipped"
        for source, name in SHIPPED.items():
            source = ROOT / source
            if source.is_dir():
                shutil.copytree(source, target / name, dirs_exist_ok=True)
            elif source.is_file():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildWithShippedData})
