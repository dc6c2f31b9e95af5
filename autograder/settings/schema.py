"""Every key grading.toml takes, declared once with its default and a one-line description
(a check kind declares its own keys in ``autograder.checks``). ``settings/loader.py`` checks
a grading.toml against these tables; the authoring guide lists them.
"""

from __future__ import annotations

from .model import LEADERBOARD_VALUES, Key

DEVICES = ("auto", "cpu", "cuda")

CONFIG_NAME = "grading.toml"


# [kit]: how the kit runs, for every assignment.
KIT_KEYS: dict[str, Key] = {
    "data_dir": Key("", "folder holding MNIST/raw/ (overridden by --data-dir or AUTOGRADER_DATA; empty means ./data)"),
    "seed": Key(0, "seed for torch, CUDA, numpy and random in every child process"),
    "feedback_output_kib": Key(16, "printed output shown on a feedback page and in Gradescope's output; the rest is cut"),
    "bulk_unpacked_mib": Key(512.0, "most a bulk download (.zip) may unpack to; unpacking stops there (zip bombs)"),
    "bulk_max_files": Key(20000, "most files a bulk download may hold; a zip with more is refused"),
    "bulk_duplicates": Key("newest", "several submissions of one student in a bulk download: 'newest' grades the "
                                     "newest, 'all' grades each; the others are listed either way",
                           choices=("newest", "all")),
    "device": Key("auto", "'auto' (GPU when present), 'cpu' or 'cuda'", choices=DEVICES),
    "allow_download": Key(True, "download missing datasets with torchvision into the cache when online"),
    "warm_start": Key(True, "fork each submission's process from a warm one per grading thread (needs bubblewrap); "
                            "false starts every one afresh"),
    "sandbox_uid": Key(65534, "user id submissions run as when the grader runs as root (0 keeps root)"),
    "max_constant_elements": Key(4096, "values a hand-written module or function may carry in buffers and "
                                       "constants together (a trained model: [limits] max_carried_values)"),
    "cluster_retries": Key(2, "grading on a Ray cluster (--cluster): times a submission is graded again on another "
                              "node after the one grading it died; then it is reported as a grader fault"),
    "cluster_cpus_per_submission": Key(1.0, "grading on a Ray cluster: cores each grading slot takes (a node with "
                                            "8 cores grades 8 submissions at once at 1.0)"),
    "cluster_gpus_per_submission": Key(0.0, "grading on a Ray cluster: share of a GPU each grading slot takes "
                                            "(0.25: four slots per GPU; 0: no GPU)"),
    "op_groups": Key({}, "named lists of ATen ops (short names, e.g. 'add', 'sum'); a by-hand check's "
                         "allowed_ops names groups and single ops"),
}

# [limits]: defaults for every assignment; [assignments.<id>.limits] overrides them.
LIMIT_KEYS: dict[str, Key] = {
    "load_seconds": Key(60.0, "time to start Python, import torch and load the submission's definitions"),
    "step_seconds": Key(60.0, "time for one question to the submission (build, forward, backward, call)"),
    "train_tflop": Key(20.0, "work one training run may take, in TFLOP (forward and backward of every step and "
                             "every image evaluated, counted before it starts): the budget is work, never time"),
    "train_watchdog_seconds": Key(1800.0, "a watchdog against hangs for one training run, far above what the "
                                          "budget takes: a run it stops is the grader's fault, never a score"),
    "memory_gib": Key(6.0, "resident memory the submission's processes may use together"),
    "output_kib": Key(64, "stdout and stderr kept from a submission; the rest is dropped"),
    "processes": Key(256, "processes and threads a submission may run at once (pids cgroup)"),
    "disk_mib": Key(512, "size of each folder a submission may write to (its folder, /tmp, /dev/shm; bubblewrap)"),
    "answer_mib": Key(128, "largest answer a submission's process may send the grader, on the wire"),
    "answer_elements": Key(16 * 2**20, "most elements of one tensor in an answer"),
    "judge_seconds": Key(20.0, "time the grader spends judging one check's answers before failing it"),
    "max_carried_values": Key(256, "values a trained model may carry besides its parameters: tensor constants, "
                                   "numbers written in forward() and allowed buffers, in 32-bit words"),
    "max_graph_nodes": Key(2000, "operations in one graph of a trained model"),
    "allow_buffers": Key(False, "whether a trained model may keep buffers other than batch-norm statistics "
                                "(they count toward max_carried_values)"),
}

