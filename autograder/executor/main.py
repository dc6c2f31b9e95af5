"""The executor's entry: set up, then answer questions until "bye". No submission code runs here.

Started by the parent as a sandboxed process of its own, beside the
submission's child, with the same deadlines and limits. It receives compiled
graphs as plain data (``install``), rebuilds them from allow-listed ops, and
answers the model questions of ``wire/operations.py``'s ``EXECUTOR`` table with
wire/serve.py's loop and the handlers ``measure.py`` gathers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..wire.serve import answer_questions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--answers", type=int, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--data", default="")
    args = parser.parse_args(argv)

    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    from .measure import HANDLERS, ExecutorState

    state = ExecutorState(device=args.device, seed=args.seed, data_file=Path(args.data) if args.data else None,
                          threads=args.threads)
    if state.data_file is not None:     # a training run will come: warm up while the child compiles
        from .training import load_training_data, warm_up

        warm_up(state.device)
        if state.data_file.exists():
            state.data = load_training_data(state.data_file, state.device)
    answer_questions(args.requests, args.answers, HANDLERS, state)
