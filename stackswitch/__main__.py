"""``python -m stackswitch``: the same command line as the ``stackswitch`` script."""

from .cli import main

raise SystemExit(main())
