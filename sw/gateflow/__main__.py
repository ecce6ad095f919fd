"""``python -m gateflow``: the command line."""

from gateflow.cli import main

raise SystemExit(main())
