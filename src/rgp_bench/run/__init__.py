"""One run, end to end: its plan, identity, validation and pre-flight, the pipeline, the Hydra job, tracking, sanity
checks and the run-level latency measurement."""
