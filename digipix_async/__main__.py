"""``python -m digipix_async``: the ``digipix`` command line."""

from digipix_async.cli import main

raise SystemExit(main())
