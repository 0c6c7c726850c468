"""Where Tremplin keeps its data: one data directory, laid out the same everywhere.

``<data>/hub`` (root only, 700) holds the hub's database, cookie secret, the account
store and the sync token; ``<data>/courses/<id>`` the nbgrader course directories, each
owned by its grader account; ``<data>/exam`` the exam service's database and files
(nbgrader's exchange over HTTP: no shared folder); ``<data>/home`` the learners' homes; ``<data>/etc`` the Jupyter configuration of learners' and graders'
servers. The hub, the command line and the tests all derive paths from here.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR_ROOT = "/var/lib/tremplin"

# Lab plugins learners must not see; locked so the browser cannot turn them back on.
# This is comfort, not access control: file permissions and hub scopes are.
GRADER_ONLY_LAB_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
)
GRADER_ONLY_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
)
#: nbgrader's learner extensions (the Assignments tab), loaded in learners' servers at the first request to their
#: URLs (tremplin_lab.lazy): all of nbgrader is 16 MiB that most learners' servers never use.
LEARNER_ON_FIRST_REQUEST = (
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.validate_assignment",
)
#: What learners' servers never use: the language-server proxy (no language server is installed for them).
LEARNER_UNUSED_SERVER_EXTENSIONS = ("jupyter_lsp",)


#: nbgrader's exchange goes through the exam service over HTTP (tremplin_lab.exchange).
EXCHANGE_CONFIG = "".join(
    f'c.ExchangeFactory.{trait} = "tremplin_lab.exchange.{cls}"\n' for trait, cls in (
        ("fetch_assignment", "FetchAssignment"), ("fetch_feedback", "FetchFeedback"), ("submit", "Submit"),
        ("list", "List"), ("release_assignment", "ReleaseAssignment"), ("release_feedback", "ReleaseFeedback"),
        ("collect", "Collect")))


def default_data_dir() -> Path:
    """``$TREMPLIN_DATA_DIR``, else /var/lib/tremplin as root, else ./data."""
    env = os.environ.get("TREMPLIN_DATA_DIR")
    if env:
        return Path(env).resolve()
    return Path(DEFAULT_DATA_DIR_ROOT) if os.geteuid() == 0 else Path("data").resolve()


def default_courses_dir() -> Path:
    """``$TREMPLIN_COURSES_DIR``, else ``courses/`` of the current directory."""
    return Path(os.environ.get("TREMPLIN_COURSES_DIR", "courses")).resolve()


def default_proxy_command() -> str:
    """``$TREMPLIN_PROXY``, else the npm configurable-http-proxy that ``make`` installs beside the venv."""
    env = os.environ.get("TREMPLIN_PROXY")
    if env:
        return env
    beside = Path(sys.prefix).parent / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
    return str(beside) if beside.exists() else "configurable-http-proxy"


class LayoutError(Exception):
    """The data directory cannot be used as it is; the message says why and what to do."""


@dataclass(frozen=True)
class Layout:
    data_dir: Path

    @property
    def hub_dir(self) -> Path:
        return self.data_dir / "hub"

    @property
    def hub_db_url(self) -> str:
        """JupyterHub's own database: ``$TREMPLIN_HUB_DB_URL`` (e.g. ``postgresql+psycopg://…``, for a hub
        beyond one machine), else SQLite in the hub folder."""
        return os.environ.get("TREMPLIN_HUB_DB_URL") or f"sqlite:///{self.hub_dir / 'jupyterhub.sqlite'}"

    @property
    def accounts_url(self) -> str:
        return f"sqlite:///{self.hub_dir / 'accounts.sqlite'}"

    @property
    def cookie_secret_file(self) -> Path:
        return self.hub_dir / "jupyterhub_cookie_secret"

    @property
    def sync_token_file(self) -> Path:
        return self.hub_dir / "sync-token"

    @property
    def proxy_token_file(self) -> Path:
        """The proxy's API token, kept so that a restarted hub uses the proxy still running."""
        return self.hub_dir / "proxy-token"

    @property
    def exam_port_file(self) -> Path:
        """The exam service's port, kept so that learners' servers reach it after a hub restart."""
        return self.hub_dir / "exam-port"

    @property
    def hub_api_file(self) -> Path:
        """Written by the hub at start: the URL of its REST API, for ``tremplin courses sync``."""
        return self.hub_dir / "hub-api-url"

    def record_hub_api(self, bind_url: str) -> None:
        """Remember the hub's public REST API URL for ``tremplin courses sync``."""
        write_atomic(self.hub_api_file, bind_url.rstrip("/") + "/hub/api\n", mode=0o600)

    @property
    def courses_root(self) -> Path:
        return self.data_dir / "courses"

    def course_dir(self, course_id: str) -> Path:
        return self.courses_root / course_id

    @property
    def graders_home(self) -> Path:
        return self.data_dir / "graders"

    @property
    def exam_dir(self) -> Path:
        """The exam service's database and files (private to the service's account)."""
        return self.data_dir / "exam"

    @property
    def exam_files(self) -> Path:
        return self.exam_dir / "files"

    @property
    def exam_catalogue(self) -> Path:
        """The exam service's copy of the courses (:meth:`publish_catalogue`, at hub start and by
        ``tremplin courses sync``): the checkout may sit where the service's account cannot read."""
        return self.exam_dir / "courses"

    @property
    def admissions_dir(self) -> Path:
        """Campaigns, rosters, exports and the export signing key (tremplin_hub.admissions)."""
        return self.data_dir / "admissions"

    def exam_account(self):
        """The account the exam service runs as (:data:`system.EXAM_ACCOUNT` once :meth:`prepare` made it
        own the exam folder), for root's commands that work in its stores; None otherwise."""
        from .system import owner_of

        return owner_of(self.exam_dir)

    @property
    def exam_db_url(self) -> str:
        """``$TREMPLIN_EXAM_DB_URL`` (e.g. PostgreSQL), else SQLite in the exam folder.

        The exam service, ``tremplin courses sync`` (releases), exports and receipts all read it here.
        """
        return os.environ.get("TREMPLIN_EXAM_DB_URL") or f"sqlite:///{self.exam_dir / 'exam.sqlite'}"

    @property
    def grading_dir(self) -> Path:
        """The grading service's folder (711: graders reach its socket, nobody lists it)."""
        return self.data_dir / "grading"

    @property
    def grading_socket(self) -> Path:
        """The grading engine's Unix socket (JudgeExecute.engine_socket in courses' nbgrader_config.py)."""
        return self.grading_dir / "engine.sock"

    @property
    def grading_private(self) -> Path:
        """The grading queue's database and state (700, root only: it holds every paper)."""
        return self.grading_dir / "queue"

    @property
    def grading_db_url(self) -> str:
        """``$TREMPLIN_GRADING_DB_URL``, else SQLite in the grading queue's private folder."""
        return os.environ.get("TREMPLIN_GRADING_DB_URL") or f"sqlite:///{self.grading_private / 'queue.sqlite'}"

    @property
    def homes(self) -> Path:
        return self.data_dir / "home"

    @property
    def learner_config(self) -> Path:
        return self.data_dir / "etc" / "learner"

    @property
    def grader_config(self) -> Path:
        return self.data_dir / "etc" / "grader"

    @property
    def jupyter_data(self) -> Path:
        """A Jupyter data folder (``JUPYTER_PATH``) of the formgraders: nbconvert's MathJax macro, local."""
        return self.data_dir / "etc" / "jupyter-data"

    @property
    def mathjax_record(self) -> Path:
        """Where MathJax is served from, as the hub's start said (:meth:`prepare`)."""
        return self.data_dir / "etc" / "mathjax-url"

    def prepare(self, *, shared_accounts: bool, mathjax_url: str | None = None) -> None:
        """Create the folders with their modes and write the servers' Jupyter configuration.

        Args:
            shared_accounts: True when every server runs as the hub's own account (demo
                mode, hub not root): nbgrader is then told the hub user name.
            mathjax_url: where pages of notebooks (formgrader, feedback) load MathJax from, on the
                platform (:func:`tremplin_hub.hubconfig.mathjax_url`); empty: nbconvert's default; None
                (``tremplin courses sync``, which does not know it): the one the hub's start gave, kept (it was
                dropped, and the running formgraders' pages then asked a CDN until the hub restarted).

        Raises:
            LayoutError: a folder learners must reach is not reachable by them.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o711)
        self.hub_dir.mkdir(exist_ok=True)
        self.hub_dir.chmod(0o700)
        for d in (self.courses_root, self.graders_home, self.homes):
            d.mkdir(exist_ok=True)
            d.chmod(0o711)
        # The exam service's store, admissions' store and the grading queue: only the exam service's
        # account (root: its own, see _give_to_exam_account) and root read them.
        for d in (self.exam_dir, self.admissions_dir):
            d.mkdir(exist_ok=True)
            d.chmod(0o700)
        # Grading: the engine's socket is reachable by graders; the queue (every paper) is not.
        self.grading_dir.mkdir(exist_ok=True)
        self.grading_dir.chmod(0o711)
        self.grading_private.mkdir(exist_ok=True)
        self.grading_private.chmod(0o700)
        if not shared_accounts:
            self._give_to_exam_account()
        if mathjax_url is None:
            mathjax_url = self.mathjax_record.read_text().strip() if self.mathjax_record.exists() else ""
        self._write_server_config(mathjax_url)
        if not shared_accounts:
            check_reachable(self.data_dir, "the data directory (TREMPLIN_DATA_DIR)")
            check_reachable(Path(sys.prefix) / "bin" / "tremplin-singleuser", "the Python environment")

    def _give_to_exam_account(self) -> None:
        """Root: the exam service's account, owning its three folders and the SQLite files in them.

        The files are made here, empty, so that root's commands (sync, campaign, export, the grading
        service) never create them as root's: SQLite gives the journal files it creates as root to
        the database file's owner. A folder still root's (made before this account existed) is given
        over whole, once; afterwards only the folders themselves are checked (the store holds
        hundreds of thousands of files).
        """
        from .system import EXAM_ACCOUNT, chown_tree, ensure_service_account

        account = ensure_service_account(EXAM_ACCOUNT)
        files = [self.admissions_dir / "admissions.sqlite"]
        for url in (self.exam_db_url, self.grading_db_url):
            if url.startswith("sqlite:///"):
                files.append(Path(url.removeprefix("sqlite:///")))
        for folder in (self.exam_dir, self.admissions_dir, self.grading_private):
            if folder.lstat().st_uid != account.uid:
                chown_tree(folder, account.name)
        for file in files:
            if file.parent in (self.exam_dir, self.admissions_dir, self.grading_private):
                fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
                try:
                    if os.fstat(fd).st_uid != account.uid:
                        os.fchown(fd, account.uid, account.gid)
                finally:
                    os.close(fd)

    def publish_catalogue(self, courses_dir: Path) -> None:
        """Give the exam service its copy of the courses (:attr:`exam_catalogue`), as its account when
        it has one: each ``course.toml``, and each source notebook *without its text* (its cells'
        nbgrader metadata only: the notebooks' names and test ids are what the service needs; the
        solutions and hidden tests stay the graders'). Copies of courses that are gone are dropped.
        """
        wanted: dict[str, dict[str, str]] = {}
        for child in sorted(Path(courses_dir).iterdir()) if Path(courses_dir).is_dir() else []:
            toml = child / "course.toml"
            if not child.is_dir() or child.name.startswith((".", "_")) or not toml.is_file():
                continue
            files = {}
            for nb in sorted(child.glob("source/*/*.ipynb")):
                files[str(nb.relative_to(child))] = _cells_without_text(nb)
            files["course.toml"] = toml.read_text(encoding="utf-8", errors="replace")  # (last: the reload's cue)
            wanted[child.name] = files
        from .system import acting_as

        with acting_as(self.exam_account()):
            self.exam_catalogue.mkdir(mode=0o700, exist_ok=True)
            for name, files in wanted.items():
                course = self.exam_catalogue / name
                for rel, text in files.items():
                    target = course / rel
                    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                    if not target.is_file() or target.read_text(encoding="utf-8", errors="replace") != text:
                        write_atomic(target, text, mode=0o600)
                kept = {*files, *(str(parent) for f in files for parent in Path(f).parents)}
                for old in sorted(course.rglob("*"), reverse=True):  # (a folder's contents before it)
                    if str(old.relative_to(course)) in kept:
                        continue
                    if old.is_dir() and not old.is_symlink():
                        old.rmdir()
                    else:
                        old.unlink()
            for old in self.exam_catalogue.iterdir():
                if old.name in wanted:
                    continue
                if old.is_dir() and not old.is_symlink():
                    shutil.rmtree(old)
                else:
                    old.unlink()

    def _write_server_config(self, mathjax_url: str = "") -> None:
        compress = 'c.ServerApp.tornado_settings = {"compress_response": True}\n'
        header = "# Written by Tremplin (tremplin_hub.layout) at every hub start: edits are lost.\nc = get_config()  # noqa\n"
        off = (*GRADER_ONLY_SERVER_EXTENSIONS, *LEARNER_ON_FIRST_REQUEST, *LEARNER_UNUSED_SERVER_EXTENSIONS)
        learner_server = header + compress + (
            "c.ServerApp.jpserver_extensions = {%s, \"tremplin_lab\": True}\n"
            "c.TremplinLab.on_first_request = %s\n"
            "# The browser's address (from the hub's proxy) goes to the exam audit log.\n"
            "c.ServerApp.trust_xheaders = True\n"
            "# A kernel started with the server when the spawner asks (exam servers started ahead).\n"
            "c.ServerApp.kernel_manager_class = \"tremplin_lab.kernels.WarmKernelManager\"\n"
            % (", ".join(f'"{ext}": False' for ext in off), json.dumps(list(LEARNER_ON_FIRST_REQUEST))))
        learner_nbgrader = header + EXCHANGE_CONFIG + (
            "# Each learner sees the courses of their nbgrader-<course> groups only.\n"
            'c.Authenticator.plugin_class = "nbgrader.auth.JupyterHubAuthPlugin"\n'
        )
        grader_nbgrader = header + EXCHANGE_CONFIG + ((
            "# Pages of notebooks (formgrader, feedback) load MathJax from the platform, never from a CDN\n"
            "# (nbgrader's templates call nbconvert's macro without a URL: its copy under JUPYTER_PATH has ours).\n"
            f"c.HTMLExporter.mathjax_url = {json.dumps(mathjax_url)}\n") if mathjax_url else "")
        page_config = {
            # The news prompt fetches from the internet and costs a learner's bandwidth.
            "disabledExtensions": {p: True for p in (*GRADER_ONLY_LAB_PLUGINS, "@jupyterlab/apputils-extension:announcements")},
            "lockedExtensions": {p: True for p in GRADER_ONLY_LAB_PLUGINS},
        }
        files = {
            self.learner_config / "jupyter_server_config.py": learner_server,
            self.learner_config / "nbgrader_config.py": learner_nbgrader,
            self.learner_config / "labconfig" / "page_config.json": json.dumps(page_config, indent=1) + "\n",
            self.grader_config / "jupyter_server_config.py": header + compress + (
                "# nbgrader's links to folders and notebooks, in this service's JupyterLab (they gave 404).\n"
                'c.ServerApp.jpserver_extensions = {"tremplin_hub.formgrader_links": True}\n'),
            self.grader_config / "nbgrader_config.py": grader_nbgrader,
            # (graders' JupyterLab, where the formgrader's links open: no news prompt that would reach the internet)
            self.grader_config / "labconfig" / "page_config.json": json.dumps(
                {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}, indent=1) + "\n",
        }
        files[self.mathjax_record] = mathjax_url + "\n"
        macro = self.jupyter_data / "nbconvert" / "templates" / "base" / "mathjax.html.j2"
        if mathjax_url:
            template = (Path(__file__).parent / "templates" / "nbconvert_mathjax.html.j2").read_text()
            files[macro] = template.replace("@MATHJAX_URL@", mathjax_url)
        elif macro.exists():
            macro.unlink()
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, text)
            path.chmod(0o644)
        for d in (self.data_dir / "etc", self.learner_config, self.learner_config / "labconfig", self.grader_config,
                  self.grader_config / "labconfig",
                  *(p for p in macro.parents if self.jupyter_data in (p, *p.parents))):
            if d.is_dir():
                d.chmod(0o755)


def _cells_without_text(notebook: Path) -> str:
    """A notebook's cells with their type and nbgrader metadata only (no source, no output)."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        cells = []
    stub = [{"cell_type": c.get("cell_type", "code"), "source": "",
             "metadata": {"nbgrader": c["metadata"]["nbgrader"]} if "nbgrader" in c.get("metadata", {}) else {}}
            for c in cells if isinstance(c, dict)]
    return json.dumps({"cells": stub, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, safe in a folder others can write.

    Root writes into folders that grader accounts own (``nbgrader_config.py`` in a course
    directory): the folder is opened once without following a link, the temporary file is
    created new (``O_EXCL|O_NOFOLLOW``, random name) relative to that folder, and the rename
    replaces whatever ``path`` was, a planted link included, without following it.
    """
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        tmp = f".{path.name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fchmod(f.fileno(), mode)
                os.fsync(f.fileno())
            os.replace(tmp, path.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=folder)
            except FileNotFoundError:
                pass
            raise
        os.fsync(folder)
    finally:
        os.close(folder)


def check_reachable(path: Path, what: str) -> None:
    """Raise :class:`LayoutError` unless every folder above ``path`` lets other accounts pass.

    Learners' servers run as their own accounts: the data directory and the Python
    environment must sit where those accounts can reach them (FACTS.md: not under
    root's home).
    """
    path = path.resolve()
    for parent in [*reversed(path.parents)][1:] + ([path] if path.is_dir() else []):
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            raise LayoutError(
                f"{what} is at {path}, but {parent} (mode {stat.filemode(mode)}) cannot be crossed by "
                f"learners' accounts; move it to a world-readable place such as /opt or /var/lib, "
                f"or run 'chmod o+x {parent}'"
            )
