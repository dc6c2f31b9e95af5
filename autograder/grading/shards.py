"""Shards: one batch cut into N parts that separate machines grade, then ``autograder merge`` joins.

``--shard K/N`` (K from 0 to N-1, as a Slurm array's or a Kubernetes Indexed Job's index) picks
every N-th submission in the order of their result names. The names are those a single run gives
(intake/names.py, over the whole batch), so every shard of the same command agrees on them, and
each submission falls in exactly one shard whatever order the files were listed in.

Each shard's folder gets, besides the usual files for its own submissions, ``shard.json``: which
shard it is, the names it was to grade, and every finished result in full (grading/results.py's
record), written at the end of the run, also after Ctrl-C.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import AutograderError
from .results import SubmissionResult, result_from_record, result_record

RECORD_FILE = "shard.json"
RECORD_FORMAT = "autograder shard 1"


@dataclass(frozen=True)
class Shard:
    index: int      # K, from 0
    count: int      # N

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """'3/16' -> Shard(3, 16); anything else is refused with the form it takes."""
        parts = str(text).strip().split("/")
        try:
            index, count = (int(part) for part in parts)
        except ValueError:
            index, count = -1, 0
        if len(parts) != 2 or count < 1 or not 0 <= index < count:
            raise AutograderError(f"--shard {text}: give K/N with 0 <= K < N, e.g. --shard 0/16 for the first "
                                  "of 16 (a Slurm array's $SLURM_ARRAY_TASK_ID, or a Kubernetes Indexed Job's "
                                  "$JOB_COMPLETION_INDEX, as K)")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def picks(self, names: Sequence[str]) -> list[int]:
        """The positions in ``names`` (a batch's unique result names) that this shard grades, in order."""
        by_name = sorted(range(len(names)), key=lambda position: names[position])
        return sorted(position for rank, position in enumerate(by_name) if rank % self.count == self.index)


@dataclass
class ShardRecord:
    """What one shard's run left: enough to merge it with the others without grading again."""

    folder: Path
    assignment: str
    shard: Shard
    total: int                                  # submissions in the whole batch
    expected: dict[int, str]                    # position in the batch -> name, for this shard's part
    results: dict[int, SubmissionResult]        # position -> result, for what finished
    identities: dict[int, dict]                 # position -> the platform's columns (bulk downloads)
    refused: list[str]
    lookalikes: list[str]
    duplicates: list[str]


def write_shard_record(record: ShardRecord) -> Path:
    """Write ``shard.json`` in the shard's folder, atomically."""
    data = {
        "format": RECORD_FORMAT, "assignment": record.assignment,
        "shard": [record.shard.index, record.shard.count], "total": record.total,
        "expected": [[position, name] for position, name in sorted(record.expected.items())],
        "results": [{"position": position, "identity": record.identities.get(position),
                     "result": result_record(result)} for position, result in sorted(record.results.items())],
        "refused": record.refused, "lookalikes": record.lookalikes, "duplicates": record.duplicates,
    }
    path = record.folder / RECORD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(partial, path)
    return path


def _plain_name(name: object) -> str:
    """A result name is one folder inside the output: refuse anything that would lead elsewhere."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name \
            or "\0" in name:
        raise ValueError(f"a result name that is not a plain folder name: {name!r}")
    return name


def _lines(value: object) -> list[str]:
    return [str(line) for line in value] if isinstance(value, list) else []


def read_shard_record(folder: str | Path) -> ShardRecord:
    """The record a ``--shard`` run wrote in ``folder``; a clear error when there is none or it is damaged."""
    folder = Path(folder)
    path = folder / RECORD_FILE
    if not path.is_file():
        raise AutograderError(f"{folder} holds no {RECORD_FILE}: merge takes the --out folders of "
                              "`autograder grade ... --shard K/N` runs (a run killed with SIGKILL writes none: "
                              "grade that shard again)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
            raise ValueError(f"not a {RECORD_FORMAT!r} record")
        index, count = data["shard"]
        shard = Shard(int(index), int(count))
        expected = {int(position): _plain_name(name) for position, name in data["expected"]}
        results, identities = {}, {}
        for entry in data["results"]:
            position = int(entry["position"])
            results[position] = result_from_record(entry["result"])
            _plain_name(results[position].name)
            identity = entry.get("identity")
            if isinstance(identity, dict):
                identities[position] = {str(k): str(v) for k, v in identity.items()}
        return ShardRecord(folder=folder, assignment=str(data["assignment"]), shard=shard,
                           total=int(data["total"]), expected=expected, results=results, identities=identities,
                           refused=_lines(data.get("refused")), lookalikes=_lines(data.get("lookalikes")),
                           duplicates=_lines(data.get("duplicates")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AutograderError(f"{path} cannot be read ({exc}): grade that shard again") from None


def check_complete(records: Sequence[ShardRecord]) -> None:
    """The records are the N shards of one batch, each once; otherwise say which are missing or extra."""
    first = records[0]
    for record in records[1:]:
        if (record.assignment, record.shard.count, record.total) != (first.assignment, first.shard.count,
                                                                     first.total):
            raise AutograderError(
                f"{record.folder} and {first.folder} are not shards of the same batch ({record.assignment}, "
                f"shard {record.shard}, {record.total} submissions against {first.assignment}, shard "
                f"{first.shard}, {first.total}): merge the folders of one command's shards")
    seen: dict[int, Path] = {}
    for record in records:
        if record.shard.index in seen:
            raise AutograderError(f"shard {record.shard} is given twice ({seen[record.shard.index]} and "
                                  f"{record.folder}): name each shard's folder once")
        seen[record.shard.index] = record.folder
    missing = [str(k) for k in range(first.shard.count) if k not in seen]
    if missing:
        raise AutograderError(f"shards {', '.join(missing)} of {first.shard.count} are missing: grade them "
                              f"(--shard K/{first.shard.count}) and name their folders too")


def merged(records: Sequence[ShardRecord]) -> tuple[list[int], Mapping[int, SubmissionResult], list[str]]:
    """The batch's positions that have a result (in order), the results, and the names of the submissions
    that a shard was to grade but did not finish."""
    results: dict[int, SubmissionResult] = {}
    unfinished: list[str] = []
    for record in records:
        results.update(record.results)
        unfinished += [name for position, name in sorted(record.expected.items()) if position not in record.results]
    return sorted(results), results, unfinished
