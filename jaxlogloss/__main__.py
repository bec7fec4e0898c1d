"""``python -m jaxlogloss`` runs the command line."""

import sys

from jaxlogloss.cli.main import main

sys.exit(main())
