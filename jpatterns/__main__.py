"""``python -m jpatterns``: the same as the ``jpatterns`` console script."""

from jpatterns.cli import main

raise SystemExit(main())
