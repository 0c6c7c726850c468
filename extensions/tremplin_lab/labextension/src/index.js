/*
 * @tremplin/exam-clock — timed-exam countdown for JupyterLab 4.
 *
 * Polls GET {baseUrl}tremplin/exams (served by the learner's own Jupyter
 * server), shows the time left in the top bar, warns at 10 and 2 minutes,
 * autosaves the exam documents every 30 s, and closes them (read-only,
 * banner, no more saves) once the exam is over.
 *
 * Beside the countdown it says what became of the last save: the learner's
 * server sends each save to the exam service in the background, and a save
 * is "saved" only once the service said it kept it. Until then it is
 * "sending"; a save the service did not keep is shown in red with the time of
 * the next try. While a save is not kept the extension asks the learner's
 * server every 3 s (`?cached=1`: the server answers without asking the
 * service).
 *
 * The time left is always counted from the server's `seconds_left`, against
 * performance.now() at reception: the client's wall clock is never trusted
 * for it (it is only used to display the deadline in the local time zone).
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { IDocumentWidgetOpener } from '@jupyterlab/docmanager';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

const PLUGIN_ID = '@tremplin/exam-clock:plugin';
const ENDPOINT = 'tremplin/exams';
const HAND_IN_ENDPOINT = 'tremplin/submit'; // + /<course>/<assignment>: the confirmed hand-in

const POLL_MS = 30000; // regular poll
const OFFLINE_RETRY_MS = 10000; // faster retry while the server is unreachable
const MIN_EVENT_POLL_MS = 3000; // throttle for focus/online-triggered polls
const CONFIRM_RETRY_MS = 3000; // re-poll while the server has not confirmed the end
const MAX_CONFIRM_POLLS = 20; // ... at most this many times, then back to POLL_MS
const AUTOSAVE_MS = 30000;
const STATUS_POLL_MS = 3000; // while the last save is not kept by the exam service
const AFTER_SAVE_POLL_MS = 800; // first look after a save reached the learner's server
const TICK_MS = 1000;
const WARN_SECONDS = 600; // 10 min
const CRITICAL_SECONDS = 120; // 2 min
// After a *local* close (countdown reached 0), only reopen if the server
// really grants more time than this (e.g. a deadline extension).
const REOPEN_MARGIN_SECONDS = 5;

const CLOCK_ID = 'tremplin-exam-clock';
const CLASS_CLOCK = 'tremplin-exam-clock';
const CLASS_WARNING = 'tremplin-exam-warning';
const CLASS_CRITICAL = 'tremplin-exam-critical';
const CLASS_OVER = 'tremplin-exam-over';
const CLASS_OFFLINE = 'tremplin-exam-offline';
const CLASS_CLOSED = 'tremplin-exam-closed';
const CLASS_LOCKED_DOC = 'tremplin-exam-locked';

const TEXT = {
  closedFallbackFr:
    "L'épreuve est terminée : votre travail a été remis.",
  closedFallbackEn: 'The exam is over: your work has been handed in.',
  over: 'Épreuve terminée / Exam over',
  offline: 'hors ligne / offline',
  offlineTitle:
    'Serveur injoignable : le décompte continue localement. / ' +
    'Server unreachable: the countdown continues locally.',
  receipt: 'Reçu / Receipt',
  sending: 'Envoi au service d\'examen… / Sending to the exam service…',
  sendingTitle:
    'Votre copie est enregistrée sur votre serveur et part vers le service ' +
    'd\'examen. / Your work is saved on your server and on its way to the ' +
    'exam service.',
  notSaved: 'Copie NON enregistrée par le service d\'examen',
  notSavedEn: 'NOT saved by the exam service',
  retryFr: 'nouvel essai à',
  retryEn: 'retrying at',
  retryNowFr: 'nouvel essai en cours',
  retryNowEn: 'retrying now',
  notSavedHelp:
    'Votre travail reste sur votre serveur et sera renvoyé automatiquement ; ' +
    'si cela dure, prévenez le surveillant. / Your work stays on your server ' +
    'and will be sent again automatically; if this lasts, tell the invigilator.',
  keptFr: 'enregistrée à',
  keptEn: 'saved at',
  keptTitle:
    'Dernière copie gardée par le service d\'examen / Last copy kept by the exam service',
  handIn: 'Rendre ma copie / Hand in',
  handInTitle:
    'Remettre votre copie maintenant (une seule remise : l\'épreuve se termine) / ' +
    'Hand in your work now (one hand-in only: the exam ends)',
  handInDialogTitle: 'Rendre votre copie ? / Hand in your work?',
  handInCancel: 'Annuler / Cancel',
  handInConfirm: 'Rendre ma copie / Hand in',
  handInSaving: 'Enregistrement avant la remise… / Saving before handing in…',
  handInFailed: 'La copie n\'a PAS été remise / Your work was NOT handed in',
  handedInFr: 'Copie remise à',
  handedInEn: 'Handed in at',
  timedTitle: 'Épreuve chronométrée / Timed exam',
  timedCancel: 'Annuler / Cancel',
  timedGo: 'Page de démarrage / Start page'
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

function normPath(p) {
  return String(p || '')
    .replace(/\\/g, '/')
    .replace(/^\/+/, '')
    .replace(/\/+$/, '');
}

function docPath(context) {
  let p = context.localPath || context.path || '';
  // Drive-prefixed paths ("Drive:dir/file") are not ours; keep only local part.
  const colon = p.indexOf(':');
  if (colon >= 0 && !context.localPath) {
    p = p.slice(colon + 1);
  }
  return normPath(p);
}

function isUnder(path, examPath) {
  const root = normPath(examPath);
  return root !== '' && path.startsWith(root + '/');
}

function formatHMS(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`;
}

/** "15:30 (GMT+7)" in the browser's own time zone. */
function formatDeadline(iso) {
  if (!iso) {
    return '';
  }
  const d = new Date(iso);
  if (isNaN(d.getTime())) {
    return '';
  }
  try {
    const parts = new Intl.DateTimeFormat('en-GB', {
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short'
    }).formatToParts(d);
    const get = type => (parts.find(x => x.type === type) || {}).value || '';
    const zone = get('timeZoneName');
    return `${get('hour')}:${get('minute')}${zone ? ` (${zone})` : ''}`;
  } catch (e) {
    return d.toTimeString().slice(0, 5);
  }
}

