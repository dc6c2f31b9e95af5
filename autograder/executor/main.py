"""The executor's main loop: read a question, measure, answer. No submission code runs here.

Started by the parent as a sandboxed process of its own, beside the
submission's child, with the same deadlines and limits. It receives compiled
graphs as plain data (``install``), rebuilds them from allow-listed ops, and
answers the model questions of ``wire/operations.py``'s ``EXECUTOR`` table.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from ..wire import protocol


_ASKED_BYTES = re.compile(r"tried to allocate (\d+) bytes")


def describe(exc: BaseException) -> dict:
    from .measure import MeasureFailure
    from .optimizers import TrainingFailure
    from .program import GraphRefused

    failure = isinstance(exc, (MeasureFailure, GraphRefused, TrainingFailure))
    message = str(exc)
    if isinstance(exc, MemoryError) or "can't allocate memory" in message or "out of memory" in message.lower():
        asked = _ASKED_BYTES.search(message)
        size = f" ({int(asked.group(1)) / 2**30:,.1f} GiB in one tensor)" if asked else ""
        message, failure = (f"the code asks for more memory than the grader allows{size}: keep every tensor "
                            "to the sizes the exercise needs"), True
    return {"type": type(exc).__name__, "message": message[:1000], "where": "", "hint": "",
            "stage": getattr(exc, "stage", ""), "failure": failure}


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
    while True:
        request = protocol.read_message(args.requests)
        if request is None or request.get("op") == "bye":
            sys.stdout.flush()
            os._exit(0)
        started = time.perf_counter()
        try:
            handler = HANDLERS[request["op"]]
            answer = {"ok": True, "value": handler(state, **request.get("args", {}))}
        except Exception as exc:  # a failed measurement is an answer, not a crash
            answer = {"ok": False, "error": describe(exc)}
        answer["seconds"] = time.perf_counter() - started
        protocol.write_message(args.answers, answer)
