"""Admissions' page and downloads: each campaign's export as one zip, and the public key.

Served by the exam service (:mod:`tremplin_hub.exam_service` plugs them in); only the
``admissions`` group and hub admins get in, checked on every request. Each download
writes, signs, keeps and logs a new export (:func:`.results.export`), on the service's
threads: the event loop never waits for the store, the gradebooks or the signature.
"""

from __future__ import annotations

import io
import zipfile

from tornado import web

from ..exam.errors import Forbidden
from ..exam.handlers import ID
from ..exam.pages import TEMPLATES, PageHandler
from .results import export
from .store import Admissions

ADMISSIONS = "admissions"


class ExportsBase(PageHandler):
    audience = ("Cette page est réservée au service des admissions et aux administrateurs.",
                "This page is for the admissions office and admins.")
    back = ("./", "Exports des présélections / Pre-selection exports")

    def check_admissions(self) -> None:
        if not (self.is_admin() or ADMISSIONS in self.my_groups()):
            raise Forbidden(f"{self.me} may not download exports: the admissions office and administrators only")

    def admissions(self) -> Admissions:
        return Admissions(self.settings["layout"])


class ExportsPage(ExportsBase):
    @web.authenticated
    async def get(self):
        def listing():
            self.check_admissions()
            with self.admissions() as adm:
                out = []
                for cid in adm.campaign_ids():
                    log = adm.exports(cid)
                    out.append({"campaign": adm.campaign(cid), "candidates": len(adm.roster(cid)),
                                "last": log[-1] if log else None})
                return out

        campaigns = await self.run(listing)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(TEMPLATES.get_template("exports.html").render(
            campaigns=campaigns, hub_home=f"{self.hub_auth.hub_prefix}home"))


class ExportDownload(ExportsBase):
    @web.authenticated
    async def get(self, cid):
        allow_incomplete = bool(self.get_argument("allow_incomplete", ""))

        def make_zip():
            self.check_admissions()
            with self.admissions() as adm:
                files, _ = export(adm, cid, self.service, by=self.me, allow_incomplete=allow_incomplete,
                                  members_of=self.groups_of.members)
            return zipped(files, self.service.now())

        data = await self.run(make_zip)
        stamp = self.service.now().strftime("%Y%m%dT%H%M%SZ")
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", f'attachment; filename="{cid}-export-{stamp}.zip"')
        self.set_header("Cache-Control", "no-store")
        self.finish(data)


def zipped(files: dict[str, bytes], now) -> bytes:
    """The export as one zip; unzipped, its files are ``rw-r--r--`` (``writestr`` of a bare name gives
    600: the officer's colleagues and import tools could not read them)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in sorted(files.items()):
            info = zipfile.ZipInfo(name, now.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return buf.getvalue()


class PublicKey(ExportsBase):
    @web.authenticated
    async def get(self):
        from tremplin_grading.exports import signing

        def pem():
            self.check_admissions()
            with self.admissions() as adm:
                return signing.public_pem(signing.load_or_create_key(adm.key_file))

        data = await self.run(pem)
        self.set_header("Content-Type", "application/x-pem-file")
        self.set_header("Content-Disposition", 'attachment; filename="tremplin-exports.pem"')
        self.finish(data)


def export_handlers(prefix: str) -> list[tuple]:
    return [
        (f"{prefix}exports/", ExportsPage),
        (f"{prefix}exports/public-key.pem", PublicKey),
        (f"{prefix}exports/{ID}\\.zip", ExportDownload),
    ]
