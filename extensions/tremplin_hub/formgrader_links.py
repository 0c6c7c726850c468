"""A server extension of each course's formgrader service: nbgrader's links to a course's folders and notebooks.

nbgrader's formgrader links an assignment's name and its release to ``/tree/<path>`` at the
*site's* root, assuming the formgrader runs in a server there; here it is a hub service under
``/services/<course>/``, and the links gave 404. This serves nbgrader's own ``utils.js`` with
its ``linkTo`` replaced, so that they open in that service's JupyterLab (``lab/tree/<path>``),
as nbgrader's links do when the formgrader is shown inside JupyterLab. Enabled by the graders'
``jupyter_server_config.py`` (:mod:`tremplin_hub.layout`).
"""

from __future__ import annotations

from pathlib import Path

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado.routing import HostMatches, Rule

#: What replaces nbgrader's ``linkTo`` (after its definition, in the same file): a link in this server's JupyterLab.
LINK_TO = """
// Tremplin (tremplin_hub.formgrader_links): the formgrader is a hub service under base_url, not a server at the
// site's root, so its links to folders and notebooks open in this service's JupyterLab.
linkTo = function (type, path) {
    var clean = String(path).split("/").filter(function (p) { return p && p !== "."; })
        .map(encodeURIComponent).join("/");
    return function (_, el) {
        return $(el).attr("href", base_url + "/lab/tree/" + clean).attr("target", "_blank")[0];
    };
};
"""


def nbgrader_utils_js() -> str:
    from nbgrader.server_extensions.formgrader.handlers import static_path  # (nbgrader's own, loaded in this server)

    return (Path(static_path) / "js" / "utils.js").read_text(encoding="utf-8")


class UtilsScript(JupyterHandler):
    """nbgrader's ``formgrader/static/js/utils.js`` (public, like the rest of its static files), links fixed."""

    def initialize(self, script: str):
        self.script = script

    def get(self):
        self.set_header("Content-Type", "application/javascript; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(self.script)


def _load_jupyter_server_extension(serverapp):
    pattern = url_path_join(serverapp.base_url, "formgrader/static/js/utils.js")
    router = serverapp.web_app.default_router
    # Ahead of nbgrader's static files (the first extension to claim a path serves it).
    rule = router.process_rule(Rule(HostMatches(".*$"), [(pattern, UtilsScript,
                                                          {"script": nbgrader_utils_js() + LINK_TO})]))
    router.rules.insert(0, rule)
    serverapp.log.info("Tremplin: the formgrader's links open in this server's JupyterLab")
