"""``/hub/campaigns``: the coordinators' page of campaigns' candidates (the hub's, scope
``custom:tremplin-rosters``: coordinators and Tremplin's administrators).

It does what ``tremplin campaign roster``, ``invite`` and ``withdraw`` do, by running that command
(:mod:`tremplin_hub.enrolment` is its one door; the command opens each store as its owner, which the
hub's threads cannot). The invitations' sheet comes back in the answer only, as a download the page
offers once: the server keeps no copy of the links.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
import tempfile
from pathlib import Path

from jupyterhub.handlers.base import BaseHandler
from jupyterhub.scopes import needs_scope
from tornado import web

from .admissions.store import CAMPAIGN_ID, Admissions
from .layout import Layout, default_data_dir
from .roles import ROSTERS

MAX_ROSTER_BYTES = 20 * 2**20  # (10,000 candidates are about 1 MB)
CANDIDATE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

NOT_DONE = "Rien n'a changé. / Nothing changed."


class CampaignsPage(BaseHandler):
    """The campaigns, their candidates' counts, and the forms; POST runs the command."""

    def _private_page(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")

    async def _render(self, *, done: dict | None = None, error: str = "", sheet: bytes = b"", sheet_name: str = "",
                      status: int = 200) -> None:
        campaigns = await asyncio.get_running_loop().run_in_executor(None, _campaigns, self.authenticator.store)
        self._private_page()
        self.set_status(status)
        self.finish(await self.render_template(
            "campaigns.html", campaigns=campaigns, done=done, error=error, sheet_name=sheet_name,
            sheet_data=base64.b64encode(sheet).decode("ascii") if sheet else "",
            xsrf=self.xsrf_token.decode("ascii")))

    @web.authenticated
    @needs_scope(ROSTERS)
    async def get(self):
        await self._render()

    @web.authenticated
    @needs_scope(ROSTERS)
    async def post(self):
        action = self.get_argument("action", "")
        cid = self.get_argument("campaign", "")
        if not CAMPAIGN_ID.match(cid):
            return await self._render(error=f"{NOT_DONE} Campagne inconnue / unknown campaign: {cid[:70]!r}",
                                      status=400)
        url = os.environ.get("TREMPLIN_PUBLIC_URL") or \
            f"{self.request.protocol}://{self.request.host}{self.base_url.rstrip('/')}"
        with tempfile.TemporaryDirectory(prefix="tremplin-roster-") as folder:
            sheet = Path(folder) / f"{cid}-invitations.csv"
            if action == "roster":
                files = self.request.files.get("roster") or []
                if not files or not files[0]["body"]:
                    return await self._render(error=f"{NOT_DONE} Choisissez le fichier CSV de la liste. / Choose the "
                                                    "roster's CSV file.", status=400)
                if len(files[0]["body"]) > MAX_ROSTER_BYTES:
                    return await self._render(error=f"{NOT_DONE} Fichier trop grand / file too large (> 20 MB).",
                                              status=413)
                roster = Path(folder) / "roster.csv"
                roster.write_bytes(files[0]["body"])
                name = Path(files[0]["filename"] or "roster.csv").name[:100]
                argv = ["roster", cid, str(roster), "--sheet", str(sheet), "--url", url, "--source", name, "--json"]
            elif action == "invite":
                candidate = self.get_argument("candidate", "").strip()
                if candidate and not CANDIDATE_ID.match(candidate):
                    return await self._render(error=f"{NOT_DONE} Identifiant de candidat invalide / invalid "
                                                    f"candidate id: {candidate[:70]!r}", status=400)
                who = ["--candidate", candidate] if candidate else ["--pending"]
                argv = ["invite", cid, *who, "--sheet", str(sheet), "--url", url, "--json"]
            elif action == "withdraw":
                candidate = self.get_argument("candidate", "").strip()
                if not CANDIDATE_ID.match(candidate):
                    return await self._render(error=f"{NOT_DONE} Identifiant de candidat invalide / invalid "
                                                    f"candidate id: {candidate[:70]!r}", status=400)
                argv = ["withdraw", cid, candidate, "--json"]
            else:
                return await self._render(error=f"{NOT_DONE} Action inconnue / unknown action.", status=400)
            code, out, err = await _tremplin("campaign", *argv)
            self.log.info("%s ran 'tremplin campaign %s %s': exit %d", self.current_user.name, action, cid, code)
            if code != 0:
                return await self._render(error=f"{NOT_DONE} {err.strip().removeprefix('error: ')}", status=400)
            data = sheet.read_bytes() if sheet.exists() else b""
        return await self._render(done={"action": action, "campaign": cid, **json.loads(out)}, sheet=data,
                                  sheet_name=sheet.name if data else "")


def _campaigns(accounts) -> list[dict]:
    """Each campaign's counts, with how many of its candidates have not chosen their password yet."""
    layout = Layout(default_data_dir())
    out = []
    for campaign in Admissions.summary(layout):
        accounts_of = Admissions.accounts(layout, campaign["id"])
        out.append({**campaign, "waiting": len(accounts.without_password(accounts_of))})
    return out


async def _tremplin(*argv: str) -> tuple[int, str, str]:
    """Run the ``tremplin`` command of this environment, without holding the event loop."""
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.prefix) / "bin" / "tremplin"), *argv, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "TREMPLIN_DATA_DIR": str(default_data_dir())})
    out, err = await proc.communicate()
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
