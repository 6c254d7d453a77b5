"""``python -m pixelnb`` runs the command line."""

import sys

from pixelnb.cli import main

sys.exit(main())
