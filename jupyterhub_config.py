# Tremplin's JupyterHub configuration.
#
# Everything has an embedded default, so `make run` needs no editing. Each setting can
# be changed here or through the environment variable named beside it. Logic lives in
# the tremplin_hub package; this file only says what is used.
import os

from tremplin_hub.hubconfig import (SERVER_TOKEN_SCOPES, configure_courses, configure_idle_culler,
                                    configure_institution_login, configure_prestart, mathjax_url, proxy_token)
from tremplin_hub.layout import Layout, default_courses_dir, default_data_dir, default_proxy_command
from tremplin_hub.spawner import DEMO_WARNING
from tremplin_hub.system import running_as_root

c = get_config()  # noqa: F821

# Where the hub listens (TREMPLIN_BIND_URL) and its internal API (TREMPLIN_HUB_BIND_URL).
c.JupyterHub.bind_url = os.environ.get("TREMPLIN_BIND_URL", "http://127.0.0.1:8000")
c.JupyterHub.hub_bind_url = os.environ.get("TREMPLIN_HUB_BIND_URL", "http://127.0.0.1:8081")

# One data directory holds everything (TREMPLIN_DATA_DIR; /var/lib/tremplin as root).
layout = Layout(default_data_dir())
layout.prepare(shared_accounts=not running_as_root(), mathjax_url=mathjax_url(c.JupyterHub.bind_url))
if not running_as_root():
    print(DEMO_WARNING, flush=True)
layout.record_hub_api(c.JupyterHub.bind_url)
c.JupyterHub.db_url = layout.hub_db_url
c.JupyterHub.cookie_secret_file = str(layout.cookie_secret_file)
c.JupyterHub.pid_file = str(layout.hub_dir / "jupyterhub.pid")

# The official configurable-http-proxy (npm), pinned in deploy/proxy and installed by `make`
# beside the venv (TREMPLIN_PROXY); FACTS.md says why not the PyPI port.
c.ConfigurableHTTPProxy.command = [default_proxy_command()]
c.ConfigurableHTTPProxy.api_url = os.environ.get("TREMPLIN_PROXY_API_URL", "http://127.0.0.1:8001")
c.ConfigurableHTTPProxy.pid_file = str(layout.hub_dir / "proxy.pid")

# Restarts (README, "Restarts"): stopping the hub leaves learners' servers, their kernels and the
# proxy running; the next hub takes them back (the proxy with its token kept in <data>/hub/proxy-token).
c.JupyterHub.cleanup_servers = False
c.JupyterHub.cleanup_proxy = False
c.JupyterHub.proxy_class = "tremplin"
c.ConfigurableHTTPProxy.auth_token = proxy_token(layout)
# A dead proxy is started again within a second (default 5 s; the check is one kill(pid, 0)).
c.ConfigurableHTTPProxy.check_running_interval = 1

# Compressed responses from the hub (the single-user servers get it from their config):
# stock pages are 7 MB uncompressed and never load at 256 kbit/s.
c.JupyterHub.tornado_settings = {"compress_response": True}

# Tremplin's accounts (hashed passwords in <data>/hub/accounts.sqlite).
c.JupyterHub.authenticator_class = "tremplin"
# Institutional login beside them (README, "Institutional login"): a partner institution's OpenID
# Connect provider (TREMPLIN_OIDC_ISSUER, its endpoints read from its discovery document), this
# hub's client there (TREMPLIN_OIDC_CLIENT_ID, TREMPLIN_OIDC_CLIENT_SECRET), and which of its
# groups give which Tremplin groups (TREMPLIN_OIDC_ROLES: JSON, or the path of a JSON file).
if os.environ.get("TREMPLIN_OIDC_ISSUER"):
    configure_institution_login(c, os.environ)

# One system account per learner when the hub runs as root, as The Littlest JupyterHub does.
c.JupyterHub.spawner_class = "tremplin"
c.Spawner.server_token_scopes = SERVER_TOKEN_SCOPES
# Many learners may start at once on a small machine (FACTS.md: 30 s is too short for 20).
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
# A few servers start at once (TREMPLIN_START_SLOTS, default twice the CPU cores); the others wait in
# line and their page shows their place and an estimate (tremplin_hub.startqueue). The line replaces
# JupyterHub's concurrent_spawn_limit, which would answer them with a 429.
c.TremplinSpawner.start_slots = int(os.environ.get("TREMPLIN_START_SLOTS", 2 * (os.cpu_count() or 1)))
c.JupyterHub.concurrent_spawn_limit = 0
# What one learner's server and everything it starts may use, enforced by a control group per
# learner (tremplin_hub.limits): memory (its kernel is stopped past it, nobody else's), CPU cores,
# and processes/threads (TremplinSpawner.tasks_limit, default 512).
mem_limit = os.environ.get("TREMPLIN_MEM_LIMIT", "2G")  # bytes, or with K, M, G, T
c.Spawner.mem_limit = int(mem_limit) if mem_limit.isdigit() else mem_limit
c.Spawner.cpu_limit = float(os.environ.get("TREMPLIN_CPU_LIMIT", "1"))

# Courses: a formgrader service per course, groups nbgrader-<id> and formgrade-<id>,
# role groups from the account store (TREMPLIN_COURSES_DIR, default ./courses).
configure_courses(c, layout, default_courses_dir())

# Exam candidates' servers are started before their window opens (TREMPLIN_PRESTART_MINUTES, default 20;
# 0: never), a few at a time while the machine has CPU and memory to spare (tremplin_hub.prestart).
configure_prestart(c, layout, default_courses_dir(), float(os.environ.get("TREMPLIN_PRESTART_MINUTES", "20")))

# Servers nobody used for an hour are stopped by jupyterhub-idle-culler (TREMPLIN_IDLE_TIMEOUT, seconds;
# 0: never). Keep it longer than TREMPLIN_PRESTART_MINUTES.
configure_idle_culler(c, int(os.environ.get("TREMPLIN_IDLE_TIMEOUT", "3600")))
