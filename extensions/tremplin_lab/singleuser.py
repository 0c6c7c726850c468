"""``tremplin-singleuser``: the learners' server, ``jupyterhub-singleuser`` without what it imports and never runs.

A learner's idle server was 157 MiB (131 MiB unique), as stock. A third of that is modules it loads at start
and never uses, or loads for what a lighter module already loaded does (measured on JupyterHub 6.1, Jupyter Server 2, jsonschema 4, with ``python -X importtime`` and
the process's RSS after each import):

* ``jupyterhub.log`` imports the hub's page handlers (``jupyterhub.handlers.pages``) for one ``isinstance``
  test against the hub's health-check handler, which a single-user server never serves; that import pulls
  the hub's whole web layer and its database (SQLAlchemy's ORM, alembic, mako, pygments): about 26 MiB.
  Here ``jupyterhub.log`` is imported with a stand-in for that module, whose ``HealthCheckHandler`` no request
  handler is, so that check answers as before; the stand-in is gone once ``jupyterhub.log`` is imported, and
  anything importing the hub's handlers later gets the real ones. ``jupyterhub.orm``, which JupyterHub's scopes
  and metrics modules import but do not call in a single-user server, loads at its first use
  (:class:`importlib.util.LazyLoader`).
* jsonschema's optional ``iri`` format check imports ``rfc3987_syntax``, which builds a Lark grammar at
  import: about 26 MiB. None of Jupyter Server's event schemas uses that format, so it is left out (a
  ``None`` entry in ``sys.modules`` makes the import fail, and jsonschema then skips that check).
* nbformat checks notebooks with fastjsonschema by default, which compiles nbformat's schema into Python
  code at the first notebook read: 10.5 MiB. Here it uses jsonschema (``NBFORMAT_VALIDATOR``), nbformat's
  other supported validator, already loaded: 0.5 MiB, and 20 ms instead of 1 ms to check a 55-cell exam
  notebook at each save, on the learner's own server.
* nbgrader (about 16 MiB, its import loads nbconvert and all its apps) loads at the first request to its
  learner URLs, the Assignments tab (:mod:`.lazy`); an exam's open and hand-in do not need it.

Everything else is ``jupyterhub-singleuser`` as is. The course formgraders keep the stock command.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types

#: Modules a learner's server does not import (see above).
LEFT_OUT = ("rfc3987_syntax",)


class _NotTheHubsHealthCheck:
    """The stand-in for the hub's ``HealthCheckHandler`` in ``jupyterhub.log``: no handler of a single-user server
    is one."""


def _lazy(name: str) -> None:
    """Import ``name`` now, run its body at its first attribute read."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    # (``from . import orm`` then finds it on the package, without reading the module itself)
    setattr(sys.modules[parent], child, module)


def trim() -> None:
    """Leave out and defer what a learner's server does not use; call before importing ``jupyterhub.singleuser``."""
    for name in LEFT_OUT:
        sys.modules.setdefault(name, None)
    os.environ.setdefault("NBFORMAT_VALIDATOR", "jsonschema")
    if "jupyterhub.log" in sys.modules:
        return
    import jupyterhub  # noqa: F401  (the package first: the lazy orm is set on it)

    if "jupyterhub.orm" not in sys.modules:
        _lazy("jupyterhub.orm")
    # jupyterhub.log with a stand-in for the hub's page handlers, there only while it imports: anything that
    # imports them later gets the real ones.
    pages = "jupyterhub.handlers.pages"
    stand_in = sys.modules[pages] = types.ModuleType(pages)
    stand_in.HealthCheckHandler = _NotTheHubsHealthCheck
    try:
        importlib.import_module("jupyterhub.log")
    finally:
        if sys.modules.get(pages) is stand_in:
            del sys.modules[pages]


def main() -> None:
    trim()
    from jupyterhub.singleuser import main as singleuser_main

    singleuser_main()


if __name__ == "__main__":
    main()
