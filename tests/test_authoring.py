"""Authoring is documented and checked: `autograder kinds`, docs/authoring.md, and a grading.toml that
fails at load time (with "did you mean") when it names a dataset or a value the grader cannot run."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from conftest import ROOT, write_config

from autograder.checks import authoring
from autograder.checks import KINDS
from autograder.cli import main
from autograder.commands import list_kinds
from autograder.settings.schema import TRAINING_DATASETS
from autograder.checks import load_config
from autograder.errors import ConfigError

GUIDE = ROOT / "docs" / "authoring.md"


def test_the_committed_guide_is_what_the_code_writes():
    assert GUIDE.read_text(encoding="utf-8") == authoring.authoring_markdown(), (
        "docs/authoring.md is out of date: run python -m autograder.checks.authoring")


def toml_blocks(text: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)


def test_every_example_in_the_guide_loads_as_valid_config(tmp_path):
    scaffold, *examples = toml_blocks(GUIDE.read_text(encoding="utf-8"))
    assert scaffold == authoring.SCAFFOLD
    kinds = set()
    for i, example in enumerate(examples):
        folder = tmp_path / str(i)
        folder.mkdir()
        config = load_config(write_config(folder, scaffold + "\n" + example))
        (check,) = config.assignments[authoring.SCAFFOLD_ID].checks
        kinds.add(check.kind)
    assert kinds == set(KINDS)            # one example for every kind, none missing


def test_kinds_lists_every_kind_with_its_keys_defaults_descriptions_and_example():
    infos = {info.name: info for info in list_kinds()}
    assert set(infos) == set(KINDS)
    for name, kind in KINDS.items():
        assert [key.name for key in infos[name].keys] == list(kind.params)
    done = CliRunner().invoke(main, ["kinds"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    for name in KINDS:
        assert f"[assignments.my_cnn.checks.{authoring.EXAMPLES[name][0]}]" in done.output
    text = " ".join(done.output.split())
    assert "min_test_accuracy │ 0.95 │ accuracy on the held-out test images needed to pass" in text
    assert '"log_probabilities", "probabilities", "any"' in text


def test_kinds_names_an_unknown_kind_with_did_you_mean():
    done = CliRunner().invoke(main, ["kinds", "outputshape"])
    assert done.exit_code != 0 and "did you mean 'output_shape'?" in done.output


def assignment_with(training: str = "", check: str = "") -> str:
    scaffold = authoring.SCAFFOLD.replace('optimizer = "adam"\n', "")
    return (scaffold.replace('dataset = "mnist"', training or 'dataset = "mnist"') + "\n" +
            (check or authoring.example_table("builds")))


@pytest.mark.parametrize("training, check, words", [
    ('dataset = "moons"', "", ["'assignments.my_cnn.training.dataset' is 'moons'", "it runs 'mnist'"]),
    ('dataset = "mnsit"', "", ["did you mean 'mnist'?"]),
    ('dataset = "mnist"\nmomentum = 0.5\noptimizer = "adamw"', "", ["'adamw'", "did you mean 'adam'?"]),
    ("", '[assignments.my_cnn.checks.kind_of_output]\nkind = "output_kind"\nexpect = "logprobabilities"\n',
     ["'logprobabilities'", "did you mean 'log_probabilities'?"]),
    ("", '[assignments.my_cnn.checks.bn]\nkind = "matches_torch_module"\nmodule = "MyBN"\nreference = "BatchNorm"\n',
     ["reference 'BatchNorm' is not a torch.nn module", "did you mean"]),
    ("", '[assignments.my_cnn.checks.bn]\nkind = "matches_torch_module"\nmodule = "MyBN"\nreference = "BatchNorm2d"\n'
         'modes = ["train", "evaluate"]\n', ["'evaluate'", "did you mean 'eval'?"]),
    ("", '[assignments.my_cnn.checks.loop]\nkind = "training_function"\nscenario = "run_epoch"\ndataset = "moonz"\n',
     ["'moonz'", "did you mean 'moons'?"]),
    ("", '[assignments.my_cnn.checks.loop]\nkind = "training_function"\nscenario = "runepoch"\n',
     ["'runepoch'", "did you mean 'run_epoch'?"]),
])
def test_a_value_the_grader_cannot_run_is_refused_at_load_time(tmp_path, training, check, words):
    path = write_config(tmp_path, assignment_with(training, check))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    for word in words:
        assert word in caught.value.message, caught.value.message


def test_list_refuses_an_unknown_dataset_before_anything_is_graded(tmp_path):
    path = write_config(tmp_path, assignment_with('dataset = "moons"'))
    done = CliRunner().invoke(main, ["list", "--config", str(path)])
    assert done.exit_code != 0 and "'moons', which the grader cannot run" in done.output


def test_the_datasets_grading_toml_accepts_are_those_the_kit_can_load():
    from autograder.grading.datasets import DATASETS

    assert set(TRAINING_DATASETS) == set(DATASETS)
