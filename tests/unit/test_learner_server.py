"""What a learner's server loads: only what learners use at start, the rest at its first use, with the same behaviour.

Issue 12: a learner's server was 157 MiB, as stock; ``bench/server_memory.py`` measures it against stock's.
These tests check the behaviour behind that figure: which modules a learner's server imports, that what it
defers still answers, and that deferring never holds up the server's event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from tornado import httpclient, httpserver, netutil, web

from tremplin_lab.lazy import NBGRADER_LEARNER, OnFirstRequest, url_pattern

REPO = Path(__file__).resolve().parents[2]

#: The URLs nbgrader's JupyterLab extension asks its server extensions (its Assignments tab and Validate button).
NBGRADER_URLS = ("assignments", "assignments/fetch", "assignments/submit", "assignments/fetch_feedback",
                 "assignments/validate", "courses", "nbgrader_version")


def run_python(code: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "graders"), str(REPO / "extensions")])}
    proc = subprocess.run([sys.executable, "-W", "error", "-c", textwrap.dedent(code)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_learner_server_starts_without_the_hubs_database_layer_the_iri_grammar_or_nbgrader():
    found = run_python("""
        import json, sys
        from tremplin_lab import singleuser
        singleuser.trim()
        import jupyter_server.serverapp, jupyterlab, jupyter_server_terminals
        from jupyterhub.singleuser.extension import main
        import tremplin_lab.serverext, tremplin_lab.transfer, tremplin_lab.kernels
        import nbformat, nbformat.json_compat
        nbformat.reads(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), as_version=4)
        left_out = ("sqlalchemy.orm", "alembic", "mako", "rfc3987_syntax", "nbgrader", "jupyter_lsp")
        print(json.dumps({**{m: sys.modules.get(m) is not None for m in left_out},
                          "validator": nbformat.json_compat.get_current_validator().name}))
    """)
    assert found.pop("validator") == "jsonschema"
    assert found == dict.fromkeys(found, False)


def test_what_is_deferred_still_loads_for_real_when_something_reads_it():
    """The hub's ORM and page handlers are never used by a learner's server; read, they are the real modules."""
    found = run_python("""
        import json, sys
        from tremplin_lab import singleuser
        singleuser.trim()
        from jupyterhub.singleuser.extension import main
        from jupyterhub.log import log_request
        import jupyterhub.orm, jupyterhub.handlers.pages as pages
        spawn = pages.SpawnHandler  # (a name the stand-in does not have: the real module, loaded now)
        import jupyterhub.handlers
        print(json.dumps({"orm": jupyterhub.orm.Server.__tablename__, "spawn": spawn.__module__,
                          "log_request": callable(log_request),
                          "handlers_pages_real": hasattr(jupyterhub.handlers.pages, "SpawnHandler")}))
    """)
    assert found == {"orm": "servers", "spawn": "jupyterhub.handlers.pages", "log_request": True,
                     "handlers_pages_real": True}


@pytest.mark.parametrize("module", sorted(NBGRADER_LEARNER))
def test_the_deferred_extensions_answer_the_urls_they_answer_when_loaded_at_start(module):
    """If nbgrader adds a route, this fails rather than its URL answering 404 in learners' servers."""
    import importlib

    handlers = importlib.import_module(module + ".handlers")
    ours = re.compile(url_pattern([NBGRADER_LEARNER[module]]))
    for pattern, _handler in handlers.default_handlers:
        theirs = re.compile(pattern.lstrip("/") + "$")
        examples = [url for url in NBGRADER_URLS if theirs.match(url)]
        assert examples, f"nbgrader's {pattern} matches none of the URLs its JupyterLab extension asks"
        assert all(ours.fullmatch(url) for url in examples), (pattern, examples)


