"""The graph subpackage's exception type and its shared argument check."""

from __future__ import annotations

import numpy as np


class GraphError(ValueError):
    """An infeasible request or an invalid graph.

    The message is one line that names the bad value and the valid range, so the CLI can print it as is.
    """


def is_int(value: object) -> bool:
    """True for Python and numpy integers, False for bools, floats, strings and everything else."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)
