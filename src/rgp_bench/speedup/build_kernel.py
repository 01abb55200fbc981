"""``python -m rgp_bench.speedup.build_kernel``: build (or find) RGP's C++ block-sparse kernels; one line of output.

``make install`` runs it. The exit status is 0 either way: a machine without a compiler runs the other forms.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from rgp_bench.core.cli import OneLineParser
from rgp_bench.speedup.kernel import kernel_status, load_kernel, simd_info


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m rgp_bench.speedup.build_kernel", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report whether a cached build exists")
    args = parser.parse_args(argv)
    logging.getLogger("rgp_bench.speedup.kernel").setLevel(logging.CRITICAL)  # this line is the whole output
    module = load_kernel(build=not args.check)
    status = kernel_status()
    if module is None:
        print(f"warning: RGP's C++ block-sparse kernel is unavailable ({status.detail}); runs use the other forms")
    else:
        info = simd_info(module)
        print(f"RGP C++ block-sparse kernel: {status.detail} ({info.lanes} float lanes, {info.registers} registers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
