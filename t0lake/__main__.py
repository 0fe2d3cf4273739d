"""``python -m t0lake`` runs the CLI."""

import sys

from t0lake.cli import main

sys.exit(main())
