"""docs/fidelity.md is the fidelity ledger: every registered method has an entry, and every test it names exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rgp_bench.methods import METHODS, load_methods

ROOT = Path(__file__).resolve().parent.parent
LEDGER = ROOT / "docs" / "fidelity.md"
FIELDS = ("Reference", "Deviations", "Parity", "Pinned by")


def entries() -> dict[str, str]:
    """The ledger's method sections: `## \\`name\\`` heading -> its text up to the next heading of that level."""
    text = LEDGER.read_text()
    parts = re.split(r"^## `([A-Za-z0-9_]+)`[^\n]*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_registered_method_has_a_ledger_entry() -> None:
    load_methods()
    missing = sorted(set(METHODS) - set(entries()))
    assert not missing, f"docs/fidelity.md has no entry for {missing}"


@pytest.mark.parametrize("name", sorted(entries()))
def test_each_entry_states_its_reference_deviations_parity_and_tests(name: str) -> None:
    body = entries()[name]
    for label in FIELDS:
        assert re.search(rf"^- \*\*{label}:?\*\*", body, flags=re.MULTILINE), f"{name}: no '{label}' line"


@pytest.mark.parametrize("name", sorted(entries()))
def test_the_tests_an_entry_names_exist(name: str) -> None:
    body = entries()[name]
    pinned = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", body)
    assert pinned, f"{name}: the entry names no test (`tests/file.py::test_name`)"
    for path, function in pinned:
        source = ROOT / path
        assert source.is_file(), f"{name}: {path} does not exist"
        assert re.search(rf"^\s*(async )?def {function}\b", source.read_text(), flags=re.MULTILINE), (
            f"{name}: {path} has no test {function}")
