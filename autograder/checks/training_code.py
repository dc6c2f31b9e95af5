"""Checks on training code: reusable training functions, and overfitting one batch.

``training_function`` calls the submission's ``run_epoch``,
``train_simple_network``, ``resume_simple_network`` or ``auc_score`` in the
child on small data sets, watching every call of the loss function; the
parent checks the returned results and checkpoints against what was watched
(losses, modes, optimizer steps) and against scikit-learn. The data set's
seed (its samples and its 80/20 split) and auc_score's labels and scores are
drawn afresh each run (checks/instances.py), so recorded predictions or
scores answer nothing.

Epochs may be counted as the textbook counts them (``results["epoch"]`` holds
the loop index 0, 1, ..., N - 1) or from 1 (1, ..., N); whichever a submission
records, its checkpoints must say the same.

``overfit_batch`` trains a model on a few hundred fixed images (real CIFAR-10
when the data folder has it, synthetic ones otherwise) and the parent counts
how many of them it then classifies correctly.
"""

from __future__ import annotations


import torch

from ..settings.model import Key
from .base import STEP, TRAIN, CheckKind, Question, Verdict, call_text, model_spec
from .instances import instance_random, seed_from
from .registry import register
from .tensor_specs import cifar_folder, image_batch, literal

SCENARIOS = ("run_epoch", "train", "fit", "checkpoint_every", "resume", "auc", "auc_in_training")
FUNCTIONS = {"run_epoch": ["run_epoch"], "train": ["train_simple_network"], "fit": ["train_simple_network"],
             "checkpoint_every": ["train_simple_network"], "resume": ["resume_simple_network"],
             "auc": ["auc_score"], "auc_in_training": ["train_simple_network", "auc_score"]}
SCORE_SEED = 77             # mixed into the seed of auc's labels and scores, which is drawn each run


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(b))


def _number(value) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _series(results: dict, key: str, length: int) -> tuple[list[float] | None, str]:
    """results[key] as `length` numbers, or why not."""
    if key not in results:
        return None, f"the results have no key '{key}' (keys: {', '.join(sorted(results)) or 'none'})"
    values = results[key]
    if not isinstance(values, list):
        return None, f"results['{key}'] is a {type(values).__name__}; expected a list with one value per epoch"
    numbers = [_number(v) for v in values]
    if len(numbers) != length or any(v is None for v in numbers):
        return None, f"results['{key}'] holds {len(values)} values; expected {length} numbers"
    return numbers, ""


def _epoch_base(epochs: list[float]) -> int | None:
    """0 when the epochs were recorded as the loop index (0 .. N-1), 1 when counted from 1, else None."""
    for base in (0, 1):
        if epochs == [float(e) for e in range(base, base + len(epochs))]:
            return base
    return None


def _numbers(values) -> list[float | None]:
    """A recorded series as plain numbers (None where an entry is not a number)."""
    return [_number(v) for v in values] if isinstance(values, list) else []


def _batch_mean_ok(value: float, calls: list[dict], tol: float) -> bool:
    """The recorded epoch loss is the mean of its batches' losses (plain or weighted by size)."""
    if not calls:
        return False
    plain = sum(c["loss"] for c in calls) / len(calls)
    weighted = sum(c["loss"] * c["size"] for c in calls) / sum(c["size"] for c in calls)
    return _close(value, plain, tol) or _close(value, weighted, tol)


