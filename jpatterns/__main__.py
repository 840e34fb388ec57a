"""``python -m jpatterns``: the same as the ``jpatterns`` console script (the CLI's own entry)."""

from jpatterns import cli

raise SystemExit(cli.main())
