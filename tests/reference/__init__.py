"""Reference oracles: compact transcriptions of the pruning methods' reference code, for the parity tests.

One module per reference computation; each module's docstring names its source (repository, commit, file and
function) and the semantics it keeps. They are plain torch/numpy test code, never imported by the library.
"""