@register
class TrainingFunction(CheckKind):
    name = "training_function"
    summary = "a reusable training function records, checkpoints and resumes as specified"
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
        n = p["auc_samples"]
        generator = torch.Generator().manual_seed(p["score_seed"])
        labels = torch.randint(0, 2, (n,), generator=generator)
        # scores that lean towards the right class, as softmax probabilities of two columns
        logits = torch.randn(n, 2, generator=generator)
        logits[:, 1] += labels.float()
        probabilities = torch.softmax(logits, dim=1)
        return literal(labels, "int64"), literal(probabilities, "float64")

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
        judge = getattr(self, f"_judge_{scenario}", None)
        if judge is None:
            return Verdict(False, f"grading.toml names unknown scenario '{scenario}' "
                                  f"(known: {', '.join(SCENARIOS)})")
        return judge(self._instance(check), answers[0].value)

    # ------------------------------------------------------------ scenarios

    def _judge_run_epoch(self, p, got):
        tol, scores = p["tolerance"], p["scores"]
        results = got["results"]
        train_calls = [c for c in got["calls"] if c["training"]]
        val_calls = [c for c in got["calls"] if not c["training"]]
        if len(train_calls) != got["train_batches"] or len(val_calls) != got["test_batches"]:
            return Verdict(False, f"run_epoch() called the loss function {len(train_calls)} times in training "
                                  f"and {len(val_calls)} in evaluation; expected once per batch "
                                  f"({got['train_batches']} and {got['test_batches']})")
        if got["train_steps"] != got["train_batches"]:
            return Verdict(False, f"in training mode run_epoch() called optimizer.step() {got['train_steps']} "
                                  f"times for {got['train_batches']} batches; step once per batch")
        if got["eval_steps"] or got["eval_changed_weights"]:
            return Verdict(False, "run_epoch() changed the weights in evaluation mode: call backward() and "
                                  "optimizer.step() only when model.training is True")
        for prefix, calls in (("train", train_calls), ("val", val_calls)):
            losses, why = _series(results, f"{prefix} loss", 1)
            if losses is None:
                return Verdict(False, f"after one run_epoch(..., prefix='{prefix}'): {why}")
            if not _batch_mean_ok(losses[0], calls, tol):
                plain = sum(c["loss"] for c in calls) / len(calls)
                return Verdict(False, f"results['{prefix} loss'] is {losses[0]:.5g}; the mean of the batch "
                                      f"losses was {plain:.5g}: append the mean loss over the epoch's batches")
            outputs = torch.cat([c["output"] for c in calls])
            targets = torch.cat([c["target"] for c in calls])
            accuracy = (outputs.argmax(1) == targets).double().mean().item()
            for name in scores:
                values, why = _series(results, f"{prefix} {name}", 1)
                if values is None:
                    return Verdict(False, f"after one run_epoch(..., prefix='{prefix}'): {why} (each score "
                                          "function goes under '<prefix> <name>')")
                if name == "accuracy" and not _close(values[0], accuracy, tol):
                    return Verdict(False, f"results['{prefix} accuracy'] is {values[0]:.4g}; the predictions "
                                          f"(argmax of the outputs) give {accuracy:.4g}: call each score "
                                          "function as score(y_true, y_pred) on the whole epoch's labels and "
                                          "predicted classes")
        if _number(got["returned"]) is None or _number(got["returned"]) < 0:
            return Verdict(False, f"run_epoch() returned {got['returned']!r}; it should return the seconds "
                                  "the epoch took")
        return Verdict(True, "run_epoch() steps once per batch in training, never in evaluation, and records "
                             "the mean loss and each score under '<prefix> <name>'")

    def _check_history(self, p, results: dict, epochs: int, what: str) -> tuple[str, int]:
        """'' and how the epochs are counted (0 or 1), or why the history is wrong."""
        epoch, why = _series(results, "epoch", epochs)
        if epoch is None:
            return f"{what}: {why}", 0
        base = _epoch_base(epoch)
        if base is None:
            return (f"{what}: results['epoch'] is {epoch}; expected the epoch of each entry, "
                    f"0 to {epochs - 1} (the loop index) or 1 to {epochs}"), 0
        times, why = _series(results, "total time", epochs)
        if times is None:
            return f"{what}: {why}", base
        if any(b < a for a, b in zip(times, times[1:])) or times[0] < 0:
            return (f"{what}: results['total time'] {times} should be the running total of seconds, "
                    "never decreasing"), base
        for key in ("train loss", "val loss", *(f"{s} {n}" for s in ("train", "val") for n in p["scores"])):
            values, why = _series(results, key, epochs)
            if values is None:
                return f"{what}: {why}", base
        return "", base

    def _judge_train(self, p, got):
        epochs, tol = p["epochs"], p["tolerance"]
        results = got["results"]
        problem, base = self._check_history(p, results, epochs, f"train_simple_network(epochs={epochs})")
        if problem:
            return Verdict(False, problem)
        last = epochs - 1 + base
        calls = got["calls"]
        nt, nv = got["train_batches"], got["test_batches"]
        train_calls = [c for c in calls if c["training"] and c["grad"]]
        val_calls = [c for c in calls if not c["training"] and not c["grad"]]
        if len(train_calls) != epochs * nt or len(val_calls) != epochs * nv or len(calls) != epochs * (nt + nv):
            return Verdict(False, f"over {epochs} epochs the loss was computed {len(train_calls)} times in train "
                                  f"mode with gradients and {len(val_calls)} times in eval mode under "
                                  f"torch.no_grad() (of {len(calls)}); expected {epochs * nt} and {epochs * nv}: "
                                  "evaluate with model.eval() inside torch.no_grad(), then switch back with "
                                  "model.train()")
        train_loss, val_loss = _numbers(results["train loss"]), _numbers(results["val loss"])
        for e in range(epochs):
            if not _batch_mean_ok(train_loss[e], train_calls[e * nt:(e + 1) * nt], tol):
                return Verdict(False, f"results['train loss'][{e}] is not the mean batch loss of epoch {e + 1}")
            if not _batch_mean_ok(val_loss[e], val_calls[e * nv:(e + 1) * nv], tol):
                return Verdict(False, f"results['val loss'][{e}] is not the mean batch loss of epoch {e + 1}'s "
                                      "validation pass")
        saved = got["checkpoint"]
        if saved is None:
            return Verdict(False, "no checkpoint file was written: save one with torch.save({...}, checkpoint_file)")
        if not isinstance(saved, dict):
            return Verdict(False, "the checkpoint should be a dict with keys epoch, model_state_dict, "
                                  "optimizer_state_dict and results")
        missing = [k for k in ("epoch", "model_state_dict", "optimizer_state_dict", "results") if k not in saved]
        if missing:
            return Verdict(False, f"the checkpoint lacks {', '.join(missing)} (it has: "
                                  f"{', '.join(sorted(saved)) or 'nothing'})")
        if _number(saved["epoch"]) != last:
            return Verdict(False, f"the checkpoint says epoch {saved['epoch']!r} after {epochs} epochs, whose "
                                  f"last is recorded as {last} in results['epoch']: save it with the epoch "
                                  "just finished, counted as in results['epoch']")
        state = saved["model_state_dict"]
        final = got["final_state"]
        if not isinstance(state, dict) or set(state) != set(final) or any(
                not isinstance(state[k], torch.Tensor) or not torch.allclose(state[k].float(), final[k], atol=1e-6)
                for k in final):
            return Verdict(False, "the checkpoint's model_state_dict is not the trained model's state: save "
                                  "model.state_dict() after the last epoch")
        optimizer_state = saved["optimizer_state_dict"]
        if not isinstance(optimizer_state, dict) or "param_groups" not in optimizer_state:
            return Verdict(False, "the checkpoint's optimizer_state_dict should be optimizer.state_dict()")
        saved_results = saved["results"]
        if not isinstance(saved_results, dict) or _numbers(saved_results.get("train loss")) != train_loss:
            return Verdict(False, "the checkpoint's results differ from the results returned: save the same "
                                  "results dict")
        return Verdict(True, f"{epochs} epochs recorded (epoch, total time, losses, scores), validation in eval "
                             "mode without gradients, checkpoint complete")

    def _reference_accuracy(self, p, data: dict) -> float:
        """The held-out accuracy the grader reaches itself on this run's split: the same model and starting
        weights, SGD at reference_lr over the same batches in the same order, for the same epochs."""
        from torch import nn

        from ..wire.fixtures import small_model

        with torch.random.fork_rng(devices=[]):
            model = small_model(data["x_train"].shape[1], p["model_seed"])
        optimizer = torch.optim.SGD(model.parameters(), lr=p["reference_lr"])
        loss = nn.CrossEntropyLoss()
        x, y, size = data["x_train"], data["y_train"], p["batch_size"]
        for _ in range(p["epochs"]):
            for start in range(0, len(x), size):
                optimizer.zero_grad()
                loss(model(x[start:start + size]), y[start:start + size]).backward()
                optimizer.step()
        with torch.no_grad():
            predictions = model.eval()(data["x_test"]).argmax(1)
        return (predictions == data["y_test"]).double().mean().item()

    def _judge_fit(self, p, got):
        from ..wire.fixtures import make_dataset

        data = make_dataset(p["dataset"], p["samples"], p["data_seed"])
        labels = data["y_test"]
        predictions = got.get("predictions")
        if not isinstance(predictions, torch.Tensor) or predictions.shape != labels.shape:
            return Verdict(False, "the trained model gave no prediction for each held-out sample")
        accuracy = (predictions.long() == labels).double().mean().item()
        text = (f"after train_simple_network(epochs={p['epochs']}) on {p['dataset']}, accuracy on the "
                f"held-out 20% is {accuracy:.1%}")
        details = {"accuracy": round(accuracy, 4)}
        if accuracy >= p["min_accuracy"]:
            return Verdict(True, f"{text} ≥ {p['min_accuracy']:.0%}", details)
        # This run's split is drawn: on a hard one even the textbook's recipe may miss the bar, so the grader
        # runs that recipe itself on the same split and model, and asks for no less than it, minus a margin.
        reference = self._reference_accuracy(p, data)
        needed = min(p["min_accuracy"], reference - p["reference_margin"])
        details.update(reference_accuracy=round(reference, 4), needed=round(needed, 4))
        if accuracy >= needed:
            return Verdict(True, f"{text} ≥ {needed:.1%}: on this run's split the grader's own SGD run (lr "
                                 f"{p['reference_lr']:g}) reaches {reference:.1%}", details)
        return Verdict(False, f"{text} < {p['min_accuracy']:.0%} (on this run's split the grader's own SGD run, lr "
                              f"{p['reference_lr']:g}, reaches {reference:.1%}): the model barely learned; check "
                              "that each batch runs loss.backward() and optimizer.step() in training", details)

    def _judge_checkpoint_every(self, p, got):
        epochs, every = p["epochs"], p["every"]
        files = got["files"]
        recorded = _numbers(got["results"].get("epoch")) if isinstance(got.get("results"), dict) else []
        base = _epoch_base(recorded) if len(recorded) == epochs else None
        if base is None:
            return Verdict(False, f"after train_simple_network(epochs={epochs}) results['epoch'] is {recorded}; "
                                  f"expected 0 to {epochs - 1} or 1 to {epochs}")
        # After the k-th epoch (k = every, 2 * every, ...) a copy holds the epoch as recorded (k - 1 + base).
        # Counted from 1, it is named by k; counted from 0, by k or by k - 1.
        due = list(range(every, epochs + 1, every))
        namings = [{f"checkpoint_epoch{k}.pt": k - 1 + base for k in due}]
        if base == 0:
            namings.append({f"checkpoint_epoch{k - 1}.pt": k - 1 for k in due})
        for naming in namings:
            naming["checkpoint.pt"] = epochs - 1 + base
        expected = max(namings, key=lambda naming: len(set(naming) & set(files)))
        missing = [name for name in expected if name not in files]
        if missing:
            return Verdict(False, f"with checkpoint_file='checkpoint.pt', epochs={epochs}, checkpoint_every_x="
                                  f"{every}, these files are missing: {', '.join(missing)} (found: "
                                  f"{', '.join(files) or 'none'}); save a numbered copy after every {every} "
                                  "epochs")
        extra = [name for name in files if name not in expected]
        if extra:
            return Verdict(False, f"unexpected checkpoint files {', '.join(extra)}: save a numbered copy only "
                                  f"after every {every} epochs")
        wrong = [f"{name} says epoch {files[name]!r}, not {e}" for name, e in expected.items()
                 if _number(files[name]) != e]
        if wrong:
            return Verdict(False, "checkpoints hold the wrong epoch (count as in results['epoch']): "
                                  + "; ".join(wrong))
        return Verdict(True, f"numbered checkpoints {', '.join(n for n in expected if n != 'checkpoint.pt')} "
                             "and the latest one in checkpoint_file")

    def _judge_resume(self, p, got):
        first_epochs, total = p["epochs"], p["total_epochs"]
        results = got["results"]
        problem, base = self._check_history(p, results, total,
                                            f"resume_simple_network(..., epochs={total}) after {first_epochs} "
                                            "epochs")
        if problem:
            return Verdict(False, problem + " (the results continue the checkpoint's)")
        first = got["first_results"]
        before = _numbers(first.get("train loss")) if isinstance(first, dict) else []
        if len(before) < first_epochs or _numbers(results["train loss"])[:first_epochs] != before[:first_epochs]:
            return Verdict(False, "the resumed results do not start with the checkpoint's results: load "
                                  "checkpoint['results'] and append to it")
        start, saved = got["state_at_start"], got["saved_state"]
        if start is None:
            return Verdict(False, "resume_simple_network() never ran the model")
        if not isinstance(saved, dict) or any(not torch.allclose(start[k], saved[k].float(), atol=1e-6)
                                              for k in start if k in saved):
            return Verdict(False, "resume_simple_network() did not start from the checkpoint's weights: call "
                                  "model.load_state_dict(checkpoint['model_state_dict']) before training")
        if got["training_calls"] != (total - first_epochs) * got["train_batches"]:
            return Verdict(False, f"resume_simple_network() trained {got['training_calls']} batches; expected "
                                  f"{(total - first_epochs) * got['train_batches']} (epochs "
                                  f"{first_epochs + 1} to {total} only)")
        if _number(got["final_epoch"]) != total - 1 + base:
            return Verdict(False, f"after resuming to {total} epochs the checkpoint says epoch "
                                  f"{got['final_epoch']!r}, not {total - 1 + base} as results['epoch'] ends: "
                                  "keep saving the checkpoint")
        return Verdict(True, f"resumed from epoch {first_epochs} to {total} with the saved weights and results")

    def _judge_auc(self, p, got):
        from sklearn.metrics import roc_auc_score

        labels, scores = (torch.tensor(spec["data"]) for spec in self._auc_data(p))
        want = roc_auc_score(labels.numpy(), scores[:, 1].numpy())
        value = _number(got["value"])
        if value is None:
            return Verdict(False, f"auc_score() returned {got['value']!r}; expected a number")
        if not abs(value - want) <= 1e-9 + 1e-6 * abs(want):
            return Verdict(False, f"auc_score() returned {value:.6f}; roc_auc_score on the positive-class "
                                  f"column (y_pred[:, 1]) gives {want:.6f}")
        return Verdict(True, f"auc_score() agrees with roc_auc_score on the positive column ({want:.4f})")

    def _judge_auc_in_training(self, p, got):
        from sklearn.metrics import roc_auc_score

        epochs, tol = p["epochs"], p["tolerance"]
        results = got["results"]
        nt, nv = got["train_batches"], got["test_batches"]
        calls = got["calls"]
        train_calls = [c for c in calls if c["training"]]
        val_calls = [c for c in calls if not c["training"]]
        if len(train_calls) != epochs * nt or len(val_calls) != epochs * nv:
            return Verdict(False, f"over {epochs} epochs the loss was computed {len(train_calls)} times in train "
                                  f"mode and {len(val_calls)} in eval mode; expected {epochs * nt} and "
                                  f"{epochs * nv}")
        for prefix, watched, per_epoch in (("train", train_calls, nt), ("val", val_calls, nv)):
            values, why = _series(results, f"{prefix} AUC", epochs)
            if values is None:
                return Verdict(False, f"with score_funcs={{'AUC': auc_score}}: {why}")
            for e in range(epochs):
                batches = watched[e * per_epoch:(e + 1) * per_epoch]
                outputs = torch.cat([c["output"] for c in batches])
                targets = torch.cat([c["target"] for c in batches])
                positive = torch.softmax(outputs.double(), dim=1)[:, 1]
                want = roc_auc_score(targets.numpy(), positive.numpy())
                value = values[e]
                if value != value:  # NaN: auc_score raised inside run_epoch
                    return Verdict(False, f"results['{prefix} AUC'][{e}] is nan: auc_score failed inside "
                                          "run_epoch, which gave it the predicted classes; give a score "
                                          "function marked @needs_scores the class probabilities (softmax of "
                                          "the outputs, shape (N, 2)) instead")
                if not _close(value, want, tol):
                    return Verdict(False, f"results['{prefix} AUC'][{e}] is {value:.5f}; the AUC of the epoch's "
                                          f"positive-class probabilities (softmax of the outputs) is {want:.5f}: "
                                          "run_epoch should hand a score function marked @needs_scores "
                                          "softmax(outputs) of the whole epoch, not the predicted classes")
        last = {prefix: _numbers(results[f"{prefix} AUC"])[-1] for prefix in ("train", "val")}
        return Verdict(True, f"train_simple_network records a finite AUC each epoch (last: train "
                             f"{last['train']:.3f}, val {last['val']:.3f}), from the class probabilities",
                       {"train_auc": round(last["train"], 4), "val_auc": round(last["val"], 4)})


