"""``python -m stylo.cli``: the ``stylo`` command."""

import sys

from stylo.cli import main

sys.exit(main())
