"""`python -m rgp_bench.export`."""

import sys

from rgp_bench.export.cli import main

if __name__ == "__main__":
    sys.exit(main())
