"""Tremplin's hub on Kubernetes, under Zero to JupyterHub: what of the one-machine hub runs there, and how.

The chart's own ``jupyterhub_config.py`` builds the hub (KubeSpawner, the proxy in its own pod, the hub database
from ``hub.db``, the idle culler from ``cull``); ``deploy/kubernetes/values.yaml`` then calls :func:`configure`
from ``hub.extraConfig``. What it keeps, replaces and leaves out, and why (docs in deploy/kubernetes/README.md):

* **Kept**, in the hub pod, as its account, on the data volume (``TREMPLIN_DATA_DIR``): Tremplin's accounts
  (authenticator ``tremplin``), the courses' groups, roles and formgraders, the exam service, the grading
  service, ``tremplin-prestart``, the home page, the servers' token scopes and compressed pages.
* **Replaced**: :class:`~tremplin_hub.spawner.TremplinSpawner` is a LocalProcessSpawner (a system account, a
  control group and the start queue per learner, on the hub's machine); on Kubernetes each learner's pod is
  their isolation and their limits (``singleuser.cpu``/``memory``), and the chart's ``concurrentSpawnLimit``
  stands for the start queue. The chart's culler (``cull``) replaces :func:`~.hubconfig.configure_idle_culler`:
  two cullers would race to stop the same servers.
* **Reached over the pod network**: services with a URL (the exam service, the formgraders) listen on the hub
  pod's own address, since the proxy, in another pod, cannot reach the hub pod's loopback; their ports are
  fixed (:data:`EXAM_PORT` and the next ones) so that a NetworkPolicy can name them. Learners' pods reach the
  exam service through the hub's Service on :data:`EXAM_PORT`.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from .hubconfig import (EXAM_SERVICE, PRESTART_SERVICE, SERVER_TOKEN_SCOPES, SessionWindows, configure_courses,
                        configure_prestart, mathjax_url, sync_token)
from .dashboard import template_vars
from .layout import Layout, write_atomic

#: The exam service's port in the hub pod (the hub's Service exposes it to learners' pods: values.yaml's
#: ``hub.service.extraPorts``); the formgraders take the ports after it, up to :data:`LAST_PORT`.
EXAM_PORT = 10101
LAST_PORT = 10199
LOOPBACK = "http://127.0.0.1:"


def warm_kernel(spawner) -> None:
    """``KubeSpawner.pre_spawn_hook``: a server that ``tremplin-prestart`` starts ahead of an exam (``user_options``
    ``{"warm_kernel": true}``) starts its first kernel too, as TremplinSpawner.get_env does on one machine."""
    if (spawner.user_options or {}).get("warm_kernel") is True:
        spawner.environment = {**spawner.environment, "TREMPLIN_WARM_KERNEL": "1"}


def configure(c, *, pod_ip: str, data_dir: Path, courses_dir: Path, prestart_minutes: float = 20) -> None:
    """Add Tremplin's hub-side pieces to the chart's configuration ``c`` (call it last, from ``hub.extraConfig``).

    Args:
        pod_ip: the hub pod's address (the downward API's ``status.podIP``), where services with a URL listen.
        data_dir: Tremplin's data directory, on a volume that outlives the hub pod.
        courses_dir: the course folders (in the hub image).
        prestart_minutes: exam servers started this long before their window (0: never).
    """
    if not pod_ip:
        raise ValueError("the hub pod's address is empty: set POD_IP from the downward API (status.podIP) in "
                         "hub.extraEnv, as deploy/kubernetes/values.yaml does")
    chart_services = list(c.JupyterHub.get("services", []))
    chart_roles = list(c.JupyterHub.get("load_roles", []))
    host = f"[{pod_ip}]" if ":" in pod_ip else pod_ip
    base_url = c.JupyterHub.get("base_url", "/")
    hub_url = urllib.parse.urlsplit(c.JupyterHub.hub_connect_url)

    layout = Layout(data_dir)
    # Every process in the hub pod runs as its one account (the chart's uid 1000): no system accounts to give
    # the exam folders to (learners are apart in their own pods).
    layout.prepare(shared_accounts=True, mathjax_url=mathjax_url(f"http://{hub_url.netloc}{base_url}"))
    layout.record_hub_api(f"{hub_url.scheme}://{hub_url.netloc}{base_url.rstrip('/')}")
    write_atomic(layout.exam_port_file, f"{EXAM_PORT}\n", mode=0o600)  # (hubconfig.exam_port keeps what it finds)

    courses = configure_courses(c, layout, courses_dir)
    configure_prestart(c, layout, courses_dir, prestart_minutes)
    exam_url = f"http://{host}:{EXAM_PORT}/services/{EXAM_SERVICE}/"
    next_port = EXAM_PORT + 1
    for service in c.JupyterHub.services:
        if service.get("url", "").startswith(LOOPBACK):
            if service["name"] == EXAM_SERVICE:
                port = EXAM_PORT
            else:
                port, next_port = next_port, next_port + 1
            if port > LAST_PORT:
                raise ValueError(f"course {service['name']!r}: no port left for its formgrader between {EXAM_PORT} "
                                 f"and {LAST_PORT}; raise tremplin_hub.kube.LAST_PORT and the NetworkPolicy's endPort")
            service["url"] = f"http://{host}:{port}"
        if "TREMPLIN_EXAM_URL" in service.get("environment", {}):
            service["environment"]["TREMPLIN_EXAM_URL"] = exam_url
        if service["name"] == PRESTART_SERVICE:
            # Its memory check reads the hub's node, not the learners' nodes: the placeholders reserve their room.
            service["command"] = [*service["command"], "--reserve-mib=0"]
    c.JupyterHub.template_vars = template_vars(courses, session_window=SessionWindows(exam_url, sync_token(layout)))
    c.JupyterHub.services = [*chart_services, *c.JupyterHub.services]
    c.JupyterHub.load_roles = [*chart_roles, *c.JupyterHub.load_roles]

    c.JupyterHub.authenticator_class = "tremplin"
    c.JupyterHub.tornado_settings = {**c.JupyterHub.get("tornado_settings", {}), "compress_response": True}
    c.Spawner.server_token_scopes = SERVER_TOKEN_SCOPES
    # (configure_courses set c.Spawner.environment for one machine; KubeSpawner's own section wins over it)
    c.KubeSpawner.environment = {**c.KubeSpawner.get("environment", {}),
                                 "TREMPLIN_EXAM_URL": f"http://{hub_url.hostname}:{EXAM_PORT}/services/{EXAM_SERVICE}/"}
    c.KubeSpawner.pre_spawn_hook = warm_kernel