/** "14:32:10" in the browser's own time zone. */
function formatClockTime(date) {
  if (!(date instanceof Date) || isNaN(date.getTime())) {
    return '';
  }
  try {
    return new Intl.DateTimeFormat('en-GB', {
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23'
    }).format(date);
  } catch (e) {
    return date.toTimeString().slice(0, 8);
  }
}

/** "14:32:10 (GMT+7)": a moment of the exam service, in the browser's own time zone, the zone named. */
function formatLocalTime(iso) {
  const date = new Date(iso);
  const time = formatClockTime(date);
  const zone = (formatDeadline(iso).match(/\(([^)]*)\)/) || [])[1];
  return time && zone ? `${time} (${zone})` : time;
}

/**
 * A question in French and English (one paragraph each): whether `accept` was clicked. Cancel (the
 * default button), Escape or closing the dialog answer false.
 */
async function askBilingual(title, fr, en, cancelLabel, accept) {
  const body = document.createElement('div');
  body.className = 'tremplin-exam-dialog';
  for (const [lang, text] of [['fr', fr], ['en', en]]) {
    const p = document.createElement('p');
    p.lang = lang;
    p.textContent = text;
    body.appendChild(p);
  }
  const result = await showDialog({
    title,
    body: new Widget({ node: body }),
    buttons: [Dialog.cancelButton({ label: cancelLabel }), accept],
    defaultButton: 0
  });
  return result.button.accept;
}

const AUTOSAVE_RANK = { failed: 3, pending: 2, kept: 1 };

function bilingual(obj, fallbackFr, fallbackEn) {
  const fr = (obj && (obj.fr || obj.en)) || fallbackFr;
  const en = (obj && (obj.en || obj.fr)) || fallbackEn;
  return { fr, en };
}

function titleText(exam) {
  const t = bilingual(exam.title, exam.assignment || exam.path, exam.assignment || exam.path);
  return t.fr === t.en ? t.fr : `${t.fr} / ${t.en}`;
}

/** Is this widget a notebook panel (duck-typed so it works without the tracker)? */
function notebookOf(widget) {
  const nb = widget && widget.content;
  if (nb && nb.model && nb.model.cells && Array.isArray(nb.widgets)) {
    return nb;
  }
  return null;
}

/**
 * Banner for the top of a closed document's panel.
 *
 * It lives in the DocumentWidget's `contentHeader`, a Lumino BoxPanel that
 * sizes its children from their CSS min-height, not from their content: the
 * banner measures its inner block and publishes it as min-height, then asks
 * the panel to fit again (on attach, show, resize and content change).
 */
class Banner extends Widget {
  constructor() {
    super();
    this.addClass(CLASS_CLOSED);
    this.node.setAttribute('role', 'alert');
    this._inner = document.createElement('div');
    this._inner.className = 'tremplin-exam-closed-body';
    this.node.appendChild(this._inner);
    this._height = -1;
  }

  setContent(fragment) {
    this._inner.replaceChildren(fragment);
    this._measure();
  }

  /** `done` (handed in: information, not an error) or `pending` (time up, being handed in). */
  setKind(kind) {
    this.node.dataset.kind = kind;
    this.node.setAttribute('role', kind === 'done' ? 'status' : 'alert');
  }

  onAfterAttach() {
    this._measure();
  }

  onAfterShow() {
    this._measure();
  }

  onResize() {
    this._measure();
  }

  _measure() {
    if (!this.isAttached) {
      return;
    }
    const h = this._inner.offsetHeight;
    if (h > 0 && h !== this._height) {
      this._height = h;
      this.node.style.minHeight = `${h}px`;
      if (this.parent) {
        this.parent.fit();
      }
    }
  }
}

/* ------------------------------------------------------------------ */
/* The extension                                                       */
/* ------------------------------------------------------------------ */

