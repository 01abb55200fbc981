"""Why a fast form cannot replace a masked layer."""

from __future__ import annotations


class FormUnavailable(Exception):
    """A form does not apply to this layer (unsupported options, no kernel, too much padding, ...).

    The message is the reason, as it appears in the materialise report.
    """
