"""The coordinator's pages: exam sessions, candidates, extra time, audit log (French and English).

Plain server-rendered HTML with forms (a few kilobytes, usable on a slow link, no
JavaScript needed except to show UTC times in the reader's own time zone). Browsers log
in through the hub (OAuth); permissions are the same checks as the REST API.
"""

from __future__ import annotations

import html
from urllib.parse import quote

from tornado import web

from .handlers import BaseHandler, number, parse_time, send_audit_log
from .store import StoreError

STATE_LABELS = {
    "not_open": "pas encore ouvert / not open yet", "closed": "fermé / closed", "open": "pas commencé / not started",
    "running": "en cours / in progress", "ended": "temps écoulé / time over", "submitted": "remis / handed in",
}

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:70rem;color:#222}
table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left}
th{background:#f3f3f3}.late{color:#b00;font-weight:bold}.ok{color:#070}form{margin:.8rem 0}
fieldset{border:1px solid #ccc;margin:1rem 0}label{margin-right:1rem}.msg{padding:.5rem;background:#fff6d5}
.err{padding:.5rem;background:#fde2e2}
"""

LOCAL_TIMES = """<script>
// Times are stored and sent in UTC; show them in the reader's own time zone, the zone named.
for (const el of document.querySelectorAll('time[datetime]')) {
  const d = new Date(el.getAttribute('datetime'));
  if (isNaN(d)) continue;
  el.title = el.getAttribute('datetime') + ' (UTC)';
  el.textContent = d.toLocaleString(undefined, {year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit',
                                               minute: '2-digit', second: '2-digit', timeZoneName: 'short'});
}
</script>"""


def t(moment) -> str:
    if not moment:
        return "—"
    text = html.escape(str(moment))
    return f'<time datetime="{text}">{text}</time>'


def page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='fr'><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width'><title>{html.escape(title)}</title><style>{STYLE}</style></head>"
            f"<body>{body}{LOCAL_TIMES}</body></html>")


class PageHandler(BaseHandler):
    def prepare(self):  # browsers are sent to the hub's login instead of getting a 403
        pass

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "message", None) or getattr(exc, "log_message", None) or self._reason
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(page(f"{status_code}", f"<h1>{status_code}</h1><p class='err'>{html.escape(str(message))}</p>"
                                           "<p>Cette page est réservée aux coordinateurs d'épreuve, aux enseignants "
                                           "et aux administrateurs. / This page is for exam coordinators, "
                                           "professors and admins.</p>"
                                           f"<p><a href='{self.hub_auth.hub_prefix}home'>← Hub</a></p>"))

    def exams_i_coordinate(self) -> list[tuple]:
        out = []
        for course in self.service.courses().values():
            if course.kind == "exam" and self.is_coordinator(course):
                out.extend((course, a) for a in course.assignments)
        return out


class IndexPage(PageHandler):
    @web.authenticated
    def get(self):
        exams = self.exams_i_coordinate()
        if not exams:
            raise web.HTTPError(403, f"{self.me} coordinates no exam; exam coordinators, professors and admins "
                                     "only")
        items = "".join(
            f"<li><a href='exams/{course.id}/{a.id}'>{html.escape(a.title['fr'])} / {html.escape(a.title['en'])}"
            f"</a> <small>({course.id}/{a.id})</small></li>" for course, a in exams)
        self.finish(page("Épreuves / Exams", f"<h1>Sessions d'épreuve / Exam sessions</h1><ul>{items}</ul>"
                                              f"<p><a href='{self.hub_auth.hub_prefix}home'>← Hub</a></p>"))


class ExamPage(PageHandler):
    def check(self, course_id, assignment_id):
        course, assignment = self.service.assignment(course_id, assignment_id)
        self.require(self.is_coordinator(course), "run this exam session", course_id)
        return course, assignment

    @web.authenticated
    def get(self, course_id, assignment_id):
        saved = {"session": "Fenêtre enregistrée. / Window saved.",
                 "extra-time": "Temps supplémentaire accordé. / Extra time granted."}.get(self.get_argument("saved", ""))
        self.render_exam(course_id, assignment_id, message=saved or "")

    def render_exam(self, course_id, assignment_id, message="", error=""):
        course, assignment = self.check(course_id, assignment_id)
        session = self.service.session_view(course.id, assignment.id)
        rows = self.service.candidates(course.id, assignment.id, self.groups_of)
        table = "".join(self.row(r) for r in rows)
        xsrf = self.xsrf_form_html()
        value = lambda iso: html.escape(iso.replace("+00:00", "Z"))  # noqa: E731
        notice = (f"<p class='msg'>{html.escape(message)}</p>" if message else "") + \
                 (f"<p class='err'>{html.escape(error)}</p>" if error else "")
        body = f"""
<p><a href='../../'>← Épreuves / Exams</a></p>
<h1>{html.escape(assignment.title['fr'])} / {html.escape(assignment.title['en'])}</h1>
<p><small>{course.id}/{assignment.id} · heure du serveur / server time {t(self.service.now().isoformat())}</small></p>
{notice}
<fieldset><legend>Fenêtre de l'épreuve / Exam window (UTC)</legend>
<p>Ouverture / opens {t(session['opens'])} · fermeture / closes {t(session['closes'])} ·
durée / duration {session['duration_minutes']:g} min · délai de grâce / grace {session['grace_minutes']:g} min ·
défini par / set by {html.escape(session['set_by'])}</p>
<form method='post' action='{assignment.id}/session'>{xsrf}
<label>Ouverture / opens <input name='opens' value='{value(session['opens'])}' size='26'></label>
<label>Fermeture / closes <input name='closes' value='{value(session['closes'])}' size='26'></label>
<label>Durée / duration (min) <input name='duration_minutes' value='{session['duration_minutes']:g}' size='5'></label>
<label>Grâce / grace (min) <input name='grace_minutes' value='{session['grace_minutes']:g}' size='4'></label>
<button>Enregistrer / Save</button></form></fieldset>
<h2>Candidats / Candidates</h2>
<table><tr><th>Candidat / Candidate</th><th>État / State</th><th>Début / Started</th><th>Temps restant / Time left</th>
<th>Échéance / Deadline</th><th>Dernière sauvegarde / Last autosave</th><th>Remis / Handed in</th>
<th>Retard / Late</th><th>Aménagement / Accommodation</th><th>IP</th></tr>{table}</table>
<fieldset><legend>Accorder du temps / Grant extra time</legend>
<form method='post' action='{assignment.id}/extra-time'>{xsrf}
<label>Candidat / Candidate <select name='user'>{''.join(f"<option>{html.escape(r['user'])}</option>" for r in rows)}
</select></label>
<label>Minutes en plus / extra minutes <input name='extra_minutes' value='0' size='4'></label>
<label>Facteur / factor <input name='time_factor' value='1' size='4'></label>
<label>Motif / reason <input name='reason' size='30'></label>
<button>Accorder / Grant</button></form></fieldset>
<p><a href='{assignment.id}/audit.jsonl'>Télécharger le journal d'audit / Download the audit log</a> ·
<a href='{assignment.id}/analysis'>Analyse des questions / Item analysis</a></p>
"""
        self.finish(page(f"{assignment.id} — session", body))

    @staticmethod
    def row(r: dict) -> str:
        left = r["seconds_left"]
        left_text = "—" if left is None else f"{left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d}"
        late = f"<span class='late'>{r['seconds_late']} s</span>" if r["late"] else "<span class='ok'>non / no</span>"
        acc = r["accommodation"]
        acc_text = "—" if acc["extra_minutes"] == 0 and acc["time_factor"] == 1 else \
            html.escape(f"+{acc['extra_minutes']:g} min ×{acc['time_factor']:g} ({acc['granted_by']}: {acc['reason']})")
        handed = t(r["submitted"]) + (f" <small>({r['final_kind']})</small>" if r["final_kind"] else "")
        return (f"<tr data-user='{html.escape(r['user'])}'><td>{html.escape(r['user'])}</td>"
                f"<td class='state'>{STATE_LABELS.get(r['state'], r['state'])}</td><td>{t(r['started'])}</td>"
                f"<td class='left'>{left_text}</td><td>{t(r['deadline'])}</td><td>{t(r['last_snapshot'])}</td>"
                f"<td>{handed}</td><td>{late}</td><td>{acc_text}</td><td>{html.escape(r['ip'])}</td></tr>")


class SessionForm(ExamPage):
    @web.authenticated
    def post(self, course_id, assignment_id):
        course, assignment = self.check(course_id, assignment_id)
        try:
            self.service.set_session(course.id, assignment.id, parse_time(self.get_argument("opens"), "opens"),
                                     parse_time(self.get_argument("closes"), "closes"),
                                     number({"d": self.get_argument("duration_minutes")}, "d", 120),
                                     number({"g": self.get_argument("grace_minutes")}, "g", 2), self.me)
        except StoreError as exc:
            self.set_status(exc.status)
            return self.render_exam(course_id, assignment_id, error=exc.message)
        self.redirect(f"../{quote(assignment.id)}?saved=session")


class ExtraTimeForm(ExamPage):
    @web.authenticated
    def post(self, course_id, assignment_id):
        course, assignment = self.check(course_id, assignment_id)
        try:
            self.service.grant(course.id, assignment.id, "user", self.get_argument("user"), self.me,
                               extra_minutes=number({"m": self.get_argument("extra_minutes", "0")}, "m", 0),
                               time_factor=number({"f": self.get_argument("time_factor", "1")}, "f", 1),
                               reason=self.get_argument("reason", "")[:500])
        except StoreError as exc:
            self.set_status(exc.status)
            return self.render_exam(course_id, assignment_id, error=exc.message)
        self.redirect(f"../{quote(assignment.id)}?saved=extra-time")


class AuditDownload(ExamPage):
    @web.authenticated
    def get(self, course_id, assignment_id):
        course, assignment = self.check(course_id, assignment_id)
        send_audit_log(self, course.id, assignment.id)


def item_analysis_html(service, layout, course_id: str, assignment_id: str) -> str:
    """The item-analysis page of one exam (tremplin_grading.analysis), from its gradebook and variants."""
    from tremplin_grading.analysis import analyse, html_report
    from tremplin_grading.results import read_gradebook

    course, assignment = service.assignment(course_id, assignment_id)
    graded = read_gradebook(layout.course_dir(course.id) / "gradebook.db", assignment.id)
    variants = {a["user"]: a["variant"] for a in service.store.attempts(course.id, assignment.id)}
    return html_report(analyse(f"{course.id}/{assignment.id}", graded, variants),
                       f"{assignment.title['fr']} / {assignment.title['en']}")


class AnalysisPage(ExamPage):
    @web.authenticated
    def get(self, course_id, assignment_id):
        self.check(course_id, assignment_id)
        self.finish(item_analysis_html(self.service, self.settings["layout"], course_id, assignment_id))


def page_handlers(prefix: str) -> list[tuple]:
    from .handlers import ID

    return [
        (f"{prefix}", IndexPage),
        (f"{prefix}exams/{ID}/{ID}", ExamPage),
        (f"{prefix}exams/{ID}/{ID}/session", SessionForm),
        (f"{prefix}exams/{ID}/{ID}/extra-time", ExtraTimeForm),
        (f"{prefix}exams/{ID}/{ID}/audit.jsonl", AuditDownload),
        (f"{prefix}exams/{ID}/{ID}/analysis", AnalysisPage),
    ]
