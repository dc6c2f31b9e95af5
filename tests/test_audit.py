"""autograder audit: the mutation operators, equivalence measured, mutants killed, and the kit's own scores.

The operator tests only parse and compile (fast). The audits grade: each no-training assignment
with a few mutants sampled evenly over the operators (seed 0), in one warm batch each, and LeNet-5
with one mutant under a tiny training recipe. Their time is printed (pytest -s).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from autograder.audit.run import (EQUIVALENT, KILLED, NOT_GRADED, SURVIVED, AssignmentAudit, MutantOutcome,
                              audit_mutants, graded_names, make_mutants)
from autograder.audit.report import audit_html, audit_json
from autograder.commands import audit_assignments
from autograder.checks import load_config
from autograder.audit.mutations import OPERATORS, hand_made, mutants_of, operator_names, sample
from conftest import HAVE_MNIST, write_fast_config

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "grading.toml"
KIT = load_config(CONFIG)

NO_TRAINING = ["conv_arithmetic", "softmax_cross_entropy", "dropout_batchnorm", "tensors_autograd", "training_loop",
               "linear_mlp"]
# Mutants per assignment in the suite (seed 0, spread over the operators): the full audits are in the
# README; these keep the suite's audits under about two minutes on two cores.
IN_SUITE_MUTANTS = 4
# The score each in-suite audit reaches today (killed / killed and survived) for its sample (seed 0):
# a lower one is a check that got weaker. Samples that keep survivors hold only mutants the
# assignment's README accepts on purpose (ACCEPTED).
IN_SUITE_SCORE = {"conv_arithmetic": 1.0, "softmax_cross_entropy": 1.0, "dropout_batchnorm": 0.75,
                  "tensors_autograd": 1.0, "training_loop": 1.0, "linear_mlp": 0.25}
# The operators whose survivors an assignment's README accepts ("What the checks accept on purpose").
ACCEPTED = {
    "conv_arithmetic": {"activation_swapped", "activation_to_sigmoid", "activation_removed", "pooling_swapped",
                        "layer_calls_swapped", "flatten_hard_coded"},
    "dropout_batchnorm": {"comparison_boundary_shifted", "no_grad_inserted"},
    "tensors_autograd": {"number_changed"},
    "linear_mlp": {"range_off_by_one", "slice_off_by_one"},
}


def reference(assignment: str) -> str:
    return (KIT.solution_dir(assignment) / KIT.assignment(assignment).file).read_text(encoding="utf-8")


def all_mutants(assignment: str):
    names, by_hand = graded_names(KIT.assignment(assignment))
    return mutants_of(reference(assignment), names, by_hand, filename=KIT.assignment(assignment).file)


# ----------------------------------------------------------------- the operators

def test_at_least_twenty_operators_each_named_and_documented():
    names = operator_names()
    assert len(names) >= 20 and len(set(names)) == len(names)
    for op in OPERATORS:
        assert re.fullmatch(r"[a-z][a-z0-9_]+", op.name) and len(op.summary) > 20, op.name
        assert op.find.__doc__ is None or op.find.__doc__.strip()


@pytest.mark.parametrize("assignment", sorted(KIT.assignments))
def test_every_mutant_compiles_and_changes_only_what_the_checks_grade(assignment):
    """Valid Python, different from the reference and from each other, and every top-level statement
    outside the graded classes and functions (main(), a training script) left exactly as it was."""
    text = reference(assignment)
    mutants = all_mutants(assignment)
    assert mutants, f"the operators found nothing to change in {assignment}"
    names, _ = graded_names(KIT.assignment(assignment))
    tree = ast.parse(text)
    from autograder.audit.mutations import graded_scopes
    scopes, _ = graded_scopes(tree, names)
    graded = {scope.owner or scope.node.name for scope in scopes}

    def untouched(source: str) -> list[str]:
        return [ast.dump(node) for node in ast.parse(source).body
                if not (isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in graded)]

    outside = untouched(text)
    assert len({m.source for m in mutants}) == len(mutants)
    assert len({m.id for m in mutants}) == len(mutants)
    for mutant in mutants:
        compile(mutant.source, "mutant.py", "exec")
        assert mutant.source != text
        assert untouched(mutant.source) == outside, mutant.id
        assert mutant.diff.startswith(f"line {mutant.line}: ")


@pytest.mark.parametrize("assignment, operator, before, after", [
    ("lenet5", "layer_padding_zeroed", "padding=2", "padding=0"),
    ("lenet5", "pooling_swapped", "nn.AvgPool2d(2)", "nn.MaxPool2d(2)"),
    ("task1_cnn", "dropout_training_dropped", "F.dropout(x, training=self.training)", "F.dropout(x)"),
    ("task1_cnn", "log_softmax_removed", "return F.log_softmax(x, dim=1)", "return x"),
    ("conv_arithmetic", "library_op_in_by_hand", "", "return torch.nn.functional.max_pool2d(x, kernel_size, stride)"),
    ("dropout_batchnorm", "dropout_scaling_dropped", "x * keep / (1.0 - self.p)", "(x * keep)"),
    ("dropout_batchnorm", "variance_bias_flipped", "unbiased=False", "unbiased=True"),
    ("dropout_batchnorm", "norm_constant_changed", "momentum=0.1", "momentum=0.9"),
    ("training_loop", "mode_switch_removed", "model.eval()", "pass"),
    ("training_loop", "training_flag_ignored", "if model.training:", "if True:"),
    ("linear_mlp", "update_sign_flipped", "p -= lr * p.grad", "p += lr * p.grad"),
    ("linear_mlp", "zero_grad_misplaced", "optimizer.zero_grad() | loss.backward()",
     "loss.backward() | optimizer.zero_grad()"),
    ("softmax_cross_entropy", "stability_shift_removed", "z - z.max(dim=1, keepdim=True).values", "shifted = z"),
])
def test_operators_make_the_mistakes_they_name(assignment, operator, before, after):
    diffs = [m.diff for m in all_mutants(assignment) if m.operator == operator]
    assert any(before in diff.split(" → ")[0] and after in diff.split(" → ")[1] for diff in diffs), diffs


def test_sampling_is_deterministic_and_even_across_operators():
    mutants = all_mutants("conv_arithmetic")
    first, again, other = sample(mutants, 23, seed=1), sample(mutants, 23, seed=1), sample(mutants, 23, seed=2)
    assert [m.id for m in first] == [m.id for m in again] and [m.id for m in first] != [m.id for m in other]
    assert len(first) == 23
    made = Counter(m.operator for m in mutants)
    counts = Counter(m.operator for m in first)
    assert len(counts) == min(23, len(made))          # one of each operator before a second of any
    assert max(counts.values()) - min(counts.values()) <= 1
    assert sample(mutants, None, seed=1) == mutants


def test_a_hand_made_mutant_needs_its_text_exactly_once():
    text = reference("lenet5")
    mutant = hand_made(text, "padding=2", "padding=0", name="no_padding")
    assert mutant.diff.startswith("line 22: nn.Conv2d(1, 6, kernel_size=5, padding=2),")
    with pytest.raises(ValueError, match="found 15 times in the reference, not once"):
        hand_made(text, "nn.", "torch.nn.")


# ----------------------------------------------------------------- audits that grade

def rename_local(text: str) -> tuple[str, str]:
    """CNNModel.forward with its local variable renamed: the same program."""
    old = ("        x = F.max_pool2d(F.relu(self.conv2(x)), 2)   # -> (N, 32, 5, 5)\n"
           "        return self.fc(x.flatten(1))")
    return old, old.replace("x = F", "h = F").replace("(x.flatten", "(h.flatten")


@pytest.fixture(scope="module")
def kit_audits(tmp_path_factory):
    """Each no-training assignment audited with IN_SUITE_MUTANTS sampled mutants (seed 0); conv_arithmetic
    also with two hand-made mutants that compute what the reference computes. Returns (audits, seconds)."""
    started = time.monotonic()
    audits = {}
    for assignment_id in NO_TRAINING:
        assignment = KIT.assignment(assignment_id)
        mutants, made = make_mutants(KIT, assignment, max_mutants=IN_SUITE_MUTANTS, seed=0)
        if assignment_id == "conv_arithmetic":
            text = reference(assignment_id)
            mutants += [hand_made(text, "F.max_pool2d(F.relu(self.conv1(x)), 2)",
                                  "F.max_pool2d(torch.relu(self.conv1(x)), 2)", name="relu_alias"),
                        hand_made(text, *rename_local(text), name="local_renamed")]
        audits[assignment_id] = audit_mutants(config=KIT, assignment=assignment, mutants=mutants, made=made,
                                              folder=tmp_path_factory.mktemp(assignment_id), seed=0, jobs=2)
    seconds = time.monotonic() - started
    print(f"\nin-suite audits: {seconds:.0f} s for {sum(len(a.outcomes) for a in audits.values())} mutants: " +
          ", ".join(f"{a.assignment} {a.seconds:.0f} s" for a in audits.values()))
    return audits, seconds


@pytest.mark.parametrize("assignment", NO_TRAINING)
def test_the_kits_checks_kill_the_sampled_mutants(kit_audits, assignment):
    audit = kit_audits[0][assignment]
    sampled = [o for o in audit.outcomes if o.mutant.operator != o.mutant.id]
    assert len(sampled) == IN_SUITE_MUTANTS and len({o.mutant.operator for o in sampled}) == IN_SUITE_MUTANTS
    assert audit.count(NOT_GRADED) == 0, [o.note for o in audit.outcomes]
    survivors = {o.mutant.id: (o.mutant.diff, o.equivalence) for o in audit.outcomes if o.status == SURVIVED}
    assert audit.score is not None and audit.score >= IN_SUITE_SCORE[assignment], survivors
    unexplained = {i: v for i, v in survivors.items() if i.rsplit("-", 1)[0] not in ACCEPTED.get(assignment, ())}
    assert not unexplained, f"survivors the README of {assignment} does not accept: {unexplained}"
    for outcome in audit.outcomes:
        if outcome.status == KILLED:
            assert outcome.failed_checks and outcome.score < outcome.max_score


def test_equivalent_mutants_are_measured_and_left_out_of_the_score(kit_audits):
    """F.relu -> torch.relu and a renamed local variable keep every graph, parameter and output:
    measured equivalent (they kept full marks, so they were measured), not survivors."""
    audit = kit_audits[0]["conv_arithmetic"]
    by_id = {o.mutant.id: o for o in audit.outcomes}
    for name in ("relu_alias", "local_renamed"):
        outcome = by_id[name]
        assert outcome.status == EQUIVALENT, (outcome.status, outcome.equivalence, outcome.note)
        assert outcome.score == outcome.max_score
        assert outcome.equivalence == "every answer to the checks' questions equals the reference's"
    killed, survived = audit.count(KILLED), audit.count(SURVIVED)
    assert audit.score == killed / (killed + survived)


def test_the_in_suite_audits_stay_small(kit_audits):
    """What bounds their time: a handful of mutants each (about 80 s for all six on two busy cores;
    the seconds are printed with pytest -s)."""
    audits, seconds = kit_audits
    assert sum(len(a.outcomes) for a in audits.values()) == IN_SUITE_MUTANTS * len(NO_TRAINING) + 2, seconds


def test_the_report_says_it_all(kit_audits):
    audits = list(kit_audits[0].values())
    data = audit_json(audits)
    assert set(data["assignments"]) == set(NO_TRAINING)
    conv = data["assignments"]["conv_arithmetic"]
    assert {"score", "killed", "survived", "equivalent", "mutants"} <= set(conv)
    assert conv["equivalent"] >= 2 and len(conv["mutants"]) == IN_SUITE_MUTANTS + 2
    assert sum(sum(counts.values()) for counts in conv["operators"].values()) == len(conv["mutants"])
    relu = next(m for m in conv["mutants"] if m["id"] == "relu_alias")
    assert relu["status"] == EQUIVALENT and relu["passed_checks"] and not relu["failed_checks"]
    assert relu["diff"].endswith("→ x = F.max_pool2d(torch.relu(self.conv1(x)), 2)")   # the comment left out
    json.dumps(data)
    page = audit_html(audits)
    assert "<script" not in page and "Content-Security-Policy" in page
    for assignment in NO_TRAINING:
        assert f"id=\"{assignment}\"" in page
    assert "x = F.max_pool2d(torch.relu(self.conv1(x)), 2)" in page


def test_the_page_escapes_what_the_code_says():
    text = reference("softmax_cross_entropy")
    mutant = hand_made(text, "return -picked.mean()", "return -picked.mean() # </td><script>alert(1)</script> <b>",
                       name="markup")
    mutant = dataclasses.replace(mutant, after="x < y <script>alert(1)</script>")
    audit = AssignmentAudit("softmax_cross_entropy", "<i>title</i>", 0, 1,
                            [MutantOutcome(mutant, SURVIVED, 13, 13, [], ["<check>"], "op 1: a → <b>")])
    page = audit_html([audit])
    assert "<script>" not in page and "<b>" not in page and "<i>" not in page and "<check>" not in page
    assert "x &lt; y &lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;check&gt;" in page


def test_a_real_mutant_of_lenet5_is_killed(tmp_path, training_data):
    """LeNet-5 without its first padding (padding=2 -> padding=0) cannot keep full marks; audited through
    the command's own function, with a tiny training recipe (the reference must still earn full marks)."""
    config = write_fast_config(tmp_path / "kit", "mnist" if HAVE_MNIST else "synthetic")
    text = config.read_text(encoding="utf-8")
    section = text.index("[assignments.lenet5.training]")
    tiny = text[section:].replace("max_steps = 500", "max_steps = 60", 1).replace(
        "stop_at_validation_accuracy = 0.85", "stop_at_validation_accuracy = 0.5", 1)
    tiny = re.sub(r"(\[assignments\.lenet5\.checks\.training\][^\[]*?)min_test_accuracy = [\d.]+",
                  r"\1min_test_accuracy = 0.5", tiny, count=1)
    tiny = re.sub(r"(\[assignments\.lenet5\.checks\.training\][^\[]*?)partial_credit_from = [\d.]+",
                  r"\1partial_credit_from = 0.25", tiny, count=1)
    config.write_text(text[:section] + tiny, encoding="utf-8")
    started = time.monotonic()
    audits = audit_assignments(assignment_ids=["lenet5"], out_dir=tmp_path / "audit", config_path=config,
                               operators=["layer_padding_zeroed"], jobs=2)
    print(f"\nlenet5 audit: {time.monotonic() - started:.0f} s")
    (audit,) = audits
    (outcome,) = audit.outcomes
    assert "padding=2" in outcome.mutant.before and "padding=0" in outcome.mutant.after
    assert outcome.status == KILLED and "output_shape" in outcome.failed_checks
    assert audit.score == 1.0
    written = json.loads((tmp_path / "audit" / "audit.json").read_text(encoding="utf-8"))
    assert written["assignments"]["lenet5"]["killed"] == 1
    assert (tmp_path / "audit" / "mutants" / "lenet5" / outcome.mutant.id / "lenet5.py").is_file()
    assert "audit of the checks" in (tmp_path / "audit" / "audit.html").read_text(encoding="utf-8").lower()


