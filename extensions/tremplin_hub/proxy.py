"""The proxy outlives the hub: a hub that starts uses the configurable-http-proxy still running.

With ``cleanup_proxy = False`` JupyterHub leaves its proxy running when it stops, but the next
hub stops that proxy (``ConfigurableHTTPProxy._check_previous_process``) and starts a new one,
whose routing table is empty until the hub has started every service: browsers lose their
servers for that time. :class:`TremplinProxy` keeps the running proxy instead when its pid file
names a live configurable-http-proxy on this hub's addresses that answers the API with this hub's
token (kept in the hub folder, ``tremplin_hub.hubconfig.proxy_token``); the hub then only corrects
its routes. When that
proxy dies, JupyterHub's check (``ConfigurableHTTPProxy.check_running_interval``) starts a new one
as usual.
"""

from __future__ import annotations

import os
import signal
from itertools import pairwise
from pathlib import Path

from jupyterhub.objects import Server
from jupyterhub.proxy import ConfigurableHTTPProxy
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.ioloop import PeriodicCallback

from .keeper import alive


class AdoptedProcess:
    """A proxy started by an earlier hub: not this process's child, so watched through its pid."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and not alive(self.pid):
            self.returncode = -1  # (its exit status went to its parent, not to us)
        return self.returncode

    def terminate(self) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


class TremplinProxy(ConfigurableHTTPProxy):
    """configurable-http-proxy, kept running across hub restarts."""

    def _running_proxy(self) -> int | None:
        """The pid in the pid file, if it is a live configurable-http-proxy on this hub's addresses."""
        try:
            pid = int(Path(self.pid_file).read_text().strip())
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except (OSError, ValueError):
            return None
        if not alive(pid) or not any("configurable-http-proxy" in a for a in args):
            return None
        public, api = Server.from_url(self.public_url), Server.from_url(self.api_url)
        wanted = {("--ip", public.ip), ("--port", str(public.port)), ("--api-ip", api.ip),
                  ("--api-port", str(api.port))}
        if public._unix_socket or api._unix_socket or not wanted <= set(pairwise(args)):
            self.log.info("the proxy still running (pid %s) listens elsewhere: replacing it", pid)
            return None
        return pid

    async def _answers(self) -> bool:
        try:
            r = await AsyncHTTPClient().fetch(f"{self.api_url.rstrip('/')}/api/routes", request_timeout=3,
                                              headers={"Authorization": f"token {self.auth_token}"})
        except (HTTPClientError, OSError) as exc:
            self.log.warning("the proxy still running does not answer with this hub's token (%s): replacing it", exc)
            return False
        return r.code == 200

    async def start(self):
        if self._check_running_callback is not None:  # (started again by check_running: one check is enough)
            self._check_running_callback.stop()
        pid = self._running_proxy()
        if pid is None or not await self._answers():
            return await super().start()
        self.log.info("Proxy still running at pid=%s: kept (browsers keep reaching their servers)", pid)
        self.proxy_process = AdoptedProcess(pid)
        self._check_running_callback = PeriodicCallback(self.check_running, 1e3 * self.check_running_interval)
        self._check_running_callback.start()
