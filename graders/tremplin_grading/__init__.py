"""Tremplin's grading package: courses as data, answer checking, practice feedback, grading and exports.

Nothing here imports the hub side (``tremplin_hub``): grading runs the same in a
learner's kernel, in a grader's server and on the command line.
"""

__version__ = "0.1.0"