@register
class OverfitBatch(CheckKind):
    name = "overfit_batch"
    summary = "the model can fit a small fixed batch perfectly within a step budget"
    params = {
        "images": Key(256, "images in the batch"),
        "lr": Key(0.003, "Adam learning rate"),
        "max_steps": Key(300, "optimizer steps allowed (full batch each)"),
        "check_every": Key(10, "steps between two accuracy measurements"),
        "min_accuracy": Key(1.0, "training accuracy needed on the batch (full points)"),
        "data_seed": Key(11, "seed of the synthetic images"),
        "signal": Key(0.3, "synthetic images: class template times this, plus unit noise"),
    }
    pass_mark = "min_accuracy"

    def questions(self, check, assignment):
        p = check.params
        batch = image_batch(p["images"], assignment.num_classes, assignment.input_shape, p["data_seed"], p["signal"])
        # The grader's executor trains the compiled model from PyTorch's default initialisation.
        return [Question("overfit_batch", {
            "model": model_spec(assignment), "images": {**batch, "part": "images"},
            "labels": {**batch, "part": "labels"}, "lr": p["lr"], "max_steps": p["max_steps"],
            "check_every": p["check_every"],
        }, f"training {call_text(assignment)} on {p['images']} fixed images", limit=TRAIN)]

    def judge(self, check, assignment, answers, context):
        from ..wire.fixtures import cifar_images, synthetic_images

        p = check.params
        got = answers[0].value
        folder = cifar_folder(context.data_dir)
        got["source"] = "cifar10" if folder else "synthetic"
        if folder:
            _, labels = cifar_images(folder, p["images"])
        else:
            _, labels = synthetic_images(p["images"], assignment.num_classes, assignment.input_shape,
                                         p["data_seed"], p["signal"])
        predictions = got["predictions"]
        if not isinstance(predictions, torch.Tensor) or predictions.shape != labels.shape:
            return Verdict(False, "the training run returned no prediction for each image")
        accuracy = (predictions.long() == labels).double().mean().item()
        source = "CIFAR-10" if got["source"] == "cifar10" else "synthetic"
        text = (f"{accuracy:.1%} of {p['images']} {source} images right after {got['steps']} Adam steps "
                f"({got['seconds']:.1f} s)")
        details = {"accuracy": round(accuracy, 4), "steps": got["steps"], "source": got["source"]}
        if accuracy >= p["min_accuracy"]:
            return Verdict(True, text, details)
        last_loss = got["history"][-1][2] if got["history"] else None
        hint = ("the loss became NaN" if got["history"] and last_loss is None else
                "a network that trains should memorise a batch this small: check that every layer is "
                "connected in forward() and that nothing is frozen or detached")
        verdict = Verdict(False, f"{text}; needed {p['min_accuracy']:.0%}: {hint}", details)
        return self.scored(check, verdict, accuracy, "batch accuracy", lambda v: f"{round(v * 100, 1):g}%",
                           f"{text}: {hint}")
