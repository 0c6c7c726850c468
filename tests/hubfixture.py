"""A real JupyterHub for the tests: its own data directory, free ports, real accounts.

:class:`RunningHub` copies the project's courses into a temporary folder with the demo
account names replaced by names unique to this run (so a ``make run`` on the same
machine is not disturbed), creates those accounts with known passwords, runs
``tremplin courses sync``, and starts ``jupyterhub`` as a subprocess with the project's
``jupyterhub_config.py`` plus a small test config that adds a test service able to
create tokens. Everything is removed at the end, system accounts included.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.prefix) / "bin"
PROXY = os.environ.get("TREMPLIN_PROXY") or str(Path(sys.prefix).parent / "proxy" / "node_modules" / ".bin"
                                                 / "configurable-http-proxy")
DEMO_NAMES = ("learner1", "learner2", "professor", "coordinator", "admissions", "admin")
TEST_SERVICE = "tremplin-test"
#: Short sandbox limits for this run's courses: a hostile paper's loop costs seconds, not minutes.
GRADING_LIMITS = "\n[grading]\ncell_seconds = 3\ncall_seconds = 3\nwall_seconds = 15\n"
TEST_SCOPES = ["admin:users", "admin:servers", "tokens", "admin:groups", "read:users", "list:users",
               "access:servers", "read:servers"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_root() -> bool:
    return os.geteuid() == 0


@dataclass
class RunningHub:
    base: Path
    url: str = ""
    names: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    token: str = ""
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    #: run sync and the hub as this (non-root) account: the demo mode
    run_as: str | None = None
    #: lines added to the test config (after the project's jupyterhub_config.py)
    extra_config: str = ""
    #: environment variables of the hub (its TREMPLIN_* settings)
    extra_env: dict[str, str] = field(default_factory=dict)
    #: the hub's and the proxy API's URLs, chosen at the first start and kept: a restart reuses them,
    #: as a real hub restarts on the same ports (servers that survive it know these URLs)
    hub_bind_url: str = ""
    proxy_api_url: str = ""

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def courses_dir(self) -> Path:
        return self.base / "courses"

    @property
    def api(self) -> str:
        return f"{self.url}/hub/api"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
        env.update(
            TREMPLIN_DATA_DIR=str(self.data_dir),
            TREMPLIN_COURSES_DIR=str(self.courses_dir),
            TREMPLIN_PROXY=PROXY,
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', os.defpath)}",
        )
        if self.run_as:
            env["HOME"] = str(self.base / self.run_as)
        return env

    def command(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *argv] if self.run_as else argv

    # ---- set-up ---------------------------------------------------------------------
    def prepare(self, courses: list[str] | None = None) -> None:
        """Copy courses with this run's account names, create the accounts, sync."""
        suffix = secrets.token_hex(2)
        self.names = {name: f"t{suffix}-{name}" for name in DEMO_NAMES}
        for course in sorted(p.name for p in (REPO / "courses").iterdir() if p.is_dir()):
            if courses is None or course in courses:
                shutil.copytree(REPO / "courses" / course, self.courses_dir / course)
        for toml in self.courses_dir.glob("*/course.toml"):
            text = toml.read_text()
            for demo, real in self.names.items():
                text = re.sub(rf'"{demo}"', f'"{real}"', text)
            toml.write_text(text + GRADING_LIMITS)
        from tremplin_hub.accounts import DEMO_ACCOUNTS, AccountStore
        from tremplin_hub.layout import Layout

        layout = Layout(self.data_dir)
        layout.prepare(shared_accounts=not is_root())
        store = AccountStore(layout.accounts_url)
        for demo, role in DEMO_ACCOUNTS:
            self.passwords[self.names[demo]] = secrets.token_urlsafe(12)
            store.add(self.names[demo], role, self.passwords[self.names[demo]])
        store.close()
        if self.run_as:
            from tremplin_hub.system import chown_tree, ensure_account

            ensure_account(self.run_as, self.base / self.run_as)
            chown_tree(self.data_dir, self.run_as)
        proc = subprocess.run(self.command([str(VENV_BIN / "tremplin"), "courses", "sync"]), env=self.env(),
                              capture_output=True, text=True, cwd=self.base)
        if proc.returncode != 0:
            raise RuntimeError(f"tremplin courses sync failed:\n{proc.stdout}\n{proc.stderr}")

    #: The memory limit of each learner's server in this hub.
    mem_limit_bytes = 768 * 2**20

    def choose_ports(self) -> None:
        """The hub's URLs, chosen once (a test that must know them before the hub starts calls this first)."""
        if not self.url:
            self.url = f"http://127.0.0.1:{free_port()}"
            self.hub_bind_url = f"http://127.0.0.1:{free_port()}"
            self.proxy_api_url = f"http://127.0.0.1:{free_port()}"
            self.token = secrets.token_hex(24)

    def start(self, timeout: float = 150) -> None:
        """Start ``jupyterhub``; after :meth:`stop` (or a kill), start it again on the same ports and data."""
        self.choose_ports()
        config = self.base / "jupyterhub_test_config.py"
        # A copy: the checkout may sit where a non-root hub (demo mode) cannot read.
        shutil.copy(REPO / "jupyterhub_config.py", self.base / "jupyterhub_config.py")
        config.write_text(
            f"load_subconfig({str(self.base / 'jupyterhub_config.py')!r})\n"
            f"c.JupyterHub.services.append({{'name': {TEST_SERVICE!r}, 'api_token': {self.token!r}}})\n"
            f"c.JupyterHub.load_roles.append({{'name': {TEST_SERVICE!r}, 'services': [{TEST_SERVICE!r}], "
            f"'scopes': {TEST_SCOPES!r}}})\n"
            + self.extra_config
        )
        env = self.env()
        env.update(
            TREMPLIN_BIND_URL=self.url,
            TREMPLIN_HUB_BIND_URL=self.hub_bind_url,
            TREMPLIN_PROXY_API_URL=self.proxy_api_url,
            # each learner's server (tremplin_hub.limits): small enough for a test to go past it quickly
            TREMPLIN_MEM_LIMIT=str(self.mem_limit_bytes),
            # Tests move exam windows for their own candidates; servers started ahead would come in their way.
            # The service has its own hub and test (tests/integration/test_exam_day_capacity.py).
            TREMPLIN_PRESTART_MINUTES="0",
        )
        env.update(self.extra_env)
        self.log_path = self.base / "hub.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command([str(VENV_BIN / "jupyterhub"), "-f", str(config)]), cwd=self.base,
                                         env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        # (a busy 2-core machine: the hub starts a formgrader per course and the exam and grading services)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.api}/", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"jupyterhub did not answer within {timeout:g} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        # Servers and services run in sessions of their own: end whatever still works in our folder.
        kill_processes_under(self.base)

    def cleanup(self) -> None:
        self.stop()
        if is_root():
            from tremplin_hub.system import delete_account

            for name in [*self.names.values(), *([self.run_as] if self.run_as else [])]:
                try:
                    delete_account(name)
                except Exception as exc:  # cleanup must go on; the report names what is left
                    print(f"could not delete test account {name}: {exc}", file=sys.stderr)
        shutil.rmtree(self.base, ignore_errors=True)

    # ---- REST helpers -----------------------------------------------------------------
    def admin(self) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"token {self.token}"
        return s

    def user_session(self, demo_name: str) -> requests.Session:
        """A session carrying a fresh API token of the account that stands for ``demo_name``."""
        name = self.names[demo_name]
        r = self.admin().post(f"{self.api}/users/{name}/tokens", json={"note": "test", "expires_in": 3600})
        if r.status_code == 404:
            self.admin().post(f"{self.api}/users/{name}")
            r = self.admin().post(f"{self.api}/users/{name}/tokens", json={"note": "test", "expires_in": 3600})
        r.raise_for_status()
        s = requests.Session()
        s.headers["Authorization"] = f"token {r.json()['token']}"
        return s

    def login(self, demo_name: str) -> requests.Session:
        """A browser's session: logged in with the account's password, cookies only (no token)."""
        name = self.names.get(demo_name, demo_name)
        s = requests.Session()
        form = s.get(f"{self.url}/hub/login")
        form.raise_for_status()
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text).group(1)
        r = s.post(f"{self.url}/hub/login", data={"username": name, "password": self.passwords[name], "_xsrf": xsrf})
        r.raise_for_status()
        assert any(c.name.startswith("jupyterhub-session-id") or c.name == "jupyterhub-hub-login" for c in s.cookies), \
            f"{name} could not log in: {r.status_code} {r.url}"
        return s

    def add_learner(self, tag: str, course: str) -> str:
        """A new learner account (password known) in ``course``'s group; ``names[tag]`` is their name."""
        from tremplin_hub.accounts import AccountStore
        from tremplin_hub.layout import Layout

        name = f"{self.names['learner1'].split('-')[0]}-{tag}"
        self.names[tag] = name
        self.passwords[name] = secrets.token_urlsafe(12)
        store = AccountStore(Layout(self.data_dir).accounts_url)
        store.add(name, "learner", self.passwords[name])
        store.close()
        admin = self.admin()
        admin.post(f"{self.api}/users/{name}").raise_for_status()
        admin.post(f"{self.api}/groups/nbgrader-{course}/users", json={"users": [name]}).raise_for_status()
        return name

    def start_server(self, demo_name: str, timeout: float = 120) -> str:
        """Start the user's server and return its base URL once it answers."""
        name = self.names[demo_name]
        admin = self.admin()
        r = admin.post(f"{self.api}/users/{name}/server")
        if r.status_code not in (201, 202, 400):
            raise RuntimeError(f"could not start {name}'s server: {r.status_code} {r.text}\n{self.log_tail()}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = admin.get(f"{self.api}/users/{name}").json()
            server = model.get("servers", {}).get("", {})
            if server.get("ready"):
                return f"{self.url}/user/{name}"
            if not model.get("pending") and not server:
                raise RuntimeError(f"{name}'s server stopped while starting:\n{self.log_tail()}")
            time.sleep(0.5)
        raise RuntimeError(f"{name}'s server was not ready within {timeout} s:\n{self.log_tail()}")


def find_pid(command: str, env_entry: str) -> int | None:
    """The pid of a process whose program (first or second word) ends with ``command`` and whose
    environment holds ``env_entry`` (``NAME=value``)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            env = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(command.encode()) for part in cmd[:2]) and env_entry.encode() in env:
            return int(proc.name)
    return None


def service_pid(hub: RunningHub, command: str) -> int | None:
    """The pid of ``hub``'s managed service whose command ends with ``command`` (found by its data directory)."""
    return find_pid(command, f"TREMPLIN_DATA_DIR={hub.data_dir}")


def kill_processes_under(folder: Path, wait: float = 15) -> None:
    """SIGKILL every process whose working directory is inside ``folder``, until none is left.

    Learners' servers, their kernels and the proxy outlive the hub (as on a server): they end
    here, and their system accounts can only be deleted once they are gone.
    """
    folder = str(folder)
    deadline = time.monotonic() + wait
    while True:
        found = False
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                cwd = os.readlink(proc / "cwd")  # (fails for a process already dead)
            except OSError:
                continue
            if cwd == folder or cwd.startswith(folder + "/"):
                found = True
                try:
                    os.kill(int(proc.name), signal.SIGKILL)
                except OSError:
                    pass
        if not found or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def make_base() -> Path:
    """A temporary folder learners' accounts can cross (pytest's own tmp is mode 700)."""
    base = Path(tempfile.mkdtemp(prefix="tremplin-test-", dir="/tmp"))
    base.chmod(0o711)
    return base
