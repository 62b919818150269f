from stanceframe.cli import main

raise SystemExit(main())
