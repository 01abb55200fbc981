"""`python -m rgp_bench.report`."""

import sys

from rgp_bench.report.cli import main

if __name__ == "__main__":
    sys.exit(main())
