# The hub's image (values.yaml hub.image): the chart's own hub image with Tremplin installed, since the hub loads
# Tremplin's authenticator and runs its services (tremplin_hub.kube). Build from the checkout's root:
#   docker build -f deploy/kubernetes/hub.Dockerfile -t registry.example.org/tremplin/hub:0.1.0 .
# The chart's image brings tini, libcurl and pycurl, libpq and its start command; its Python is 3.12.
FROM quay.io/jupyterhub/k8s-hub:4.4.0

USER root
# The same exact versions as `make` (requirements.lock: JupyterHub 6.1.1 over the image's 5.5.0, KubeSpawner
# 7.1.0, nbgrader, psycopg), then Tremplin itself without dependencies; the courses are data, in the image.
COPY requirements.lock /tmp/tremplin/requirements.lock
RUN pip install -q --disable-pip-version-check --no-cache-dir -r /tmp/tremplin/requirements.lock
COPY pyproject.toml README.md /tmp/tremplin/
COPY graders /tmp/tremplin/graders
COPY extensions /tmp/tremplin/extensions
RUN pip install -q --disable-pip-version-check --no-cache-dir --no-deps --no-build-isolation --force-reinstall /tmp/tremplin \
 && rm -rf /tmp/tremplin
COPY courses /srv/tremplin/courses
# MathJax for formgraders' and feedback pages, served by the exam service (README, "Slow links"), as `make` does.
# (ExamServiceApp.static_dir defaults to <sys.prefix>/../static/node_modules: sys.prefix is /usr/local here.)
COPY deploy/static/package.json deploy/static/package-lock.json /usr/static/
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm \
 && cd /usr/static && npm ci --no-audit --no-fund --loglevel=error \
 && apt-get purge -y npm && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* /root/.npm
RUN mkdir -p /srv/tremplin/data && chown 1000:1000 /srv/tremplin/data
USER 1000
