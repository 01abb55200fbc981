"""Exception type shared by the graph subpackage."""

from __future__ import annotations


class GraphError(ValueError):
    """An infeasible request or an invalid graph.

    The message is one line that names the bad value and the valid range, so the CLI can print it as is.
    """
