"""Start each learner's Jupyter server as that learner's own system account.

As root (servers, CI), :class:`TremplinSpawner` creates the learner's account on first
use with a private home (mode 700) under the data directory, then starts
``tremplin-singleuser`` (``jupyterhub-singleuser``, trimmed) from Tremplin's Python environment as that account, so one
learner cannot read another's files. Without root it falls back to running every
server as the hub's own account in per-user folders, and says loudly that this is
only a demo.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.utils import maybe_future
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from traitlets import Bool, Integer, Unicode, default

from . import limits, system
from .layout import Layout, default_data_dir
from .startqueue import STARTING_MESSAGE, StartQueue, waiting_message

DEMO_WARNING = (
    "\n" + "!" * 78 + "\n"
    "!! DEMO MODE: the hub is not running as root, so every learner's server runs as\n"
    "!! the same system account. Learners are NOT isolated from each other, and the\n"
    "!! grading sandbox runs as that account too (network and files still cut off).\n"
    "!! Run the hub as root (make run as root) for anything but a demo.\n" + "!" * 78
)


class TremplinSpawner(LocalProcessSpawner):
    """LocalProcessSpawner with per-learner system accounts created on first start."""

    data_dir = Unicode(
        help="Tremplin's data directory (default: $TREMPLIN_DATA_DIR, else /var/lib/tremplin as root).",
    ).tag(config=True)

    @default("data_dir")
    def _data_dir_default(self):
        return str(default_data_dir())

    system_accounts = Bool(
        help="""Run each server as the user's own system account, created on first start.

        Default: True when the hub runs as root. Needs root; without it every server
        runs as the hub's account (demo mode).
        """,
    ).tag(config=True)

    @default("system_accounts")
    def _system_accounts_default(self):
        return system.running_as_root()

    home_root = Unicode(
        help="Folder holding the learners' homes (default: <data dir>/home).",
    ).tag(config=True)

    @default("home_root")
    def _home_root_default(self):
        return str(Layout(Path(self.data_dir)).homes)

    tasks_limit = Integer(
        512,
        help="""Processes and threads one learner's server and everything it starts may have at once
        (a fork bomb stops there). 0: no limit. Enforced with ``mem_limit`` and ``cpu_limit`` by a
        control group per learner (tremplin_hub.limits).""",
    ).tag(config=True)

    start_slots = Integer(
        help="""How many servers may be starting at once (default: twice the CPU cores). The others wait
        in line and see their place and an estimate while they wait (tremplin_hub.startqueue), instead of
        JupyterHub's 429 (its concurrent_spawn_limit, which Tremplin's configuration turns off).""",
    ).tag(config=True)

    @default("start_slots")
    def _start_slots_default(self):
        return 2 * (os.cpu_count() or 1)

    #: The hub's one start queue (created by the first server's start, with its ``start_slots``).
    _queue: StartQueue | None = None

    @classmethod
    def start_queue(cls, slots: int) -> StartQueue:
        if TremplinSpawner._queue is None:
            TremplinSpawner._queue = StartQueue(slots)
        return TremplinSpawner._queue

    @default("cmd")
    def _cmd_default(self):
        # The hub's own environment, which Tremplin installs where learners can read it; jupyterhub-singleuser
        # without the modules a learner's server never uses (tremplin_lab.singleuser).
        return [str(Path(sys.prefix) / "bin" / "tremplin-singleuser")]

    @default("default_url")
    def _default_url_default(self):
        return "/lab"

    @property
    def home(self) -> Path:
        return Path(self.home_root) / self.user.name

    async def run_pre_spawn_hook(self):
        # The wait in line happens here, before ``start``: JupyterHub's start_timeout only counts the start.
        self._in_line = True
        try:
            await self.start_queue(self.start_slots).enter(self.user.name)
        finally:
            self._in_line = False
        self._holding_slot = True
        try:
            return await maybe_future(super().run_pre_spawn_hook())
        except BaseException:
            self._leave_line(measured=False)
            raise

    def _leave_line(self, *, measured: bool) -> None:
        if getattr(self, "_holding_slot", False):
            self._holding_slot = False
            self.start_queue(self.start_slots).leave(self.user.name, measured=measured)

    async def progress(self):
        """The line under the progress bar: the learner's place in the start queue and an estimate, then that
        their server is starting (in French and English)."""
        queue = self.start_queue(self.start_slots)
        for _ in range(40):  # (the page can ask before the spawn reached the line: give it 10 s)
            if getattr(self, "_in_line", False) or getattr(self, "_holding_slot", False):
                break
            await asyncio.sleep(0.25)
        while getattr(self, "_in_line", False):
            place = queue.place(self.user.name)
            if place is not None:
                yield {"progress": 10, "message": waiting_message(place, queue.estimate_s(place))}
            await queue.changed(timeout=5)
        yield {"progress": 50, "message": STARTING_MESSAGE}

    async def start(self):
        try:
            url = await self._start()
            await self._until_answering(url)
        except BaseException:
            self._leave_line(measured=False)
            raise
        self._leave_line(measured=True)
        return url

    async def _until_answering(self, url) -> None:
        """Hold the slot until the server answers HTTP (what costs CPU is its start), or its process ends,
        or ``http_timeout`` (JupyterHub's own wait then decides)."""
        ip, port = url
        target = f"http://{ip}:{port}{self.server.base_url if self.server else '/'}api"
        client, deadline = AsyncHTTPClient(), asyncio.get_running_loop().time() + self.http_timeout
        while asyncio.get_running_loop().time() < deadline and self.proc is not None and self.proc.poll() is None:
            try:
                await client.fetch(target, request_timeout=2, connect_timeout=1)
                return
            except HTTPClientError as exc:
                if exc.code != 599:
                    return  # (it answered, with an error status: it is up)
            except OSError:
                pass  # (not listening yet)
            await asyncio.sleep(0.2)

    async def _start(self):
        if self.system_accounts:
            try:
                await asyncio.get_running_loop().run_in_executor(
                    None, system.ensure_account, self.user.name, self.home)
            except system.AccountError as exc:
                self.log.error("account for %s: %s (%s)", self.user.name, exc.message, exc.detail)
                raise
        else:
            self.home.mkdir(parents=True, exist_ok=True)
        self._cgroups = await asyncio.get_running_loop().run_in_executor(None, self._prepare_limits)
        self.notebook_dir = str(self.home)
        # Start in the home, not in the hub's working directory.
        self.popen_kwargs = {**self.popen_kwargs, "cwd": str(self.home)}
        return await super().start()

    @property
    def limits(self) -> limits.Limits:
        return limits.Limits(self.mem_limit or None, self.cpu_limit or None, self.tasks_limit or None)

    def _prepare_limits(self) -> list[Path]:
        """The learner's control group (created as root), or [] with a warning when there can be none."""
        if not self.system_accounts:
            return []
        try:
            return limits.prepare(self.user.name, self.limits)
        except OSError as exc:
            self.log.warning("no control group for %s's server (%s): processes are limited per account, memory per "
                             "process, CPU not at all; see tremplin_hub.limits", self.user.name, exc)
            return []

    def make_preexec_fn(self, name):
        if not self.system_accounts:
            return None
        drop_root = super().make_preexec_fn(name)
        folders, caps = list(getattr(self, "_cgroups", [])), self.limits

        def preexec():  # (in the server's process, after fork: join the group, then stop being root)
            limits.join(folders)
            limits.set_rlimits(caps, memory_per_process=not folders)
            drop_root()

        return preexec

    async def stop(self, now=False):
        await super().stop(now=now)
        if self.system_accounts:
            killed = await asyncio.get_running_loop().run_in_executor(None, limits.stop, self.user.name)
            if killed:
                self.log.info("stopped %d process(es) %s's server left running", killed, self.user.name)

    def user_env(self, env):
        if self.system_accounts:
            return super().user_env(env)
        env["USER"] = self.user.name
        env["HOME"] = str(self.home)
        return env

    def get_env(self):
        env = super().get_env()
        layout = Layout(Path(self.data_dir))
        # Learners' servers read Tremplin's learner configuration: compression, the
        # HTTP exchange and exam autosave, nbgrader's course lookup, grader-only plugins off.
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
            p for p in [str(layout.learner_config), env.get("JUPYTER_CONFIG_PATH", "")] if p)
        env["PATH"] = os.pathsep.join([str(Path(sys.prefix) / "bin"), env.get("PATH", os.defpath)])
        # A server started ahead of an exam (tremplin_hub.prestart) starts its first kernel ahead too.
        if (self.user_options or {}).get("warm_kernel") is True:
            env["TREMPLIN_WARM_KERNEL"] = "1"
        return env
