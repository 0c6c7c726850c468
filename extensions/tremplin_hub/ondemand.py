"""A hub-managed service that runs only while people use it: the course formgraders.

Each course's formgrader is a ``jupyterhub-singleuser`` of 144-160 MB; always on, 50 courses cost 7-8 GB before
anyone logs in. So the hub starts ``python -m tremplin_hub.ondemand -- <command>`` in its place, a small process
that listens on the service's address (``JUPYTERHUB_SERVICE_URL``, which the hub gave the service) and:

* starts the formgrader (under :mod:`tremplin_hub.keeper`, as before, on a private loopback port) at the first
  request that comes through the hub's proxy (it carries the proxy's ``X-Forwarded-For``), holds that request
  until the formgrader listens, then passes bytes both ways (HTTP and websockets alike);
* stops it once no byte went through the proxy for ``--idle-seconds`` (``TREMPLIN_FORMGRADER_IDLE``, default
  1800), as jupyterhub-idle-culler stops learners' servers; its next visitor waits a few seconds for it;
* answers the hub's own health checks (direct, on loopback, without ``X-Forwarded-For``) itself while the
  formgrader is stopped, so they never start it;
* stops the formgrader with itself when the hub stops it, and dies with the hub (``PR_SET_PDEATHSIG``).

A request that waits more than ``--start-timeout`` for the formgrader gets a 503 that says so in French and
English. A request head over 64 KiB gets a 431.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from . import keeper

HEAD_LIMIT = 64 * 1024
STOP_SECONDS = 30.0


def say(text: str) -> None:
    keeper.say(text, "tremplin-ondemand")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answer(status: str, text: str) -> bytes:
    body = (text + "\n").encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n").encode() + body


class OnDemand:
    """The formgrader's stand-in on the service's port: starts, forwards to and stops the real one."""

    def __init__(self, command: list[str], name: str, idle_s: float, start_timeout_s: float):
        self.command, self.name = command, name
        self.idle_s, self.start_timeout_s = idle_s, start_timeout_s
        self.child: subprocess.Popen | None = None
        self.port = 0
        self.starting: asyncio.Future | None = None
        self.stopping: asyncio.Future | None = None
        self.last_used = time.monotonic()

    # ---- the formgrader -------------------------------------------------------------------------------------
    def running(self) -> bool:
        return self.child is not None and self.child.poll() is None

    async def ensure_started(self) -> None:
        if self.stopping is not None:  # (a visit just as it was stopped for being unused: it starts again)
            await asyncio.shield(self.stopping)
        if self.running() and self.starting is None:
            return
        if self.starting is None:
            self.starting = asyncio.ensure_future(self._start())
            self.starting.add_done_callback(lambda _f: setattr(self, "starting", None))
        await asyncio.shield(self.starting)

    async def _start(self) -> None:
        self.port = free_port()
        env = {**os.environ, "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{self.port}/",
               "TREMPLIN_HUB_PID": str(os.getpid())}  # (the keeper follows this process as it follows the hub)
        began = time.monotonic()
        # (no preexec_fn, unsafe once threads run: the keeper asks to die with this process itself, first thing)
        self.child = subprocess.Popen([sys.executable, "-I", "-m", "tremplin_hub.keeper", "--", *self.command],
                                      env=env)
        while time.monotonic() - began < self.start_timeout_s:
            if self.child.poll() is not None:
                raise RuntimeError(f"the formgrader of {self.name} exited with status {self.child.returncode} as it "
                                   "started (its log is above)")
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.2)
                continue
            w.close()
            say(f"formgrader of {self.name} started on demand in {time.monotonic() - began:.1f} s")
            return
        await asyncio.get_running_loop().run_in_executor(None, self.stop)
        raise RuntimeError(f"the formgrader of {self.name} did not answer within {self.start_timeout_s:g} s")

    def stop(self) -> None:
        if self.running():
            self.child.send_signal(signal.SIGTERM)  # (the keeper passes it on, and kills what outlives it)
            try:
                self.child.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.child.kill()
        self.child = None

    async def stop_when_idle(self) -> None:
        while True:
            await asyncio.sleep(min(30.0, self.idle_s / 2))
            idle = time.monotonic() - self.last_used
            if self.running() and self.starting is None and idle >= self.idle_s:
                say(f"formgrader of {self.name} unused for {idle:.0f} s: stopped (it starts again at the next visit)")
                self.stopping = asyncio.get_running_loop().run_in_executor(None, self.stop)
                try:
                    await self.stopping
                finally:
                    self.stopping = None

    # ---- connections ----------------------------------------------------------------------------------------
    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.LimitOverrunError:
                writer.write(answer("431 Request Header Fields Too Large",
                                    "En-têtes trop longs. / Request headers too long."))
                return
            except asyncio.IncompleteReadError:
                return
            via_proxy = b"\r\nx-forwarded-for:" in head.lower()
            if not via_proxy:
                # (the hub's health check, or anything else on loopback: never a reason to start it)
                upstream = await self._connect(wait=False) if self.running() and self.stopping is None else None
                if upstream is None:
                    writer.write(answer("200 OK", f"formgrader of {self.name}: stopped, starts at the next visit"))
                    return
            else:
                self.last_used = time.monotonic()
                try:
                    await self.ensure_started()
                    upstream = await self._connect(wait=True)
                    if upstream is None:
                        raise RuntimeError(f"the formgrader of {self.name} stopped answering")
                except RuntimeError as exc:
                    say(str(exc))
                    writer.write(answer("503 Service Unavailable",
                                        "Le correcteur (formgrader) de ce cours ne démarre pas ; réessayez dans une "
                                        "minute ou prévenez un administrateur. / This course's formgrader does not "
                                        f"start; try again in a minute or tell an administrator. ({exc})"))
                    return
            up_reader, up_writer = upstream
            up_writer.write(head)
            await asyncio.gather(self._pump(reader, up_writer, via_proxy), self._pump(up_reader, writer, via_proxy))
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _connect(self, *, wait: bool):
        """A connection to the formgrader, or None; ``wait``: while its keeper restarts it after a crash."""
        deadline = time.monotonic() + (self.start_timeout_s if wait else 0)
        while True:
            try:
                return await asyncio.open_connection("127.0.0.1", self.port, limit=HEAD_LIMIT)
            except OSError:
                if not self.running() or time.monotonic() >= deadline:
                    return None
                await asyncio.sleep(0.2)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, counts: bool) -> None:
        try:
            while data := await source.read(65536):
                if counts:
                    self.last_used = time.monotonic()
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                sink.write_eof() if sink.can_write_eof() else sink.close()
            except (ConnectionError, OSError):
                sink.close()


async def run(args) -> int:
    url = urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", ""))
    if not url.port:
        say("JUPYTERHUB_SERVICE_URL has no port: run this as a hub-managed service with a url")
        return 2
    service = OnDemand(args.command, os.environ.get("JUPYTERHUB_SERVICE_NAME", "?"), args.idle_seconds,
                       args.start_timeout)
    server = await asyncio.start_server(service.serve, url.hostname, url.port, limit=HEAD_LIMIT)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    culler = asyncio.ensure_future(service.stop_when_idle())
    say(f"{service.name}: on {url.hostname}:{url.port}; the formgrader starts at the first visit and stops after "
        f"{args.idle_seconds:g} s unused")
    await stop.wait()
    culler.cancel()
    server.close()
    await loop.run_in_executor(None, service.stop)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tremplin_hub.ondemand", description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle-seconds", type=float, default=float(os.environ.get("TREMPLIN_FORMGRADER_IDLE") or 1800),
                        help="stop the service after this long without a visit (default 1800)")
    parser.add_argument("--start-timeout", type=float, default=120.0, help="seconds a visitor waits for it (120)")
    parser.add_argument("command", nargs="+", help="the service's command (after --)")
    args = parser.parse_args(argv)
    if args.idle_seconds <= 0 or args.start_timeout <= 0:
        parser.error("--idle-seconds and --start-timeout are seconds, more than 0")
    keeper.die_with_parent()
    hub = int(os.environ.get("TREMPLIN_HUB_PID") or 0)
    if hub and os.getppid() != hub:
        return 0  # the hub died before this process could ask to follow it
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
