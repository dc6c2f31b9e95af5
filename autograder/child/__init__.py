"""Code that runs inside the child process, beside the submission.

This package is copied on its own into each submission's sandbox folder and
imported from there, so it imports only the standard library, torch and numpy
and refers to its own modules relatively. It answers the parent's questions
with raw facts and tensors; it never decides a score.
"""
