"""The grader's own executor: rebuilds op graphs from plain data and measures them."""
