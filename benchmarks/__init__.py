"""Recipes that regenerate BENCHMARKS.md (`make bench`): outside the library, which never imports them.

Each module has `collect(...) -> rows` and `render(rows) -> str` and a `main()` that writes its section."""
