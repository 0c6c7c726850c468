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


def test_the_prebuilt_countdown_is_built_from_the_current_source():
    """`make` installs labextension/build as it is: a change to src/ must be rebuilt (see its README)."""
    import re

    lab = REPO / "extensions" / "tremplin_lab" / "labextension"
    source = (lab / "src" / "index.js").read_text()
    built = "".join(p.read_text() for p in (lab / "build" / "static").glob("*.js"))
    messages = re.findall(r"console\.warn\('(\[tremplin exam-clock\][^']*)'", source)
    assert messages, "no console.warn message found in src/index.js"
    missing = [m for m in messages if m not in built]
    assert not missing, f"build/ is older than src/index.js ({missing}); rebuild it (labextension/README.md)"
