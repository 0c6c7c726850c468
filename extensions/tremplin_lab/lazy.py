"""Server extensions loaded at the first request to their URLs, not at the server's start.

nbgrader's learner extensions (the Assignments tab: ``assignment_list``, ``validate_assignment``) import all of
nbgrader, nbconvert included: 16 MiB in every learner's server, most of whom (exam candidates, learners who
open a notebook from the home page) never open that tab. The learners' configuration turns them off in
``jpserver_extensions`` and lists them in ``c.TremplinLab.on_first_request`` with the URLs they answer;
:class:`OnFirstRequest` answers those URLs. At the first request it imports the extensions on a worker
thread (the server's event loop keeps serving the notebook meanwhile), calls their own
``load_jupyter_server_extension`` as Jupyter Server would, and from then on routes to the handlers they
added: the same handlers, settings and configuration as when loaded at start.
"""

from __future__ import annotations

import asyncio
import importlib

from tornado import httputil, web
from tornado.routing import RuleRouter

#: nbgrader's learner extensions and the URL paths they answer (nbgrader 0.9's ``default_handlers``, which
#: tests/unit/test_learner_server.py checks against nbgrader itself).
NBGRADER_LEARNER = {
    "nbgrader.server_extensions.assignment_list": r"assignments(/.*)?|courses|nbgrader_version",
    "nbgrader.server_extensions.validate_assignment": r"assignments/validate|nbgrader_version",
}


def url_pattern(paths: list[str]) -> str:
    """One tornado path pattern for the extensions' paths (relative to the server's base URL)."""
    return "(?:%s)" % "|".join(f"(?:{p})" for p in paths)


class OnFirstRequest(RuleRouter):
    """Routes the extensions' URLs to their handlers, loading the extensions at the first request."""

    def __init__(self, serverapp, modules: list[str]):
        super().__init__()
        self._serverapp = serverapp
        self._modules = list(modules)
        self._loading: asyncio.Future | None = None
        self.loaded = False

    def find_handler(self, request, **kwargs):
        if self.loaded:
            return super().find_handler(request, **kwargs)
        return _AfterLoading(self, request, kwargs)

    async def load(self) -> None:
        """Import on a worker thread (once, whoever asks first), then register on the event loop."""
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._load())
        await asyncio.shield(self._loading)

    async def _load(self) -> None:
        modules = [await asyncio.to_thread(importlib.import_module, name) for name in self._modules]
        rules = self._serverapp.web_app.default_router.rules
        before = {id(rule) for rule in rules}
        for name, module in zip(self._modules, modules):
            load = getattr(module, "_load_jupyter_server_extension", None) or module.load_jupyter_server_extension
            load(self._serverapp)
            self._serverapp.log.info("loaded %s at its first request", name)
        # Their handlers are routed from here, in their order, so they answer only the URLs given for them.
        added = [rule for rule in rules if id(rule) not in before]
        for rule in added:
            rules.remove(rule)
        self.rules = added
        self.loaded = True


class _AfterLoading(httputil.HTTPMessageDelegate):
    """A request that arrived before the extensions were loaded: it waits for them, then goes to their handler
    (or to "not found" when none of theirs answers it, to an error 500 when they could not load)."""

    def __init__(self, router: OnFirstRequest, request, kwargs):
        self._router, self._request, self._kwargs = router, request, kwargs
        self._delegate: httputil.HTTPMessageDelegate | None = None

    async def headers_received(self, start_line, headers):
        app = self._router._serverapp.web_app
        try:
            await self._router.load()
        except Exception:  # (an extension that cannot load: its URLs answer 500, and the log says why)
            self._router._serverapp.log.exception("could not load %s", ", ".join(self._router._modules))
            self._delegate = app.get_handler_delegate(self._request, web.ErrorHandler, {"status_code": 500})
        else:
            self._delegate = self._router.find_handler(self._request, **self._kwargs)
        if self._delegate is None:
            self._delegate = app.get_handler_delegate(self._request, web.ErrorHandler, {"status_code": 404})
        answer = self._delegate.headers_received(start_line, headers)
        if answer is not None:
            await answer

    def data_received(self, chunk):
        return self._delegate.data_received(chunk)

    def finish(self):
        self._delegate.finish()

    def on_connection_close(self):
        if self._delegate is not None:
            self._delegate.on_connection_close()