# The datasets a training check can read (grading/datasets.py's DATASETS, which imports torch, loads them).
TRAINING_DATASETS = ("mnist",)

# [assignments.<id>.training]: the assignment's own recipe and the early-stop rule.
TRAINING_KEYS: dict[str, Key] = {
    "dataset": Key("mnist", "dataset the training check uses", choices=TRAINING_DATASETS),
    "optimizer": Key("sgd", "'sgd' or 'adam', as the assignment's script uses", choices=("sgd", "adam")),
    "lr": Key(0.01, "learning rate"),
    "momentum": Key(0.0, "SGD momentum"),
    "batch_size": Key(64, "training batch size"),
    "test_batch_size": Key(500, "batch size for validation and test predictions"),
    "max_steps": Key(3000, "optimizer steps before training stops regardless"),
    "eval_every": Key(100, "steps between two validation measurements"),
    "validation_size": Key(2000, "training images held out to decide when to stop"),
    "stop_at_validation_accuracy": Key(0.97, "stop early once validation accuracy reaches this"),
    "normalize_mean": Key(0.1307, "pixel mean subtracted after scaling to [0, 1]"),
    "normalize_std": Key(0.3081, "pixel standard deviation divided by after centring"),
    "test_data": Key("", "folder of the instructor's own test split in MNIST's format (t10k-images-idx3-ubyte and "
                         "t10k-labels-idx1-ubyte, raw or .gz), scored on instead of the dataset's public test set; "
                         "a relative path is read from grading.toml's folder"),
}

# [assignments.<id>]: what the assignment is.
ASSIGNMENT_KEYS: dict[str, Key] = {
    "title": Key("", "one-line title shown by `autograder list`", required=True),
    "file": Key("", "the file students submit, e.g. lenet5.py", required=True),
    "model": Key("", "class the model checks build (empty for assignments of plain functions)"),
    "model_args": Key([], "positional arguments the model is built with"),
    "input_shape": Key([], "shape of one input sample, without the batch dimension"),
    "num_classes": Key(10, "outputs per sample the model must produce"),
    "training": Key({}, "the training recipe (see TRAINING_KEYS)"),
    "limits": Key({}, "overrides of [limits] for this assignment"),
    "checks": Key({}, "the checks, in the order they run and are reported", required=True),
    "leaderboard": Key({}, "what Gradescope's leaderboard and report.html rank submissions on (see "
                           "LEADERBOARD_KEYS); none when absent"),
}

# [assignments.<id>.leaderboard]
LEADERBOARD_KEYS: dict[str, Key] = {
    "rank": Key([], "the measured values to rank on, first decides, e.g. [{value = \"test_accuracy\", order = "
                    "\"desc\"}, {value = \"parameters\", order = \"asc\"}]; values: "
                    + ", ".join(f"{name} ({text})" for name, (_, text) in LEADERBOARD_VALUES.items())),
}

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")

# Keys every check has, whatever its kind.
COMMON_CHECK_KEYS: dict[str, Key] = {
    "kind": Key("", "check kind from autograder.checks (defaults to the check's own name)"),
    "points": Key(1.0, "points the check is worth"),
    "visibility": Key("visible", "Gradescope visibility: visible, hidden, after_due_date or after_published",
                      choices=VISIBILITIES),
    "description": Key("", "what the check verifies, in one line (defaults to the kind's summary)"),
    "requires": Key([], "checks of the same assignment that must pass, with full points, for this one to count "
                        "(e.g. the training check requires the architecture's structure check)"),
    "partial_credit_from": Key(None, "for a kind with a pass mark (a number the measured value is compared with): "
                                     "the value at which points start; 0 points there and beyond, full points at "
                                     "the pass mark, linear in between (for a mark where lower is better, such as "
                                     "max_mse_ratio, it lies above the mark); unset: all or nothing"),
    "extra_credit": Key(False, "the check's points count in the score but not in the maximum"),
}


# Keys grading.toml does not take, with what replaces them (an old course's grading.toml is told how to
# change).
RETIRED_KEYS: dict[str, str] = {
    "train_seconds": "a training run is bounded by its steps and by [limits] train_tflop, never by time; the "
                     "wall-clock limit is train_watchdog_seconds, a watchdog only",
    "forbidden_ops": "by hand is now an allow-list: replace forbidden_ops by allowed_ops, the op groups "
                     "of [kit.op_groups] and single ops the function or module may use",
}
