"""``python -m deeplift.cli``."""
import sys

from deeplift.cli import main

sys.exit(main())
