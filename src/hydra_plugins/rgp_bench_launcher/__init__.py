"""rgp-bench's Hydra launcher plugin: `hydra/launcher=joblib` that survives a lost worker (see resilient.py)."""
