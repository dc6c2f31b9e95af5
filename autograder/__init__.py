"""An autograder for PyTorch assignments that grades networks the way a careful TA would."""

__version__ = "0.1.0"
