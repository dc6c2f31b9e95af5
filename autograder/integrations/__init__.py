"""Course platforms: export an assignment to Gradescope or nbgrader and grade it there with the kit.

- ``gradescope``: the autograder archive, and grading inside it;
- ``nbgrader``: the course folder and its notebooks, and the test cells' grading in the kernel;
- ``nbgrader_autograde``: ``nbgrader autograde`` scoring with the kit, outside the students' kernels;
- ``solution_markers``: merging a stub and its solution between nbgrader's solution markers.
"""
