"""Code that runs inside the child process, beside the submission.

This package is copied with wire/ into each submission's sandbox folder and
imported from there, so it imports only the standard library, torch, numpy and
wire/, and refers to its modules relatively. It answers the parent's questions
with raw facts and tensors (``answers/``); it never decides a score.
"""
