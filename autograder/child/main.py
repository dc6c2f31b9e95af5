"""The child's entry: set up beside the submission, then answer questions until "bye".

Started by the parent as
``python -I -c "<bootstrap>" --requests FD --answers FD --submission FILE ...``,
or forked by the zygote (``serve``). Questions are answered by wire/serve.py's
loop with the handlers of ``child/answers/``; every exception the submission
raises, ``SystemExit`` and ``KeyboardInterrupt`` included, becomes an answer
describing it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..wire.serve import answer_questions
from .answers.base import ANSWERS, ChildState


def register_answers() -> None:
    """Import every module of questions: each registers its handlers with ``@answers`` as it is
    imported, so this list is where a new module of questions is added."""
    from .answers import functions, model, regression, training_code  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--answers", type=int, required=True)
    parser.add_argument("--submission", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--data", default="")
    args = parser.parse_args(argv)
    return serve(args.requests, args.answers, Path(args.submission), device=args.device, seed=args.seed,
                 threads=args.threads, data=args.data)


def serve(requests: int, answers: int, submission: Path, *, device: str, seed: int, threads: int,
          data: str) -> int:
    """Answer questions about ``submission`` until told "bye" (also the entry of a forked child)."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    register_answers()
    state = ChildState(
        submission=submission,
        device=device,
        seed=seed,
        data_file=Path(data) if data else None,
    )
    sys.argv = [submission.name]  # scripts that read sys.argv see no grader flags
    sys.path.insert(0, str(submission.parent))
    answer_questions(requests, answers, ANSWERS, state, submission=submission.name)
