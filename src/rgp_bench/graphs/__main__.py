"""``python -m rgp_bench.graphs``."""

from .cli import main

raise SystemExit(main())
