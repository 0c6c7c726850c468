"""Tremplin's hub side: accounts and login, per-learner system accounts, courses loaded into JupyterHub.

It may import the grading package (``tremplin_grading``); the grading package never imports this one.
"""

__version__ = "0.1.0"
