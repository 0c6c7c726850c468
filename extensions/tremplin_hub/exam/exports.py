"""Admissions' page and downloads: each campaign's export as one zip, and the public key.

Served by the exam service (it already holds the candidates' records); only the
``admissions`` group and hub admins get in, checked on every request. Each download
writes, signs, keeps and logs a new export (:func:`tremplin_hub.admissions.export`).
"""

from __future__ import annotations

import html
import io
import zipfile

from tornado import web

from ..admissions import Admissions, CampaignError, export
from .handlers import ID
from .pages import PageHandler, page

ADMISSIONS = "admissions"


class ExportsBase(PageHandler):
    def admissions(self) -> Admissions:
        return Admissions(self.settings["layout"])

    def check_admissions(self) -> None:
        if not (self.is_admin() or ADMISSIONS in self.my_groups()):
            raise web.HTTPError(403, f"{self.me} may not download exports: the admissions office and "
                                     "administrators only")


class ExportsPage(ExportsBase):
    @web.authenticated
    def get(self):
        self.check_admissions()
        adm = self.admissions()
        try:
            items = []
            for cid in adm.campaign_ids():
                c = adm.campaign(cid)
                log = adm.exports(cid)
                last = (f"dernier / last: {html.escape(log[-1]['at'].isoformat())} ({html.escape(log[-1]['by'])})"
                        if log else "jamais exporté / never exported")
                items.append(f"<li><b>{html.escape(c.title)}</b> <small>({cid}; {html.escape(c.partner)}, "
                             f"{html.escape(c.country)}, {html.escape(c.session)}; {len(adm.roster(cid))} "
                             f"candidats / candidates)</small><br><a class='export' href='{cid}.zip'>Télécharger / "
                             f"Download</a> · <a href='{cid}.zip?allow_incomplete=1'>avec les copies en cours de "
                             f"correction / with papers still being graded</a> <small>{last}</small></li>")
        finally:
            adm.close()
        body = ("<h1>Exports des présélections <span lang='en'>/ Pre-selection exports</span></h1>"
                f"<ul>{''.join(items) or '<li>Aucune campagne / No campaign</li>'}</ul>"
                "<p>Chaque export contient CSV, XLSX, JSON, le schéma JSON et un manifeste signé (Ed25519). "
                "Vérifiez-le avec <code>tremplin export verify</code> et la <a href='public-key.pem'>clé publique"
                "</a>. / Each export holds CSV, XLSX, JSON, the JSON schema and a signed manifest; check it with "
                "<code>tremplin export verify</code> and the public key.</p>"
                f"<p><a href='{self.hub_auth.hub_prefix}home'>← Hub</a></p>")
        self.finish(page("Exports", body))


class ExportDownload(ExportsBase):
    @web.authenticated
    def get(self, cid):
        self.check_admissions()
        adm = self.admissions()
        try:
            files, _ = export(adm, cid, self.service.store, by=self.me,
                              allow_incomplete=bool(self.get_argument("allow_incomplete", "")))
        except CampaignError as exc:
            raise web.HTTPError(409 if "--allow-incomplete" in str(exc) else 404, str(exc)) from None
        finally:
            adm.close()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in sorted(files.items()):
                z.writestr(name, data)
        stamp = self.service.now().strftime("%Y%m%dT%H%M%SZ")
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", f'attachment; filename="{cid}-export-{stamp}.zip"')
        self.set_header("Cache-Control", "no-store")
        self.finish(buf.getvalue())


class PublicKey(ExportsBase):
    @web.authenticated
    def get(self):
        from tremplin_grading.exports import signing

        self.check_admissions()
        adm = self.admissions()
        try:
            pem = signing.public_pem(signing.load_or_create_key(adm.key_file))
        finally:
            adm.close()
        self.set_header("Content-Type", "application/x-pem-file")
        self.set_header("Content-Disposition", 'attachment; filename="tremplin-exports.pem"')
        self.finish(pem)


def export_handlers(prefix: str) -> list[tuple]:
    return [
        (f"{prefix}exports/", ExportsPage),
        (f"{prefix}exports/public-key.pem", PublicKey),
        (f"{prefix}exports/{ID}\\.zip", ExportDownload),
    ]