class ExamClock {
  constructor(app, tracker, opener) {
    this._app = app;
    this._tracker = tracker;
    this._opener = opener;
    this._settings = ServerConnection.makeSettings();
    this._exams = new Map(); // exam path -> record
    this._locks = new Map(); // document widget -> lock state
    this._offline = false;
    this._polling = null;
    this._pollTimer = null;
    this._lastPoll = 0;
    this._statusTimer = null;
    this._statusPolling = null;
    this._saves = 0; // saves of exam documents seen in this page
    this._watchedContexts = new WeakSet();

    const clock = new Widget();
    clock.id = CLOCK_ID;
    clock.addClass(CLASS_CLOCK);
    clock.node.setAttribute('role', 'timer');
    clock.node.setAttribute('aria-live', 'off');
    this._text = document.createElement('span');
    this._text.className = 'tremplin-exam-clock-text';
    this._offlineMark = document.createElement('span');
    this._offlineMark.className = 'tremplin-exam-offline-mark';
    this._offlineMark.textContent = TEXT.offline;
    this._offlineMark.title = TEXT.offlineTitle;
    this._saveMark = document.createElement('span');
    this._saveMark.className = 'tremplin-exam-autosave';
    this._saveMark.setAttribute('role', 'status');
    this._handInButton = document.createElement('button');
    this._handInButton.className = 'tremplin-exam-handin';
    this._handInButton.type = 'button';
    this._handInButton.textContent = TEXT.handIn;
    this._handInButton.title = TEXT.handInTitle;
    this._handInButton.hidden = true;
    this._handInButton.addEventListener('click', () => void this._handIn(null));
    this._handingIn = false;
    clock.node.appendChild(this._text);
    clock.node.appendChild(this._saveMark);
    clock.node.appendChild(this._offlineMark);
    clock.node.appendChild(this._handInButton);
    clock.hide();
    this._clock = clock;
  }