def test_ops_that_commute_compare_in_one_order_and_the_others_keep_theirs():
    """ReLU after or before max pooling is one graph to the equivalence measure; elementwise dropout and
    pooling are not (the mask's shape changes), nor is a pair whose first result is read elsewhere too."""
    from autograder.audit.equivalence import _plain_graph

    def graph(*ops, outputs=None):
        nodes = [{"op": f"aten.{op}.default", "args": [{"ref": i}, *extra], "kwargs": {}, "line": 7}
                 for i, (op, *extra) in enumerate(ops)]
        return _plain_graph({"inputs": [[1, 4, 4]], "nodes": nodes, "dynamic": False, "batch": 1,
                             "outputs": outputs or {"ref": len(ops)}})

    assert graph(("max_pool2d", 2), ("relu",)) == graph(("relu",), ("max_pool2d", 2))
    assert graph(("feature_dropout", 0.5, True), ("max_pool2d", 2)) == graph(("max_pool2d", 2),
                                                                            ("feature_dropout", 0.5, True))
    assert graph(("dropout", 0.5, True), ("max_pool2d", 2)) != graph(("max_pool2d", 2), ("dropout", 0.5, True))
    both = [{"ref": 1}, {"ref": 2}]          # the pooled value is an output as well: no reordering
    assert graph(("max_pool2d", 2), ("relu",), outputs=both) != graph(("relu",), ("max_pool2d", 2), outputs=both)
