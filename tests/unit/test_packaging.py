"""Every Python package in the source roots is installed: learners' kernels and the hub use the installed copy."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(root).parts)
        for root in (REPO / "graders", REPO / "extensions")
        for init in root.rglob("__init__.py")
    }
    assert found == listed
