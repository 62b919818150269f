"""Where things are: the checkout the tests run in, the virtualenv's scripts, the command line."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the checkout: seeds/, data/, training/
VENV_BIN = Path(sys.executable).parent  # the scripts next to this Python (mlflow, stanceframe)
STANCEFRAME = [sys.executable, "-m", "stanceframe"]  # the command, as a separate process
