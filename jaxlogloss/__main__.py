"""``python -m jaxlogloss`` runs the command line."""

import sys

from jaxlogloss.cli import main

sys.exit(main())
