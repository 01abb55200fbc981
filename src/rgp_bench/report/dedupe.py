"""One run per run id: a run's record found twice is counted once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rgp_bench.report.problems import Problem
from rgp_bench.report.runs import Run


def deduplicate(runs: Sequence[Run]) -> tuple[list[Run], list[Problem], int]:
    """One run per run_id: returns (runs kept, 'duplicate' problems, number of identical copies dropped).

    The same run_id means the same resolved config, so counting both would weigh that seed twice. Identical
    records (a skipped rerun copies the stored record into its new sweep dir) are the same run: all but one
    are dropped without a problem. Of records that share a run_id but differ, the newest `created` is kept
    and the others are listed as duplicates, with the entries they differ in.
    """
    by_id: dict[str, list[Run]] = defaultdict(list)
    kept: list[Run] = []
    for r in runs:
        if r.record.run_id:
            by_id[r.record.run_id].append(r)
        else:
            kept.append(r)
    problems: list[Problem] = []
    copies = 0
    for rid, same in by_id.items():
        distinct = _distinct_records(same)
        copies += len(same) - len(distinct)
        distinct.sort(key=lambda r: (r.record.created, str(r.job_dir)))
        newest = distinct[-1]
        kept.append(newest)
        problems += [
            Problem(str(r.job_dir), "duplicate", f"same run_id {rid} as {newest.job_dir} but a different record "
                    f"({', '.join(_differences(r, newest)) or 'contents'} differ); not counted")
            for r in distinct[:-1]
        ]
    kept.sort(key=lambda r: str(r.job_dir))
    return kept, problems, copies


def _distinct_records(runs: Sequence[Run]) -> list[Run]:
    """The first (by job dir) of each set of identical records."""
    first: dict[tuple[tuple[str, str], ...], Run] = {}
    for r in sorted(runs, key=lambda r: str(r.job_dir)):
        first.setdefault(tuple(sorted(r.digests.items())), r)
    return list(first.values())


def _differences(a: Run, b: Run) -> list[str]:
    """The top-level record entries in which two records differ."""
    return sorted(k for k in a.digests.keys() | b.digests.keys() if a.digests.get(k) != b.digests.get(k))