FAKE_EXTENSION = """
import threading
from tornado import web

release = None  # (the test's Event: the import waits on it, as a slow import would)
loads = []

class Echo(web.RequestHandler):
    def get(self):
        self.finish("get " + self.request.path)

    def post(self):
        self.finish("post " + self.request.body.decode())

def load_jupyter_server_extension(serverapp):
    loads.append(1)
    serverapp.web_app.add_handlers(".*$", [("/x/assignments", Echo), ("/x/courses", Echo)])
"""


class _ServerApp:
    def __init__(self, web_app):
        import logging

        self.web_app, self.log = web_app, logging.getLogger("test")


class _Ping(web.RequestHandler):
    def get(self):
        self.finish("pong")


async def test_the_first_requests_wait_for_the_extension_loaded_off_the_event_loop_then_reach_its_handlers(
        tmp_path, monkeypatch):
    # A module whose import blocks until the test lets it: the server must answer other requests meanwhile.
    gate = threading.Event()
    (tmp_path / "slow_ext.py").write_text("import builtins\nbuiltins._tremplin_gate.wait(60)\n" + FAKE_EXTENSION)
    monkeypatch.syspath_prepend(str(tmp_path))
    import builtins

    monkeypatch.setattr(builtins, "_tremplin_gate", gate, raising=False)
    app = web.Application([("/x/ping", _Ping)])
    router = OnFirstRequest(_ServerApp(app), ["slow_ext"])
    app.add_handlers(".*$", [("/x/" + url_pattern(["assignments(/.*)?|courses"]), router)])
    sockets = netutil.bind_sockets(0, "127.0.0.1")
    server = httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    base = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/x"
    client = httpclient.AsyncHTTPClient()
    try:
        first = asyncio.ensure_future(client.fetch(f"{base}/assignments"))
        second = asyncio.ensure_future(client.fetch(f"{base}/courses", method="POST", body="a body"))
        unknown = asyncio.ensure_future(client.fetch(f"{base}/assignments/nothing", raise_error=False))
        pong = await asyncio.wait_for(client.fetch(f"{base}/ping"), 30)  # (answered while the import waits)
        assert pong.body == b"pong" and not first.done() and not router.loaded
        gate.set()
        done = await asyncio.wait_for(asyncio.gather(first, second, unknown), 60)
        assert [r.code for r in done] == [200, 200, 404]
        assert done[0].body == b"get /x/assignments" and done[1].body == b"post a body"
        again = await client.fetch(f"{base}/assignments")
        assert again.body == b"get /x/assignments"
        assert sys.modules["slow_ext"].loads == [1], "loaded once, whoever asked first"
    finally:
        gate.set()
        server.stop()
        sys.modules.pop("slow_ext", None)


def test_only_extensions_whose_urls_are_known_can_be_deferred():
    from traitlets import TraitError
    from traitlets.config import Config

    from tremplin_lab.serverext import TremplinLab

    c = Config()
    c.TremplinLab.on_first_request = ["nbgrader.server_extensions.formgrader"]
    with pytest.raises(TraitError, match="only nbgrader.server_extensions.assignment_list, "
                                         "nbgrader.server_extensions.validate_assignment can be loaded"):
        TremplinLab(config=c)


async def test_an_extension_that_cannot_load_answers_500_and_says_why_in_the_log(tmp_path, monkeypatch, caplog):
    (tmp_path / "broken_ext.py").write_text("raise ImportError('nbgrader is not installed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    app = web.Application([])
    router = OnFirstRequest(_ServerApp(app), ["broken_ext"])
    app.add_handlers(".*$", [("/x/" + url_pattern(["assignments(/.*)?"]), router)])
    sockets = netutil.bind_sockets(0, "127.0.0.1")
    server = httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    client = httpclient.AsyncHTTPClient()
    try:
        with caplog.at_level("ERROR", logger="test"):
            for _ in range(2):
                r = await client.fetch(f"http://127.0.0.1:{sockets[0].getsockname()[1]}/x/assignments",
                                       raise_error=False)
                assert r.code == 500
        assert "could not load broken_ext" in caplog.text and "nbgrader is not installed" in caplog.text
    finally:
        server.stop()
        sys.modules.pop("broken_ext", None)
