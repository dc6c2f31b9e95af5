"""The check on reusable training functions: ``training_function``.

The kind calls the submission's ``run_epoch``, ``train_simple_network``,
``resume_simple_network`` or ``auc_score`` in the child on small data sets,
watching every call of the loss function; the parent checks the returned
results and checkpoints against what was watched (losses, modes, optimizer
steps) and against scikit-learn. Each scenario names what is called and how
it is judged; its judge is the entry of ``JUDGES`` (``training_scenarios.py``)
under its name, and ``SCENARIOS`` lists exactly those names. The data set's
seed (its samples and its 80/20 split) and auc_score's labels and scores are
drawn afresh each run (checks/instances.py), so recorded predictions or
scores answer nothing.
"""

from __future__ import annotations

from ..settings.model import Key
from .base import STEP, TRAIN, CheckKind, Question, Verdict
from .instances import instance_random, seed_from
from .registry import register
from .training_scenarios import JUDGES, auc_data

SCENARIOS = tuple(JUDGES)
FUNCTIONS = {"run_epoch": ["run_epoch"], "train": ["train_simple_network"], "fit": ["train_simple_network"],
             "checkpoint_every": ["train_simple_network"], "resume": ["resume_simple_network"],
             "auc": ["auc_score"], "auc_in_training": ["train_simple_network", "auc_score"]}
SCORE_SEED = 77             # mixed into the seed of auc's labels and scores, which is drawn each run


@register
class TrainingFunction(CheckKind):
    name = "training_function"
    summary = "a reusable training function records, checkpoints and resumes as specified"
    # the fit scenario compares the held-out accuracy with min_accuracy (partial_credit_from applies there)
    pass_mark = "min_accuracy"
    params = {
        "scenario": Key("", f"what to call and check: {', '.join(SCENARIOS)}", required=True, choices=SCENARIOS),
        "dataset": Key("moons", "'moons' (make_moons, noise 0.4) or 'breast_cancer'; split 80/20",
                       choices=("moons", "breast_cancer")),
        "samples": Key(400, "samples drawn for the moons data set"),
        "batch_size": Key(32, "batch size of the loaders"),
        "epochs": Key(3, "epochs of the (first) training call"),
        "total_epochs": Key(5, "resume: the total epoch count resume_simple_network continues to"),
        "every": Key(2, "checkpoint_every: save a numbered checkpoint every this many epochs"),
        "lr": Key(0.1, "run_epoch: learning rate of the SGD optimizer passed in"),
        "scores": Key(["accuracy"], "score functions passed as score_funcs (scikit-learn names)"),
        "min_accuracy": Key(0.9, "fit: accuracy on the 20% split needed to pass, unless the grader's own run "
                                 "of the reference recipe on the same split and model reaches less"),
        "reference_lr": Key(0.001, "fit: learning rate of the grader's own run (SGD, the same epochs, batches "
                                   "and starting weights), which sets the bar on a split where it misses "
                                   "min_accuracy"),
        "reference_margin": Key(0.03, "fit: on such a split, the accuracy needed is the grader's own minus this"),
        "auc_samples": Key(200, "auc: samples of the labels and scores compared with scikit-learn"),
        "tolerance": Key(1e-4, "relative tolerance of recorded numbers"),
        "data_seed": Key(5, "mixed into the seed of the data set and its 80/20 split, which is drawn each run "
                            "(the model's seed is the grading seed)"),
    }

    def grades_a_number(self, params):
        return params["scenario"] == "fit"

    def required_names(self, check, assignment):
        return FUNCTIONS.get(check.params["scenario"], [check.params["scenario"]])

    def _instance(self, check) -> dict:
        """The check's parameters with this run's draws: the data set's seed and the seed of auc's scores."""
        rng = instance_random(check)
        p = dict(check.params)
        p["data_seed"] = (seed_from(rng) + p["data_seed"]) % 2**31
        p["score_seed"] = (seed_from(rng) + SCORE_SEED) % 2**31
        p["model_seed"] = seed_from(rng)
        return p

    def _auc_data(self, p: dict) -> tuple[dict, dict]:
        """auc's labels and scores for this run's score seed (as tensor specs)."""
        return auc_data(p)

    def questions(self, check, assignment):
        p = self._instance(check)
        scenario = p["scenario"]
        args = {"scenario": scenario, "dataset": p["dataset"], "samples": p["samples"],
                "batch_size": p["batch_size"], "epochs": p["epochs"], "scores": p["scores"], "lr": p["lr"],
                "data_seed": p["data_seed"], "model_seed": p["model_seed"]}
        if scenario == "resume":
            args["total_epochs"] = p["total_epochs"]
        if scenario == "checkpoint_every":
            args["every"] = p["every"]
        if scenario == "auc":
            args["y_true"], args["y_scores"] = self._auc_data(p)
        label = {
            "run_epoch": "calling run_epoch() for one training and one evaluation pass",
            "train": f"calling train_simple_network() for {p['epochs']} epochs",
            "fit": f"training on {p['dataset']} with train_simple_network() for {p['epochs']} epochs",
            "checkpoint_every": f"calling train_simple_network(..., checkpoint_every_x={p['every']})",
            "resume": f"resuming from a checkpoint with resume_simple_network() up to {p['total_epochs']} epochs",
            "auc": "calling auc_score()",
            "auc_in_training": f"calling train_simple_network(..., score_funcs={{'AUC': auc_score}}) for "
                               f"{p['epochs']} epochs",
        }.get(scenario, f"running scenario {scenario}")
        return [Question("training_scenario", args, label, limit=TRAIN if scenario != "auc" else STEP)]

    def judge(self, check, assignment, answers, context):
        scenario = check.params["scenario"]
        judge = JUDGES.get(scenario)
        if judge is None:
            return Verdict(False, f"grading.toml names unknown scenario '{scenario}' "
                                  f"(known: {', '.join(SCENARIOS)})")
        verdict = judge(self._instance(check), answers[0].value)
        accuracy = verdict.details.get("accuracy") if scenario == "fit" and verdict.details else None
        if accuracy is None:
            return verdict
        return self.scored(check, verdict, accuracy, "held-out accuracy", lambda v: f"{round(v * 100, 1):g}%")
