import sys

from stylo.cli import main

sys.exit(main())
