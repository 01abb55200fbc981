"""Content-addressed state on disk: crash-safe file I/O, run identity, the run store and the dense-model cache."""
