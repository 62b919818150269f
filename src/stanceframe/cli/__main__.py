"""``python -m stanceframe.cli``: the ``stanceframe`` command."""

from stanceframe.cli import main

raise SystemExit(main())