  start() {
    this._app.shell.add(this._clock, 'top', { rank: 900 });

    const onDoc = (_, widget) => this._onDocumentOpened(widget);
    if (this._tracker) {
      this._tracker.widgetAdded.connect(onDoc);
    }
    if (this._opener && this._opener.opened) {
      this._opener.opened.connect(onDoc);
    }

    window.addEventListener('online', () => this._eventPoll());
    window.addEventListener('focus', () => this._eventPoll());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') {
        this._eventPoll();
      }
    });

    // nbgrader's Assignment List: its Fetch would start a timed exam, its Submit would end one, each at one
    // click. For an exam, Fetch shows what starting means and leads to the exam's start page (which asks the
    // candidate to confirm), Submit opens the hand-in dialog. (The exam service refuses both anyway.)
    document.addEventListener('click', event => this._onListButton(event), true);

    window.setInterval(() => this._tick(), TICK_MS);
    window.setInterval(() => this._autosave(), AUTOSAVE_MS);
    void this._poll();
  }

  _onListButton(event) {
    const button = event.target && event.target.closest && event.target.closest('button');
    const row = button && button.closest('.list_item');
    if (!row || !row.closest('#released_assignments_list, #fetched_assignments_list')) {
      return;
    }
    const text = cell => ((row.querySelector(cell) || {}).textContent || '').trim();
    const rec = this._exams.get(normPath(`${text('.item_course')}/${text('.item_name')}`));
    const label = button.textContent.trim();
    if (!rec) {
      return;
    }
    if (label === 'Fetch' && !['running', 'ended', 'submitted'].includes(rec.exam.state)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      void this._explainStart(rec);
    } else if (label === 'Submit' && rec.exam.state === 'running') {
      event.preventDefault();
      event.stopImmediatePropagation();
      void this._handIn(rec);
    }
  }

  /** A timed exam not started: what starting means, and the way to its start page (nothing starts here). */
  async _explainStart(rec) {
    const title = bilingual(rec.exam.title, rec.path, rec.path);
    const minutes = rec.exam.minutes;
    const duration = typeof minutes === 'number'
      ? `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')}` : '';
    const accepted = await askBilingual(
      TEXT.timedTitle,
      `« ${title.fr} » est une épreuve chronométrée` + (duration ? ` (durée : ${duration})` : '') +
        '. Votre temps commence quand vous confirmez sur sa page de démarrage ; rien n\'a commencé.',
      `"${title.en}" is a timed exam` + (duration ? ` (duration: ${duration})` : '') +
        '. Your time starts when you confirm on its start page; nothing has started.',
      TEXT.timedCancel,
      Dialog.okButton({ label: TEXT.timedGo })
    );
    if (accepted) {
      const [course, assignment] = rec.path.split('/');
      window.location.href = URLExt.join(this._settings.baseUrl, 'tremplin/open', course, assignment);
    }
  }

  /* ---------------------------- polling --------------------------- */

  _schedulePoll(ms) {
    if (this._pollTimer !== null) {
      window.clearTimeout(this._pollTimer);
    }
    this._pollTimer = window.setTimeout(() => {
      this._pollTimer = null;
      void this._poll();
    }, ms);
  }

  _eventPoll() {
    if (performance.now() - this._lastPoll >= MIN_EVENT_POLL_MS) {
      void this._poll();
    }
  }

  _poll() {
    if (this._polling) {
      return this._polling;
    }
    this._lastPoll = performance.now();
    const url = URLExt.join(this._settings.baseUrl, ENDPOINT);
    const saves = this._saves;
    this._polling = (async () => {
      let ok = false;
      try {
        const response = await ServerConnection.makeRequest(
          url,
          { method: 'GET', cache: 'no-store' },
          this._settings
        );
        if (!response.ok) {
          throw new Error(`HTTP ${response.status}`);
        }
        const data = await response.json();
        const receivedAt = performance.now();
        this._offline = false;
        ok = true;
        this._update(data, receivedAt);
        this._updateAutosave(data, saves);
      } catch (err) {
        this._offline = true;
        console.warn('[tremplin exam-clock] poll failed:', err);
      } finally {
        this._polling = null;
        let next = ok ? POLL_MS : OFFLINE_RETRY_MS;
        if (ok && this._awaitingConfirmation()) {
          next = CONFIRM_RETRY_MS;
        }
        this._schedulePoll(next);
        this._scheduleStatusPoll();
        this._render();
      }
    })();
    return this._polling;
  }

  /* ------------------------ autosave status ----------------------- */

  /**
   * What became of each exam's last save, from an answer to a poll that
   * started when `saves` exam documents had been saved in this page: an
   * answer to a poll sent before a save may not know of it, and is ignored.
   */
  _updateAutosave(data, saves) {
    const exams = (data && Array.isArray(data.exams) && data.exams) || [];
    for (const exam of exams) {
      const rec = this._exams.get(normPath(exam && exam.path));
      if (!rec || (rec.lastSave || 0) > saves) {
        continue;
      }
      rec.autosave = exam.autosave || null;
      rec.autosaveWall = Date.now();
      rec.saveUnconfirmed = false;
    }
  }

  /** A save the exam service has not kept yet, or not confirmed yet. */
  _autosaveUnsettled() {
    return this._running().some(
      rec =>
        rec.saveUnconfirmed ||
        (rec.autosave && rec.autosave.state && rec.autosave.state !== 'kept')
    );
  }

  /** Ask again in `ms`, or (no `ms`) in STATUS_POLL_MS while a save is unsettled. */
  _scheduleStatusPoll(ms) {
    if (ms === undefined) {
      if (this._statusTimer !== null) {
        return;
      }
      if (!this._autosaveUnsettled()) {
        return;
      }
      ms = STATUS_POLL_MS;
    } else if (this._statusTimer !== null) {
      window.clearTimeout(this._statusTimer);
    }
    this._statusTimer = window.setTimeout(() => {
      this._statusTimer = null;
      void this._pollStatus();
    }, ms);
  }

  /** The learner's server's own view (`?cached=1`): it does not ask the exam service. */
  _pollStatus() {
    if (this._statusPolling) {
      return this._statusPolling;
    }
    const url = URLExt.join(this._settings.baseUrl, ENDPOINT) + '?cached=1';
    const saves = this._saves;
    this._statusPolling = (async () => {
      try {
        const response = await ServerConnection.makeRequest(
          url,
          { method: 'GET', cache: 'no-store' },
          this._settings
        );
        if (!response.ok) {
          throw new Error(`HTTP ${response.status}`);
        }
        this._updateAutosave(await response.json(), saves);
      } catch (err) {
        console.warn('[tremplin exam-clock] autosave status poll failed:', err);
      } finally {
        this._statusPolling = null;
        this._scheduleStatusPoll();
        this._render();
      }
    })();
    return this._statusPolling;
  }

  /** Every completed save of an exam document: "sending" at once, then ask. */
  _watchSaves(widget) {
    const ctx = widget && widget.context;
    if (!ctx || !ctx.saveState || this._watchedContexts.has(ctx)) {
      return;
    }
    this._watchedContexts.add(ctx);
    ctx.saveState.connect((_, state) => {
      if (state !== 'completed') {
        return;
      }
      const path = docPath(ctx);
      const recs = this._running().filter(rec => isUnder(path, rec.path));
      if (recs.length === 0) {
        return;
      }
      this._saves += 1;
      for (const rec of recs) {
        rec.lastSave = this._saves;
        rec.saveUnconfirmed = true;
        // On the learner's server, not yet with the exam service: never "saved" here.
        if (!rec.autosave || rec.autosave.state !== 'failed') {
          rec.autosave = { ...(rec.autosave || {}), state: 'pending', sending: true };
          rec.autosaveWall = Date.now();
        }
      }
      this._render();
      this._scheduleStatusPoll(AFTER_SAVE_POLL_MS);
    });
  }

  _renderAutosave(running) {
    const mark = this._saveMark;
    const node = this._clock.node;
    mark.classList.remove(
      'tremplin-exam-autosave-kept',
      'tremplin-exam-autosave-pending',
      'tremplin-exam-autosave-failed'
    );
    let worst = null;
    for (const rec of running) {
      const state = rec.autosave && rec.autosave.state;
      if (state && AUTOSAVE_RANK[state] &&
          (!worst || AUTOSAVE_RANK[state] > AUTOSAVE_RANK[worst.autosave.state])) {
        worst = rec;
      }
    }
    if (!worst) {
      mark.textContent = '';
      mark.removeAttribute('title');
      delete node.dataset.autosave;
      return;
    }
    const a = worst.autosave;
    node.dataset.autosave = a.state;
    mark.classList.add(`tremplin-exam-autosave-${a.state}`);
    if (a.state === 'kept') {
      const at = formatClockTime(new Date(a.kept_at));
      mark.textContent = at ? `${TEXT.keptFr} ${at} / ${TEXT.keptEn} ${at}` : '';
      mark.title = TEXT.keptTitle;
    } else if (a.state === 'pending') {
      mark.textContent = TEXT.sending;
      mark.title = TEXT.sendingTitle;
    } else {
      let fr = TEXT.notSaved;
      let en = TEXT.notSavedEn;
      if (typeof a.retry_in === 'number') {
        const due = (worst.autosaveWall || Date.now()) + a.retry_in * 1000;
        if (a.sending || Date.now() >= due) {
          fr += ` — ${TEXT.retryNowFr}`;
          en += ` — ${TEXT.retryNowEn}`;
        } else {
          const at = formatClockTime(new Date(due));
          fr += ` — ${TEXT.retryFr} ${at}`;
          en += ` — ${TEXT.retryEn} ${at}`;
        }
      }
      // Two lines (French, English): one would not fit beside the countdown.
      const frLine = document.createElement('span');
      frLine.lang = 'fr';
      frLine.textContent = fr;
      const enLine = document.createElement('span');
      enLine.lang = 'en';
      enLine.textContent = en;
      mark.replaceChildren(frLine, enLine);
      mark.title = (a.error ? `${a.error}\n` : '') + TEXT.notSavedHelp;
    }
  }

  /** Closed locally (countdown at 0) but the server still says "running". */
  _awaitingConfirmation() {
    for (const rec of this._exams.values()) {
      if (rec.closed && rec.closedBy === 'local' && rec.exam.state === 'running' &&
          rec.confirmPolls <= MAX_CONFIRM_POLLS) {
        return true;
      }
    }
    return false;
  }

  _update(data, receivedAt) {
    const exams = (data && Array.isArray(data.exams) && data.exams) || [];
    const serverNow = data && data.server_time ? Date.parse(data.server_time) : NaN;
    const seen = new Set();
    for (const exam of exams) {
      const path = normPath(exam && exam.path);
      if (!path) {
        continue;
      }
      seen.add(path);
      let rec = this._exams.get(path);
      if (!rec) {
        rec = {
          path,
          exam,
          secondsAtReceipt: null,
          receivedAt,
          closed: false,
          closedBy: null,
          warned10: false,
          warned2: false,
          seenRunning: false,
          repolledAtZero: false,
          confirmPolls: 0
        };
        this._exams.set(path, rec);
      }
      rec.exam = exam;
      rec.receivedAt = receivedAt;
      let secs = typeof exam.seconds_left === 'number' ? exam.seconds_left : null;
      if (secs === null && exam.deadline && !isNaN(serverNow)) {
        const dl = Date.parse(exam.deadline);
        if (!isNaN(dl)) {
          secs = Math.max(0, (dl - serverNow) / 1000);
        }
      }
      rec.secondsAtReceipt = secs;

      if (exam.state === 'running') {
        rec.seenRunning = true;
        rec.repolledAtZero = false;
        if (rec.closed && rec.closedBy === 'local' &&
            secs !== null && secs > REOPEN_MARGIN_SECONDS) {
          // The server granted more time than our local countdown thought.
          this._reopenExam(rec);
        } else if (rec.closed && rec.closedBy === 'local') {
          rec.confirmPolls += 1;
        }
      } else if (exam.state === 'ended' || exam.state === 'submitted') {
        this._closeExam(rec, 'server');
      }
    }
    // Exams no longer listed: forget them unless we closed their documents.
    for (const [path, rec] of this._exams) {
      if (!seen.has(path) && !rec.closed) {
        this._exams.delete(path);
      }
    }
    this._sweep();
  }

  /* ---------------------------- ticking --------------------------- */

  _secondsLeft(rec) {
    if (rec.secondsAtReceipt === null) {
      return null;
    }
    const elapsed = (performance.now() - rec.receivedAt) / 1000;
    return Math.max(0, rec.secondsAtReceipt - elapsed);
  }

  _running() {
    const out = [];
    for (const rec of this._exams.values()) {
      if (rec.exam.state === 'running' && !rec.closed) {
        out.push(rec);
      }
    }
    return out;
  }

  /** The running exams with their time left, the one ending first first. */
  _runningByTimeLeft() {
    return this._running()
      .map(rec => ({ rec, left: this._secondsLeft(rec) }))
      .sort((a, b) => {
        const x = a.left === null ? Infinity : a.left;
        const y = b.left === null ? Infinity : b.left;
        return x - y;
      });
  }

  _tick() {
    for (const rec of this._running()) {
      const left = this._secondsLeft(rec);
      if (left === null) {
        continue;
      }
      if (left <= 0) {
        this._closeExam(rec, 'local');
        if (!rec.repolledAtZero) {
          rec.repolledAtZero = true;
          void this._poll(); // confirm with the server
        }
        continue;
      }
      this._maybeWarn(rec, left);
    }
    this._sweep();
    this._render();
  }

  _maybeWarn(rec, left) {
    if (left <= CRITICAL_SECONDS && !rec.warned2) {
      rec.warned2 = true;
      rec.warned10 = true;
      const m = Math.max(1, Math.ceil(left / 60));
      Notification.warning(
        `Il reste ${m} minute${m > 1 ? 's' : ''} ! Votre travail est enregistré automatiquement ; ` +
          `l'épreuve sera fermée à l'heure limite. / ` +
          `${m} minute${m > 1 ? 's' : ''} left! Your work is saved automatically; ` +
          'the exam will close at the deadline.',
        { autoClose: false }
      );
    } else if (left <= WARN_SECONDS && !rec.warned10) {
      rec.warned10 = true;
      const m = Math.max(1, Math.ceil(left / 60));
      Notification.warning(
        `Il reste ${m} minutes. Votre travail est enregistré automatiquement. / ` +
          `${m} minutes left. Your work is saved automatically.`,
        { autoClose: 20000 }
      );
    }
  }

  _render() {
    const node = this._clock.node;
    const running = this._runningByTimeLeft();

    node.classList.toggle(CLASS_OFFLINE, this._offline);
    node.classList.remove(CLASS_WARNING, CLASS_CRITICAL, CLASS_OVER);

    if (running.length > 0) {
      const { rec, left } = running[0];
      const end = formatDeadline(rec.exam.deadline);
      const remaining = left === null ? '–:––:––' : formatHMS(left);
      this._text.textContent =
        `⏱ ${remaining}` + (end ? ` · fin / end ${end}` : '');
      node.title = titleText(rec.exam);
      if (left !== null && left < CRITICAL_SECONDS) {
        node.classList.add(CLASS_CRITICAL);
      } else if (left !== null && left < WARN_SECONDS) {
        node.classList.add(CLASS_WARNING);
      }
      node.dataset.state = 'running';
      node.dataset.exam = rec.path;
      this._handInButton.hidden = false;
      this._handInButton.disabled = this._handingIn;
      this._handInButton.dataset.exam = rec.path;
      this._renderAutosave(running.map(x => x.rec));
      if (left !== null) {
        node.dataset.secondsLeft = String(Math.ceil(left));
      }
      this._clock.show();
      return;
    }

    this._handInButton.hidden = true;
    // No running exam: say "over" only for an exam that ended in this
    // session or whose documents we are keeping closed.
    const over = [...this._exams.values()].find(
      rec =>
        rec.closed &&
        (rec.seenRunning || this._hasLockedDocs(rec.path))
    );
    if (over) {
      this._text.textContent = `⏱ ${TEXT.over}`;
      node.title = titleText(over.exam);
      node.classList.add(CLASS_OVER);
      node.dataset.state = 'over';
      this._renderAutosave([]);
      node.dataset.exam = over.path;
      delete node.dataset.secondsLeft;
      this._clock.show();
      return;
    }

    this._text.textContent = '';
    this._renderAutosave([]);
    node.removeAttribute('title');
    delete node.dataset.state;
    delete node.dataset.exam;
    delete node.dataset.secondsLeft;
    this._clock.hide();
  }

  /* --------------------------- hand-in ---------------------------- */

  /**
   * The exam whose time ends first (or `chosen`): its open documents are saved, then a
   * dialog says what handing in does and how long the candidate still has;
   * only "Hand in" sends it (the learner's server hands the folder in,
   * confirmed). Cancel, Escape or closing the dialog hand in nothing.
   */
  async _handIn(chosen) {
    const running = this._runningByTimeLeft();
    if (running.length === 0 || this._handingIn) {
      return;
    }
    const rec = chosen || running[0].rec;
    this._handingIn = true;
    this._render();
    try {
      await this._saveExamDocuments(rec);
      const left = this._secondsLeft(rec);
      const remaining = left === null ? '' : formatHMS(left);
      const end = formatDeadline(rec.exam.deadline);
      const title = bilingual(rec.exam.title, rec.path, rec.path);
      const accepted = await askBilingual(
        TEXT.handInDialogTitle,
        `Vous rendez « ${title.fr} ». L'épreuve sera terminée : vous ne pourrez plus modifier vos réponses.` +
          (remaining ? ` Il vous reste ${remaining}` + (end ? ` (fin à ${end}).` : '.') : ''),
        `You are handing in "${title.en}". The exam will be over: you will not be able to change your answers.` +
          (remaining ? ` You have ${remaining} left` + (end ? ` (ends at ${end}).` : '.') : ''),
        TEXT.handInCancel,
        Dialog.warnButton({ label: TEXT.handInConfirm })
      );
      if (!accepted) {
        return;
      }
      await this._saveExamDocuments(rec); // (anything typed while the dialog was open)
      const [course, assignment] = rec.path.split('/');
      const url = URLExt.join(this._settings.baseUrl, HAND_IN_ENDPOINT, course, assignment);
      const response = await ServerConnection.makeRequest(url, { method: 'POST', body: '{}' }, this._settings);
      let data = {};
      try {
        data = await response.json();
      } catch (e) {
        data = {};
      }
      if (!response.ok) {
        throw new Error(data.message || `HTTP ${response.status}`);
      }
      const at = formatLocalTime(data.server_time);
      Notification.success(
        `${TEXT.handedInFr} ${at} / ${TEXT.handedInEn} ${at}. ` +
          `${TEXT.receipt} : ${String((data.receipt && data.receipt.chain) || '').slice(0, 16)}`,
        { autoClose: false }
      );
      await this._poll();
    } catch (err) {
      Notification.error(`${TEXT.handInFailed} : ${err.message || err}`, { autoClose: false });
    } finally {
      this._handingIn = false;
      this._render();
    }
  }

  /** Save the exam's open, changed documents (the hand-in sends what is on the server). */
  async _saveExamDocuments(rec) {
    const saves = [];
    for (const w of this._documentWidgets()) {
      const ctx = w.context;
      if (this._locks.has(w) || !isUnder(docPath(ctx), rec.path)) {
        continue;
      }
      if (ctx.isReady && ctx.model.dirty && !ctx.model.readOnly) {
        saves.push(ctx.save());
      }
    }
    if (saves.length > 0) {
      Notification.info(TEXT.handInSaving, { autoClose: 3000 });
      await Promise.all(saves);
    }
  }

  /* -------------------------- documents --------------------------- */

  _documentWidgets() {
    const out = [];
    const shell = this._app.shell;
    const areas = ['main', 'down'];
    for (const area of areas) {
      let it;
      try {
        it = shell.widgets ? shell.widgets(area) : null;
      } catch (e) {
        it = null;
      }
      if (!it) {
        continue;
      }
      for (const w of it) {
        if (w && !w.isDisposed && w.context && w.context.model &&
            typeof w.context.path === 'string') {
          out.push(w);
        }
      }
    }
    if (this._tracker) {
      this._tracker.forEach(w => {
        if (!w.isDisposed && !out.includes(w)) {
          out.push(w);
        }
      });
    }
    return out;
  }

  _hasLockedDocs(examPath) {
    for (const lock of this._locks.values()) {
      if (lock.examPath === examPath) {
        return true;
      }
    }
    return false;
  }

  _onDocumentOpened(widget) {
    if (!widget || !widget.context) {
      return;
    }
    const apply = () => {
      if (!widget.isDisposed) {
        this._watchSaves(widget);
        this._sweep();
      }
    };
    apply();
    widget.context.ready.then(apply, () => undefined);
  }

  _autosave() {
    const running = this._running();
    if (running.length === 0) {
      return;
    }
    for (const w of this._documentWidgets()) {
      this._watchSaves(w);
      if (this._locks.has(w)) {
        continue;
      }
      const ctx = w.context;
      const path = docPath(ctx);
      if (!running.some(rec => isUnder(path, rec.path))) {
        continue;
      }
      if (!ctx.isReady || !ctx.model.dirty || ctx.model.readOnly) {
        continue;
      }
      ctx.save().catch(err => {
        console.warn('[tremplin exam-clock] autosave failed:', path, err);
      });
    }
  }

  /** Lock every open document of a closed exam (idempotent). */
  _sweep() {
    const closed = [...this._exams.values()].filter(rec => rec.closed);
    for (const [w, lock] of this._locks) {
      if (w.isDisposed) {
        this._locks.delete(w);
      } else {
        this._lockCells(lock); // catch cells added since
      }
    }
    if (closed.length === 0) {
      return;
    }
    for (const w of this._documentWidgets()) {
      const path = docPath(w.context);
      const rec = closed.find(r => isUnder(path, r.path));
      if (rec) {
        this._lockWidget(w, rec);
      }
    }
  }

  _closeExam(rec, by) {
    if (rec.closed) {
      if (by === 'server' && rec.closedBy !== 'server') {
        rec.closedBy = 'server';
        this._sweep(); // refreshes the banners with the server's reason/receipt
      }
      return;
    }
    rec.closed = true;
    rec.closedBy = by;
    this._sweep();
    this._render();
  }

  _reopenExam(rec) {
    rec.confirmPolls = 0;
    rec.closed = false;
    rec.closedBy = null;
    for (const [w, lock] of [...this._locks]) {
      if (lock.examPath === rec.path) {
        this._unlockWidget(w, lock);
      }
    }
  }

  _bannerContent(rec) {
    const reason = bilingual(
      rec.exam.closed_reason,
      TEXT.closedFallbackFr,
      TEXT.closedFallbackEn
    );
    const frag = document.createDocumentFragment();
    const fr = document.createElement('div');
    fr.className = 'tremplin-exam-closed-fr';
    fr.lang = 'fr';
    fr.textContent = reason.fr;
    const en = document.createElement('div');
    en.className = 'tremplin-exam-closed-en';
    en.lang = 'en';
    en.textContent = reason.en;
    frag.appendChild(fr);
    frag.appendChild(en);
    const receipt = rec.exam.receipt;
    const chain = receipt && receipt.chain;
    if (chain) {
      // When, in the candidate's own time zone (as the countdown), and the receipt.
      const at = formatLocalTime(receipt.server_time);
      const r = document.createElement('div');
      r.className = 'tremplin-exam-receipt';
      r.textContent = (at ? `${TEXT.handedInFr} ${at} / ${TEXT.handedInEn} ${at} · ` : '') +
        `${TEXT.receipt} : ${String(chain).slice(0, 16)}`;
      r.title = String(chain);
      frag.appendChild(r);
    }
    return frag;
  }

  _lockWidget(w, rec) {
    const existing = this._locks.get(w);
    if (existing) {
      // Keep the banner text in step with the latest server data.
      const sig = JSON.stringify([rec.exam.closed_reason, rec.exam.receipt]);
      if (existing.sig !== sig) {
        existing.sig = sig;
        existing.banner.setKind(rec.exam.receipt ? 'done' : 'pending');
        existing.banner.setContent(this._bannerContent(rec));
      }
      return;
    }
    const ctx = w.context;
    const banner = new Banner();
    banner.setKind(rec.exam.receipt ? 'done' : 'pending');
    banner.setContent(this._bannerContent(rec));

    const lock = {
      examPath: rec.path,
      banner,
      sig: JSON.stringify([rec.exam.closed_reason, rec.exam.receipt]),
      widget: w,
      modelReadOnly: ctx.model.readOnly,
      cells: new Map(),
      editorReadOnly: undefined,
      cellsSlot: null,
      stateSlot: null
    };
    this._locks.set(w, lock);

    // 1. Banner at the top of the panel.
    if (w.contentHeader && typeof w.contentHeader.insertWidget === 'function') {
      w.contentHeader.insertWidget(0, banner);
    } else {
      w.node.insertBefore(banner.node, w.node.firstChild);
    }
    w.addClass(CLASS_LOCKED_DOC);

    // 2. One last save of unsaved work while the service still keeps autosaves
    //    (it does during the grace period), then no more saves (neither ours,
    //    nor JupyterLab's autosave, nor Ctrl+S). Context.save() is shadowed on
    //    the instance; unlocking deletes it.
    if (ctx.model.dirty && rec.exam.saving !== false) {
      ctx.save().catch(err => {
        console.warn('[tremplin exam-clock] last save failed:', rec.path, err);
      });
    }
    ctx.save = () => Promise.resolve();
    ctx.model.readOnly = true;

    // 3. Read-only content.
    const nb = notebookOf(w);
    if (nb) {
      if (nb.mode === 'edit') {
        nb.mode = 'command';
      }
      lock.cellsSlot = () => window.setTimeout(() => this._lockCells(lock), 0);
      nb.model.cells.changed.connect(lock.cellsSlot);
      this._lockCells(lock);
    } else if (w.content && w.content.editor &&
               typeof w.content.editor.setOption === 'function') {
      lock.editorReadOnly = w.content.editor.getOption('readOnly');
      w.content.editor.setOption('readOnly', true);
    }
    // Nothing will be saved any more: do not nag about unsaved changes
    // (closing the tab, leaving the page), now or later (e.g. new outputs).
    lock.stateSlot = (model, change) => {
      if (change.name === 'dirty' && change.newValue && this._locks.get(w) === lock) {
        window.setTimeout(() => {
          if (this._locks.get(w) === lock && !ctx.isDisposed) {
            ctx.model.dirty = false;
          }
        }, 0);
      }
    };
    ctx.model.stateChanged.connect(lock.stateSlot);
    if (ctx.model.dirty) {
      ctx.model.dirty = false;
    }
    w.disposed.connect(() => this._locks.delete(w));
  }

  _lockCells(lock) {
    const nb = notebookOf(lock.widget);
    if (!nb || lock.widget.isDisposed) {
      return;
    }
    for (const cell of nb.widgets) {
      if (!lock.cells.has(cell)) {
        lock.cells.set(cell, {
          readOnly: cell.readOnly,
          syncEditable: cell.syncEditable,
          showEditor:
            'showEditorForReadOnly' in cell ? cell.showEditorForReadOnly : undefined
        });
      }
      // Do not write `editable: false` into the notebook metadata: the lock is
      // a view state, the document itself stays as handed in.
      if (cell.syncEditable) {
        cell.syncEditable = false;
      }
      if (cell.model && cell.model.type === 'markdown' &&
          'showEditorForReadOnly' in cell) {
        cell.showEditorForReadOnly = false;
        if (!cell.rendered) {
          cell.rendered = true;
        }
      }
      if (!cell.readOnly) {
        cell.readOnly = true;
      }
    }
  }

  _unlockWidget(w, lock) {
    this._locks.delete(w);
    if (w.isDisposed) {
      return;
    }
    const ctx = w.context;
    lock.banner.dispose();
    w.removeClass(CLASS_LOCKED_DOC);
    delete ctx.save; // back to Context.prototype.save
    if (lock.stateSlot) {
      ctx.model.stateChanged.disconnect(lock.stateSlot);
    }
    ctx.model.readOnly = lock.modelReadOnly;
    const nb = notebookOf(w);
    if (nb) {
      if (lock.cellsSlot) {
        nb.model.cells.changed.disconnect(lock.cellsSlot);
      }
      for (const cell of nb.widgets) {
        const prev = lock.cells.get(cell);
        if (!prev) {
          continue; // never touched by the lock
        }
        if (prev.showEditor !== undefined) {
          cell.showEditorForReadOnly = prev.showEditor;
        }
        cell.readOnly = prev.readOnly;
        if (prev.syncEditable) {
          cell.syncEditable = prev.syncEditable; // reloads `editable` metadata
        }
      }
    } else if (w.content && w.content.editor &&
               typeof w.content.editor.setOption === 'function') {
      w.content.editor.setOption('readOnly', lock.editorReadOnly || false);
    }
  }
}

const plugin = {
  id: PLUGIN_ID,
  description:
    'Compte à rebours des épreuves chronométrées / Timed-exam countdown (Tremplin).',
  autoStart: true,
  requires: [],
  optional: [INotebookTracker, IDocumentWidgetOpener],
  activate: (app, tracker, opener) => {
    const clock = new ExamClock(app, tracker || null, opener || null);
    clock.start();
    return undefined;
  }
};

export default plugin;
