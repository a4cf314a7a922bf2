"""``python -m autonomic``."""

import sys

from autonomic.cli import main

sys.exit(main())
