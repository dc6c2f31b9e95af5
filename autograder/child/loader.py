"""Load a submission's definitions without running its script code.

Lab scripts often parse ``sys.argv``, download data and train at module level.
Grading keeps only the top-level statements that define things:

- imports (a module the grader lacks becomes a placeholder that fails when used),
- ``def`` and ``class`` statements (decorators included),
- assignments of constants: right-hand sides with no calls, except a short
  list of harmless ones such as ``torch.device(...)``,
- ``try`` blocks made only of imports, and docstrings.

Everything else (loops, ``main()``, argparse, ``torch.manual_seed(1)``,
dataset downloads) is skipped and listed in the report. A ``if __name__ ==
"__main__":`` block is skipped too but not listed: importing never runs it, so
leaving it out changes nothing the student should hear about.
"""

from __future__ import annotations

import ast
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from ..wire.definitions import is_definition, is_main_guard


@dataclass
class LoadReport:
    skipped: list[list] = field(default_factory=list)    # [line, first line of code]
    missing_modules: list[str] = field(default_factory=list)


class MissingModule:
    """Stands in for a module the grader does not have; fails only when used."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str):
        raise ModuleNotFoundError(
            f"module '{self._name}' is not installed on the grader "
            f"(needed for '{self._name}.{attr}'); use only torch, torchvision, numpy and scikit-learn"
        )

    def __call__(self, *args, **kwargs):
        raise ModuleNotFoundError(f"module '{self._name}' is not installed on the grader")



def _bind_missing(node: ast.stmt, namespace: dict, report: LoadReport) -> None:
    """After a failed import, bind each imported name to a MissingModule."""
    for alias in node.names:
        if isinstance(node, ast.Import):
            bound = alias.asname or alias.name.split(".")[0]
            module_name = alias.name
        else:
            bound = alias.asname or alias.name
            module_name = f"{node.module}.{alias.name}" if node.module else alias.name
        if bound != "*":
            namespace[bound] = MissingModule(module_name)
            report.missing_modules.append(module_name)


def load_definitions(path: Path, module_name: str = "submission") -> tuple[types.ModuleType, LoadReport]:
    """Run the definition statements of ``path`` in a fresh module and return it.

    SyntaxError and errors raised by kept statements propagate to the caller.
    """
    source = path.read_text(encoding="utf-8", errors="replace")
    tree = ast.parse(source, filename=path.name)
    lines = source.splitlines()
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    sys.modules[module_name] = module
    report = LoadReport()
    for node in tree.body:
        if is_main_guard(node):
            continue
        if not is_definition(node):
            text = lines[node.lineno - 1].strip() if node.lineno <= len(lines) else ""
            report.skipped.append([node.lineno, text[:80]])
            continue
        code = compile(ast.Module(body=[node], type_ignores=[]), path.name, "exec")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            try:
                exec(code, module.__dict__)
            except ImportError:
                _bind_missing(node, module.__dict__, report)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            try:
                exec(code, module.__dict__)
            except NameError:  # a constant built from skipped script code, e.g. `args.no_cuda`
                text = lines[node.lineno - 1].strip() if node.lineno <= len(lines) else ""
                report.skipped.append([node.lineno, text[:80]])
        else:
            exec(code, module.__dict__)
    return module, report
