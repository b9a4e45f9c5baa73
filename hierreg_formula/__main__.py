"""``python -m hierreg_formula`` runs the command-line interface."""

from .cli import main

raise SystemExit(main())
