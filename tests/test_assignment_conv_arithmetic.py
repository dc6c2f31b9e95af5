"""conv_arithmetic: broken submissions lose exactly the points of what they break.

Each broken submission is the reference solution with a few lines edited at test time.
"""

from __future__ import annotations

import pytest

from grading_cases import assert_loses_exactly, case_grader, message_of

ASSIGNMENT = "conv_arithmetic"

# case -> (what is broken, the (old, new) edits of the reference solution that break it,
#          the checks it must fail; every other check must pass)
CASES = {
    "avg_pool_sums": (
        "average pooling sums its windows instead of averaging them",
        [("lambda window: window.mean(dim=-1))", "lambda window: window.sum(dim=-1))")],
        {"avg_pool_lab_example", "avg_pool_matches_torch"}),
    "padding_ignored": (
        "conv_output_size ignores the padding",
        [("return (size - kernel_size + 2 * padding) // stride + 1",
          "return (size - kernel_size) // stride + 1  # bug: padding ignored")],
        {"output_size_padding_stride"}),
    "split_wrong_seed": (
        "validation_split uses its own random_state, not the course's 1212",
        [("test_size=0.2, random_state=1212)", "test_size=0.2, random_state=42)  # bug: the course uses 1212")],
        {"validation_split"}),
    # "By hand" is read from the compiled graph: torch's pooling inside the function loses the checks.
    "max_pool_calls_torch": (
        "max_pool2d hands the work to F.max_pool2d",
        [('    """Max pooling of an (N, C, H, W) tensor with loops; stride defaults to kernel_size."""\n',
          '    """Max pooling of an (N, C, H, W) tensor with loops; stride defaults to kernel_size."""\n'
          '    return torch.nn.functional.max_pool2d(x, kernel_size, stride)\n')],
        {"max_pool_lab_example", "max_pool_matches_torch", "max_pool_overlapping",
         "max_pool_gradient"}),
    "avg_pool_calls_torch": (
        "avg_pool2d hands the work to nn.AvgPool2d",
        [('    """Average pooling of an (N, C, H, W) tensor with loops; stride defaults to kernel_size."""\n',
          '    """Average pooling of an (N, C, H, W) tensor with loops; stride defaults to kernel_size."""\n'
          '    return nn.AvgPool2d(kernel_size, stride)(x)\n')],
        {"avg_pool_lab_example", "avg_pool_matches_torch"}),
    # Convolution by hand. conv1d_book_example, conv2d_matches_torch and conv_parameters_10 are the
    # plainest cases of their functions: whatever breaks them breaks the harder cases too.
    "conv1d_ignores_padding": (
        "conv1d never pads its input",
        [("    x = _zero_pad(x, padding, 1)\n", "")],
        {"conv1d_padding_stride", "conv1d_gradients"}),
    "conv1d_flips_kernel": (
        "conv1d flips the kernel (a mathematician's convolution, not PyTorch's cross-correlation)",
        [("outputs.append((window.unsqueeze(1) * weight).sum(dim=(2, 3)))",
          "outputs.append((window.unsqueeze(1) * weight.flip(-1)).sum(dim=(2, 3)))")],
        {"conv1d_book_example", "conv1d_gradients", "conv1d_padding_stride"}),
    "conv1d_detached": (
        "conv1d returns a result cut from the autograd graph",
        [("return torch.stack(outputs, dim=-1)", "return torch.stack(outputs, dim=-1).detach()")],
        {"conv1d_gradients"}),
    "conv2d_ignores_stride": (
        "conv2d always moves its window one position at a time",
        [("    x = _zero_pad(x, padding, 2)\n", "    x = _zero_pad(x, padding, 2)\n    stride = 1\n")],
        {"conv2d_padding_stride"}),
    "conv2d_transposed_kernel": (
        "conv2d applies each kernel transposed (rows and columns swapped)",
        [("row.append((window.unsqueeze(1) * weight).sum(dim=(2, 3, 4)))",
          "row.append((window.unsqueeze(1) * weight.transpose(-1, -2)).sum(dim=(2, 3, 4)))")],
        {"conv2d_matches_torch", "conv2d_padding_stride", "conv2d_gradients"}),
    "conv1d_by_torch": (
        "conv1d hands the work to F.conv1d (the gradient check too runs the compiled graph)",
        [("    return torch.stack(outputs, dim=-1)                                      # (N, C_out, L_out)",
          "    return F.conv1d(x, weight, stride=stride)")],
        {"conv1d_book_example", "conv1d_gradients", "conv1d_padding_stride"}),
    "conv2d_by_torch": (
        "conv2d hands the work to F.conv2d",
        [("    return torch.stack(rows, dim=-2)                                                  # (N, C_out, H_out, W_out)",
          "    return F.conv2d(x, weight, stride=stride)")],
        {"conv2d_matches_torch", "conv2d_padding_stride", "conv2d_gradients"}),
    "parameters_always_bias": (
        "conv_parameter_count counts a bias even with bias=False",
        [("(1 if bias else 0)", "1")],
        {"conv_parameters_no_bias"}),
    "parameters_one_input_channel": (
        "conv_parameter_count forgets that each filter spans every input channel",
        [("in_channels * kernel_size * kernel_size", "kernel_size * kernel_size")],
        {"conv_parameters_38", "conv_parameters_no_bias"}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return case_grader(ASSIGNMENT, CASES, tmp_path_factory)


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_submission_loses_exactly_its_checks(graded, name):
    assert_loses_exactly(graded(name), CASES[name][2])


def test_padding_message_shows_got_and_expected(graded):
    message = message_of(graded("padding_ignored"), "output_size_padding_stride")
    assert "returned 15" in message and "expected 16" in message


def test_lab_example_uses_the_lab_sheets_numbers(graded):
    message = message_of(graded("avg_pool_sums"), "avg_pool_lab_example")
    assert "[4, 3, 5, 1]" in message and "expected [2.5, 2.5, 0.5, 2.0]" in message


def test_wrong_split_message_names_the_fix(graded):
    message = message_of(graded("split_wrong_seed"), "validation_split")
    assert "item 1 of the 4 values" in message and "random_state=1212" in message


def test_pooling_by_torch_is_named_with_its_line(graded):
    # the first of the three failing checks carries the full message; the others refer to it
    message = message_of(graded("max_pool_calls_torch"), "max_pool_lab_example")
    assert "uses aten.max_pool2d (line " in message and "by hand" in message, message


def test_convolution_by_torch_is_named(graded):
    message = message_of(graded("conv2d_by_torch"), "conv2d_matches_torch")
    assert "conv2d() uses aten.conv2d" in message and "by hand" in message, message

def test_detached_convolution_is_told_to_keep_the_graph(graded):
    message = message_of(graded("conv1d_detached"), "conv1d_gradients")
    assert "gradient history" in message


def test_flipped_kernel_shows_the_books_numbers(graded):
    message = message_of(graded("conv1d_flips_kernel"), "conv1d_book_example")
    assert "returned [1.0, -1.0, -1.0, 3.0]" in message and "without being flipped" in message
