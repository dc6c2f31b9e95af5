"""The executor's question about trained weights handed in: load them into the compiled model and
predict the test images, with no training.

The file is read with torch's weights-only unpickler and held to the model's
names, shapes and dtypes before any value is used; every refusal is a sentence
that says how to save the weights again.
"""

from __future__ import annotations

import torch

from .optimizers import TrainingFailure
from .program import CompiledModel
from .state import ExecutorState, MeasureFailure, handles, installed, tensor_output

WEIGHTS_NAME = "the weights file"      # how messages name it (the parent names the file in its own words)


def _read_state_dict(raw: bytes, max_bytes: int) -> dict:
    """The tensors of a ``torch.save``d state dict, read with torch's weights-only unpickler (tensors and
    plain containers only: a pickle that would import or call anything is refused, never run)."""
    import io
    import pickle
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            unpacked = sum(entry.file_size for entry in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise MeasureFailure(f"{WEIGHTS_NAME} is not a file torch.save writes: save the weights with "
                             "torch.save(model.state_dict(), 'model.pt')") from None
    if unpacked > max_bytes:
        raise MeasureFailure(f"{WEIGHTS_NAME} unpacks to {unpacked / 2**20:,.1f} MiB, over the "
                             f"{max_bytes / 2**20:g} MiB allowed: save model.state_dict() only")
    try:
        loaded = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()
        cause = next((line.strip() for line in first if "Unsupported" in line or "global" in line.lower()), "")
        cause = f" ({cause[:160]})" if cause else ""
        raise MeasureFailure(f"{WEIGHTS_NAME} holds something besides tensors and plain containers{cause}, which "
                             "the grader does not load: save model.state_dict() with torch.save, not the model "
                             "object or other Python objects") from None
    except Exception as exc:
        raise MeasureFailure(f"{WEIGHTS_NAME} cannot be read ({type(exc).__name__}): save it again with "
                             "torch.save(model.state_dict(), 'model.pt')") from None
    if not isinstance(loaded, dict):
        raise MeasureFailure(f"{WEIGHTS_NAME} holds a {type(loaded).__name__}, not a state dict: save "
                             "model.state_dict() with torch.save")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()):
        nested = [k for k, v in loaded.items() if isinstance(v, dict)][:3]
        hint = (f" (it looks like a checkpoint holding {', '.join(repr(str(k)[:40]) for k in nested)}: save the "
                "model's state_dict() itself)") if nested else ""
        raise MeasureFailure(f"{WEIGHTS_NAME} is not a state dict: every entry should map a name to a tensor"
                             f"{hint}; save model.state_dict() with torch.save")
    return loaded


def _names(names, limit: int = 6) -> str:
    names = sorted(names)
    shown = ", ".join(f"'{name[:60]}'" for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _load_weights(net: CompiledModel, weights: dict[str, torch.Tensor]) -> None:
    """Put every parameter and buffer of ``weights`` in place of the compiled model's, after checking that
    the names, shapes and dtypes are the model's and every value is finite."""
    expected = {name: getattr(net.store, attribute) for (kind, name), attribute in net.attribute.items()
                if kind in ("parameters", "buffers")}
    missing, unexpected = set(expected) - set(weights), set(weights) - set(expected)
    problems = []
    if missing:
        problems.append(f"it lacks {_names(missing)}")
    if unexpected:
        problems.append(f"it has {_names(unexpected)}, which the model does not")
    if problems:
        raise MeasureFailure(f"{WEIGHTS_NAME} does not match the model: {'; '.join(problems)}. Save the "
                             "state_dict() of the very Net you hand in, after training it")
    shapes = [f"'{name[:60]}' is {tuple(weights[name].shape)}, the model's {tuple(tensor.shape)}"
              for name, tensor in expected.items() if weights[name].shape != tensor.shape]
    if shapes:
        raise MeasureFailure(f"{WEIGHTS_NAME} does not match the model's shapes: {'; '.join(shapes[:6])}. "
                             "Save the state_dict() of the very Net you hand in")
    for name, tensor in expected.items():
        given = weights[name]
        if given.layout != torch.strided or given.is_quantized or given.dtype != tensor.dtype:
            raise MeasureFailure(f"'{name[:60]}' in {WEIGHTS_NAME} is {str(given.dtype).replace('torch.', '')}, "
                                 f"the model's {str(tensor.dtype).replace('torch.', '')}: keep the model's dtypes "
                                 "(no .half() or .double() before saving)")
        if given.is_floating_point() and not bool(torch.isfinite(given).all()):
            raise MeasureFailure(f"'{name[:60]}' in {WEIGHTS_NAME} holds NaN or infinite values: the training "
                                 "diverged; train again (a lower learning rate) and save the weights then")
    with torch.no_grad():
        for name, tensor in expected.items():
            tensor.copy_(weights[name])


@handles("evaluate_weights")
def evaluate_weights(state: ExecutorState, model: dict, weights: torch.Tensor, recipe: dict,
                     input_shape: list[int]) -> dict:
    """Load trained weights handed in (``weights``: the file's bytes as uint8, at most ``max_bytes`` of
    its spec as the parent read them) into the compiled model and predict the test images, with no
    training: the weights replace any initialisation, batch-norm statistics included."""
    import secrets
    import time

    from .training import same_network_at_every_size

    if state.data is None:
        raise MeasureFailure("the grader gave no test images to this check")
    if not isinstance(weights, torch.Tensor) or weights.dtype != torch.uint8 or weights.dim() != 1:
        raise MeasureFailure("the grader could not read the weights file")
    started = time.perf_counter()
    net = installed(state, model)
    try:
        _load_weights(net, _read_state_dict(weights.numpy().tobytes(), weights.numel()))
        test_images = state.data["test_images"]
        mean, std = recipe.get("normalize_mean", 0.1307), recipe.get("normalize_std", 0.3081)
        size = int(recipe.get("test_batch_size", 500))

        def batch(index: torch.Tensor) -> torch.Tensor:
            # uint8 (B, 28, 28) -> normalised float (B, *input_shape)
            return test_images[index].float().div_(255.0).sub_(mean).div_(std).view(len(index), *input_shape)

        net.eval()
        try:
            same_network_at_every_size(net, batch(torch.zeros(1, dtype=torch.long, device=test_images.device))[0],
                                        size)
        except TrainingFailure as exc:
            raise MeasureFailure(str(exc).replace("after training, ", "with these weights, ")) from None
        # a fresh order each run, as for a training run's test predictions; put back in order
        order = torch.randperm(len(test_images), generator=torch.Generator().manual_seed(secrets.randbits(62)))
        predictions = torch.empty(len(test_images), dtype=torch.long)
        with torch.no_grad():
            for start in range(0, len(test_images), size):
                index = order[start:start + size]
                out = tensor_output(net(batch(index.to(test_images.device))))
                predictions[index] = out.argmax(1).cpu()
        count = sum(p.numel() for _, p in net.named_student_parameters())
        return {"predictions": predictions, "parameters": count, "seconds": time.perf_counter() - started}
    finally:
        net.restore(net.initial_state)
