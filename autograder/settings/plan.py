"""How many submissions a batch grades at once, and how many torch threads each gets.

No torch here (see early_start.py).
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on (a container or taskset may allow fewer than the machine has)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_jobs(submissions: int) -> int:
    """Submissions graded at once when --jobs is not given: one per usable core, never more than
    there are submissions (so that a single submission gets every core for its threads)."""
    return max(1, min(usable_cores(), submissions))


def threads_per_job(jobs: int) -> int:
    """Each job's share of the cores, for its torch threads."""
    return max(1, usable_cores() // max(jobs, 1))
