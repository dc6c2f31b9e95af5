"""The child's loader keeps definitions and skips script code."""

from __future__ import annotations

import textwrap

import pytest

from autograder.child.loader import MissingModule, is_definition, load_definitions

SCRIPT = textwrap.dedent('''
    """A lab script."""
    import argparse
    import os
    import not_a_real_module_xyz
    from not_a_real_package_xyz import helper
    try:
        import numpy as np
    except ImportError:
        pass

    SIZE = 28
    HIDDEN: int = 50
    DEVICE = torch_device = "cpu"
    LAYERS = [SIZE * 2, max(3, 4)]

    def build():
        return SIZE

    class Model:
        width = HIDDEN

    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    os.makedirs("SHOULD_NOT_EXIST", exist_ok=True)
    for epoch in range(3):
        raise SystemExit("training ran at import")
    main()
    if __name__ == "__main__":
        raise SystemExit("main ran")
''')


@pytest.fixture()
def loaded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "lab.py"
    path.write_text(SCRIPT)
    return load_definitions(path, module_name="lab_under_test")


def test_definitions_are_kept(loaded):
    module, _ = loaded
    assert module.build() == 28
    assert module.Model.width == 50
    assert module.LAYERS == [56, 4]
    assert module.np.__name__ == "numpy"


def test_script_code_is_skipped_and_listed(loaded, tmp_path):
    module, report = loaded
    assert not hasattr(module, "parser") and not hasattr(module, "args")
    assert not (tmp_path / "SHOULD_NOT_EXIST").exists()
    skipped = [text for _, text in report.skipped]
    assert any("ArgumentParser" in t for t in skipped)
    assert any(t.startswith("for epoch") for t in skipped)
    assert "main()" in skipped
    # the __main__ block does not run either, but importing would not run it: no need to mention it
    assert not any("__main__" in t for t in skipped)


def test_missing_module_becomes_a_placeholder(loaded):
    module, report = loaded
    assert isinstance(module.not_a_real_module_xyz, MissingModule)
    assert isinstance(module.helper, MissingModule)
    assert set(report.missing_modules) == {"not_a_real_module_xyz", "not_a_real_package_xyz.helper"}
    with pytest.raises(ModuleNotFoundError, match="not installed on the grader"):
        module.not_a_real_module_xyz.anything
    with pytest.raises(ModuleNotFoundError):
        module.helper()


@pytest.mark.parametrize("code,kept", [
    ("x = 1", True),
    ("x = torch.device('cpu')", True),
    ("x = open('f')", False),
    ("torch.manual_seed(1)", False),
    ("a.b = 1", False),
    ("while True: pass", False),
    ("@decorator\ndef f(): pass", True),
])
def test_is_definition(code, kept):
    import ast
    assert is_definition(ast.parse(code).body[0]) is kept


def test_syntax_error_propagates(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("def broken(:\n")
    with pytest.raises(SyntaxError):
        load_definitions(path, module_name="bad_under_test")


def test_constant_built_from_skipped_code_is_skipped(tmp_path):
    path = tmp_path / "script.py"
    path.write_text("import argparse\nargs = argparse.ArgumentParser().parse_args()\n"
                    "use_cuda = not args.no_cuda\nclass Net:\n    pass\n")
    module, report = load_definitions(path, module_name="script_under_test")
    assert module.Net and not hasattr(module, "use_cuda")
    assert [line for line, _ in report.skipped] == [2, 3]
