"""deploy/kubernetes/: the Zero to JupyterHub chart's own hub configuration (vendored, version 4.4.0) is run on
values.yaml as the hub pod would run it, and the real KubeSpawner is built from the result; the images'
Dockerfiles install what ``make install`` installs (tremplin_hub.kube, tremplin_hub.sizing)."""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import yaml
from jupyterhub.utils import maybe_future
from kubernetes_asyncio.config import kube_config
from kubespawner import KubeSpawner
from tornado.httpclient import AsyncHTTPClient
from traitlets.config.loader import PyFileConfigLoader

from tremplin_hub import kube, sizing, system
from tremplin_hub.hubconfig import (EXAM_SERVICE, EXAM_SERVICE_SCOPES, IDLE_CULLER_SCOPES, PRESTART_SCOPES,
                                    SERVER_TOKEN_SCOPES)
from tremplin_hub.accounts import AccountStore
from tremplin_hub.layout import Layout

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
CHART = DEPLOY / "chart-4.4.0"
POD_IP = "10.8.3.17"
SECRETS = {"hub.db.password": "pg-secret-from-the-secret", "exam-db-url": "postgresql+psycopg://tremplin@pg/exam"}


def helm_merge(base: dict, override: dict) -> dict:
    """Helm's merge of a values file over the chart's defaults: maps merged key by key, anything else replaced,
    and a null deleting the default."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def values(*extra: dict) -> dict:
    merged = helm_merge(yaml.safe_load((CHART / "values.yaml").read_text()),
                        yaml.safe_load((DEPLOY / "values.yaml").read_text()))
    for more in extra:
        merged = helm_merge(merged, more)
    return merged


@pytest.fixture
def chart(tmp_path, monkeypatch):
    """The hub pod's configuration: what the chart mounts under /usr/local/etc/jupyterhub (its values, the Secret's
    keys, the names of its resources) written under tmp_path, the pod's environment, then the chart's
    jupyterhub_config.py loaded as JupyterHub loads a config file."""
    etc = tmp_path / "etc"
    v = values()
    v["Chart"] = {"Name": "jupyterhub", "Version": "4.4.0", "AppVersion": "5.5.0"}  # (as the chart's secret.yaml adds)
    v["Release"] = {"Name": "tremplin", "Namespace": "tremplin", "Service": "Helm"}
    (etc / "secret").mkdir(parents=True)
    (etc / "secret" / "values.yaml").write_text(yaml.safe_dump(v))
    for key in ("hub.config.JupyterHub.cookie_secret", "hub.config.ConfigurableHTTPProxy.auth_token"):
        (etc / "secret" / key).write_text("ab" * 32)
    (etc / "secret" / "hub.config.CryptKeeper.keys").write_text("cd" * 32)
    (etc / "existing-secret").mkdir()
    for key, secret in SECRETS.items():  # (the Secret an administrator creates: deploy/kubernetes/README.md)
        (etc / "existing-secret" / key).write_text(secret)
    (etc / "config").mkdir()
    for name in ("hub", "proxy-api", "proxy-public", "user-scheduler", "priority", "singleuser", "image-pull-secret"):
        (etc / "config" / name).write_text(name)  # (fullnameOverride "": plain names)
    for name in ("jupyterhub_config.py", "z2jh.py"):  # unchanged but for where the mounts are
        (tmp_path / name).write_text((CHART / name).read_text().replace("/usr/local/etc/jupyterhub", str(etc)))

    env = {"POD_NAMESPACE": "tremplin", "HUB_SERVICE_PORT": "8081", "PROXY_API_SERVICE_PORT": "8001", "POD_IP": POD_IP,
           "TREMPLIN_EXAM_DB_URL": SECRETS["exam-db-url"], "PGPASSWORD": ""}
    env.update({k: v for k, v in v["hub"]["extraEnv"].items() if isinstance(v, str)})
    env["TREMPLIN_DATA_DIR"] = str(tmp_path / "data")  # (the volume mounted at /srv/tremplin/data)
    env["TREMPLIN_COURSES_DIR"] = str(ROOT / "courses")  # (copied to /srv/tremplin/courses in the image)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # KubeSpawner reads a cluster's address when it is made; this one is never contacted (the tests only build).
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "none",
        "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}],
        "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none", "namespace": "tremplin"}}],
        "users": [{"name": "none", "user": {"token": "never-sent"}}]}))
    # (kubernetes_asyncio read $KUBECONFIG when it was imported: its default is set where it keeps it)
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    # The hub pod runs as the chart's uid 1000, never root.
    monkeypatch.setattr(system, "running_as_root", lambda: False)
    # The course directories `tremplin courses sync` (the init container) makes, and the courses' professor.
    layout = Layout(tmp_path / "data")
    for course in ("preselection-math", "preselection-physics", "python-intro"):
        layout.course_dir(course).mkdir(parents=True)
    layout.hub_dir.mkdir()
    store = AccountStore(layout.accounts_url)
    store.add("professor", "professor", "a long enough password")
    store.close()
    # The chart makes the hub's HTTP client curl's, for the whole process: recorded, not done, in this one.
    clients = []
    monkeypatch.setattr(AsyncHTTPClient, "configure", classmethod(lambda cls, impl, **kw: clients.append(impl)))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "z2jh", raising=False)
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(tmp_path)).load_config()
    sys.modules.pop("z2jh", None)
    return SimpleNamespace(config=config, values=v, clients=clients, data=tmp_path / "data")


def spawner(chart, name: str = "dd27-0001") -> KubeSpawner:
    user = SimpleNamespace(name=name, id=7, url=f"/user/{name}/", escaped_name=name)
    mock_hub = SimpleNamespace(public_host="", url="http://hub:8081/hub/", base_url="/hub/",
                               api_url="http://hub:8081/hub/api")
    return KubeSpawner(config=chart.config, user=user, hub=mock_hub, _mock=True)


def test_the_hub_keeps_the_charts_setup_and_adds_tremplins_accounts_database_and_pages(chart):
    c = chart.config.JupyterHub
    assert c.spawner_class == "kubespawner.KubeSpawner"
    assert c.authenticator_class == "tremplin"
    assert c.db_url == "postgresql+psycopg://tremplin@tremplin-postgres:5432/jupyterhub"
    assert urlsplit(c.db_url).password is None and chart.values["hub"]["db"].get("password") is None
    assert os.environ["PGPASSWORD"] == SECRETS["hub.db.password"]  # (from the Secret, never from values.yaml)
    assert c.hub_connect_url == "http://hub:8081"
    assert c.tornado_settings == {"slow_spawn_timeout": 0, "compress_response": True}
    assert chart.clients == ["tornado.curl_httpclient.CurlAsyncHTTPClient"]
    assert chart.config.Spawner.server_token_scopes == SERVER_TOKEN_SCOPES
    # The hub's data directory was prepared on the volume, with the learners' configuration and the hub's API.
    layout = Layout(chart.data)
    assert (layout.learner_config / "jupyter_server_config.py").is_file()
    assert layout.hub_api_file.read_text().strip() == "http://hub:8081/hub/api"


def test_services_listen_on_the_pods_address_and_keep_tremplins_scopes(chart):
    services = {s["name"]: s for s in chart.config.JupyterHub.services}
    roles = {r["name"]: r for r in chart.config.JupyterHub.load_roles}
    # One culler, the chart's, with the scopes Tremplin's own would have had.
    assert "idle-culler" not in services and "jupyterhub-idle-culler" in services
    assert "--timeout=3600" in services["jupyterhub-idle-culler"]["command"]
    assert sorted(roles["jupyterhub-idle-culler"]["scopes"]) == sorted(IDLE_CULLER_SCOPES)
    assert roles[EXAM_SERVICE]["scopes"] == EXAM_SERVICE_SCOPES
    assert roles["tremplin-prestart"]["scopes"] == PRESTART_SCOPES
    assert services[EXAM_SERVICE]["url"] == f"http://{POD_IP}:{kube.EXAM_PORT}"
    assert services[EXAM_SERVICE]["environment"]["TREMPLIN_EXAM_DB_URL"] == SECRETS["exam-db-url"]
    formgraders = [services[c]["url"] for c in ("preselection-math", "preselection-physics", "python-intro")]
    assert formgraders == [f"http://{POD_IP}:{kube.EXAM_PORT + i}" for i in (1, 2, 3)]
    exam_url = f"http://{POD_IP}:{kube.EXAM_PORT}/services/{EXAM_SERVICE}/"
    assert services["preselection-math"]["environment"]["TREMPLIN_EXAM_URL"] == exam_url
    assert services["tremplin-prestart"]["environment"]["TREMPLIN_EXAM_URL"] == exam_url
    assert "--lead-minutes=20.0" in services["tremplin-prestart"]["command"]
    assert services["tremplin-prestart"]["command"][-1] == "--reserve-mib=0"
    assert not any("127.0.0.1" in s.get("url", "") for s in services.values())
    # The NetworkPolicy and the hub's Service open exactly those ports.
    hub_values = chart.values["hub"]
    (rule,) = hub_values["networkPolicy"]["ingress"]
    assert rule["ports"] == [{"port": kube.EXAM_PORT, "endPort": kube.LAST_PORT, "protocol": "TCP"}]
    assert hub_values["service"]["extraPorts"][0]["port"] == kube.EXAM_PORT
    assert chart.values["singleuser"]["networkPolicy"]["egress"][0]["ports"] == [{"port": kube.EXAM_PORT,
                                                                                 "protocol": "TCP"}]


async def test_a_candidates_pod_has_the_image_limits_command_and_learner_settings(chart):
    s = spawner(chart)
    assert s.image == "registry.example.org/tremplin/singleuser:0.1.0"
    assert (s.cpu_guarantee, s.mem_guarantee) == (sizing.CANDIDATE_CPU, sizing.CANDIDATE_MEMORY)
    assert (s.cpu_limit, s.mem_limit) == (1, 2 * 2**30)
    assert s.http_timeout == 120 and s.scheduler_name == "user-scheduler" and s.priority_class_name == "priority"
    pod = await s.get_pod_manifest()
    (container,) = pod.spec.containers
    assert container.image == s.image
    assert container.args[0] == "tremplin-singleuser"
    assert container.resources.requests == {"cpu": sizing.CANDIDATE_CPU, "memory": sizing.CANDIDATE_MEMORY}
    assert container.resources.limits == {"cpu": 1.0, "memory": 2 * 2**30}
    env = {e.name: e.value for e in container.env}
    assert env["TREMPLIN_EXAM_URL"] == f"http://hub:{kube.EXAM_PORT}/services/{EXAM_SERVICE}/"
    assert env["JUPYTER_CONFIG_PATH"] == "/etc/tremplin/learner"
    assert "TREMPLIN_WARM_KERNEL" not in env
    assert {m.mount_path for m in container.volume_mounts} >= {"/home/jovyan"}
    # (the Dockerfile's jovyan: uid 1000, group 100, so the home volume is theirs)
    assert container.security_context == {"runAsUser": 1000, "allowPrivilegeEscalation": False}
    assert pod.spec.security_context == {"fsGroup": 100}
    assert pod.spec.scheduler_name == "user-scheduler"


async def test_a_server_started_ahead_of_an_exam_starts_its_kernel_too(chart):
    s = spawner(chart)
    s.user_options = {"warm_kernel": True}
    await maybe_future(s.run_pre_spawn_hook())  # (as JupyterHub's spawn does)
    pod = await s.get_pod_manifest()
    assert {e.name: e.value for e in pod.spec.containers[0].env}["TREMPLIN_WARM_KERNEL"] == "1"


async def test_each_candidate_gets_a_home_volume_of_the_measured_size(chart):
    pvc = spawner(chart, "dd27-0042").get_pvc_manifest()
    assert pvc.metadata.name == "claim-dd27-0042"
    assert pvc.spec.resources.requests == {"storage": "1Gi"}
    assert pvc.spec.access_modes == ["ReadWriteOnce"]
    assert pvc.spec.storage_class_name is None  # (the cluster's default class: README says when to name one)


def test_placeholders_are_the_size_of_a_candidate_and_their_number_comes_from_the_tremplin_command(chart):
    placeholders = chart.values["scheduling"]["userPlaceholder"]
    assert placeholders["enabled"] and chart.values["scheduling"]["podPriority"]["enabled"]
    assert not placeholders.get("resources")  # (the chart then gives them singleuser's cpu and memory guarantees)
    assert placeholders["replicas"] == 0
    written = sizing.placeholders_values(sizing.plan(sizing.Peak(137, None, ())), "tremplin deploy placeholders x",
                                         __import__("datetime").datetime.now().astimezone())
    assert values(yaml.safe_load(written))["scheduling"]["userPlaceholder"] == {**placeholders, "replicas": 137}
    assert sizing.quantity(chart.values["singleuser"]["cpu"]["guarantee"], "cpu") == sizing.CANDIDATE_CPU
    assert sizing.quantity(chart.values["singleuser"]["memory"]["guarantee"].replace("M", "Mi"), "memory") == \
        sizing.CANDIDATE_MEMORY


def test_the_hubs_init_container_syncs_the_courses_with_the_hubs_image(chart):
    hub_values = chart.values["hub"]
    (init,) = hub_values["initContainers"]
    assert init["image"] == f"{hub_values['image']['name']}:{hub_values['image']['tag']}"
    assert "tremplin courses sync" in init["command"][-1]
    assert {e["name"]: e["value"] for e in init["env"]} == {k: hub_values["extraEnv"][k] for k in
                                                            ("TREMPLIN_DATA_DIR", "TREMPLIN_COURSES_DIR")}


def dockerfile_steps(name: str) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n(\s*#.*\n)*", " ", (DEPLOY / name).read_text())  # (continued lines, comments between)
    return [(line.split(None, 1)[0], line.split(None, 1)[1]) for line in text.splitlines()
            if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("name", ["Dockerfile", "hub.Dockerfile"])
def test_the_images_install_what_make_install_does_from_files_that_exist(name):
    steps = dockerfile_steps(name)
    assert steps[0][0] == "FROM" and re.search(r":\d+\.\d+\.\d+", steps[0][1])  # (a pinned base image)
    for instruction, args in steps:
        if instruction == "COPY":
            for source in shlex.split(args)[:-1]:
                assert (ROOT / source).exists(), f"{name}: COPY {source} does not exist in the checkout"
    makefile = (ROOT / "Makefile").read_text()
    run = " ".join(args for instruction, args in steps if instruction == "RUN")
    for make_line in re.findall(r"\$\(VENV\)/bin/pip install (.*)", makefile):
        flags = [f for f in make_line.split() if f not in ("-r", "requirements.lock", ".")]
        target = "-r /tmp/tremplin/requirements.lock" if "requirements.lock" in make_line else "--no-deps"
        assert target in run and all(f in run for f in flags), f"{name}: not as the Makefile: pip install {make_line}"


def test_the_learner_image_writes_the_configuration_values_yaml_points_to():
    run = " ".join(args for instruction, args in dockerfile_steps("Dockerfile") if instruction == "RUN")
    path = values()["singleuser"]["extraEnv"]["JUPYTER_CONFIG_PATH"]
    assert f"cp -r /tmp/tremplin/data/etc/learner {path}" in run
    assert "labextension/build $VENV/share/jupyter/labextensions/@tremplin/exam-clock" in run
