"""Run notebook cells as a Jupyter kernel would, and keep what they show as nbformat outputs.

Both sides of grading run cells with :class:`CellShell`: the sandbox runs the candidate's
cells, the judge runs the author's test cells. It is IPython's own ``InteractiveShell``
(magics, the last expression displayed, ``display()``, sympy's ``init_printing``), with the
parts a kernel sends over ZeroMQ turned into output dicts: ``stream``, ``execute_result``,
``display_data`` and ``error``, exactly the shapes nbgrader reads to score a test cell
(an error or anything on stderr: no points; a number as the last result: partial credit).

Differences from ipykernel, on purpose:

* only the ``text/plain`` form of results and displays is kept (the candidate's HTML or
  LaTeX never reaches a professor's page);
* tracebacks are plain Python tracebacks (IPython's coloured ones cost 20 ms each);
* every output is capped (:attr:`CellShell.output_limit` characters per cell);
* a cell can be given a time limit, raised inside it as :class:`CellTimeout`, and raised
  again at the candidate's next line when Python swallowed it (see :func:`_raise_at_next_line`).
"""

from __future__ import annotations

import signal
import sys
import traceback

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

TRUNCATED = "\n… [output truncated / sortie tronquée]\n"


class CellTimeout(BaseException):
    """A cell ran longer than its limit (a BaseException, so ``except Exception`` does not swallow it)."""


#: The file name IPython gives a cell's code (``<ipython-input-3-5c1d…>``).
CELL_CODE = "<ipython-input-"


def _raise_at_next_line(frame, error: BaseException, candidate_code: tuple[str, ...]) -> None:
    """Make the next line of the candidate's code (files named ``candidate_code…``) raise ``error``.

    A signal handler's exception is only printed, then lost, where Python runs code it cannot
    raise from: ``os.fork``'s at-fork hooks (where a fork bomb spends nearly all its time),
    finalizers, weakref callbacks. So the handler also traces every running frame, and the
    first line of the candidate's own code raises. Raising from a trace function turns tracing
    off, and the shell turns it off once the cell is over, so code pays nothing before a time
    limit and little after.
    """
    def tracer(f, event, arg):
        if event == "line" and f.f_code.co_filename.startswith(candidate_code):
            raise error
        return tracer

    while frame is not None:
        frame.f_trace = tracer
        frame = frame.f_back
    sys.settrace(tracer)


class _Capture:
    """The outputs of the cell being run, capped in size."""

    def __init__(self, limit: int):
        self.outputs: list[dict] = []
        self.left = limit
        self.truncated = False

    def _take(self, text: str) -> str:
        if self.left <= 0:
            self.truncated = True
            return ""
        if len(text) > self.left:
            self.truncated = True
            text = text[:self.left] + TRUNCATED
        self.left -= len(text)
        return text

    def stream(self, name: str, text: str) -> None:
        text = self._take(text)
        if not text:
            return
        last = self.outputs[-1] if self.outputs else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def data(self, output_type: str, format_dict: dict, execution_count: int | None = None) -> None:
        plain = format_dict.get("text/plain")
        text = self._take(plain if isinstance(plain, str) else repr(plain))
        out = {"output_type": output_type, "data": {"text/plain": text}, "metadata": {}}
        if output_type == "execute_result":
            out["execution_count"] = execution_count
        self.outputs.append(out)

    def error(self, ename: str, evalue: str, lines: list[str]) -> None:
        ename, evalue = ename[:200], self._take(evalue) if evalue else ""
        self.outputs.append({"output_type": "error", "ename": ename, "evalue": evalue,
                             "traceback": [self._take(line) for line in lines]})


class _Stream:
    """``sys.stdout`` / ``sys.stderr`` while a cell runs."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, shell: "CellShell", name: str):
        self.shell, self.name = shell, name

    def write(self, text) -> int:
        text = str(text)
        if self.shell.capture is not None:
            self.shell.capture.stream(self.name, text)
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError("this stream has no file descriptor")


class _DisplayHook(DisplayHook):
    def write_output_prompt(self):
        pass

    def write_format_data(self, format_dict, md_dict=None):
        if self.shell.capture is not None:
            self.shell.capture.data("execute_result", format_dict, self.shell.execution_count)

    def finish_displayhook(self):
        self._is_active = False

    def flush(self):
        """IPython's flush, without its ``gc.collect()`` (a second per reset in a process holding sympy)."""
        for n in range(1, self.prompt_count + 1):
            self.shell.user_ns_hidden.pop(f"_{n}", None)
            self.shell.user_ns.pop(f"_{n}", None)
        outputs = self.shell.user_ns.get("_oh", None)
        if outputs is not None:
            outputs.clear()
        self._, self.__, self.___ = "", "", ""


class _DisplayPublisher(DisplayPublisher):
    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        if self.shell.capture is not None and isinstance(data, dict):
            self.shell.capture.data("display_data", data)

    def clear_output(self, wait=False):
        pass


class CellShell(InteractiveShell):
    """An in-process IPython shell whose cells give nbformat outputs (see the module docstring)."""

    displayhook_class = _DisplayHook
    display_pub_class = _DisplayPublisher

    def __init__(self, **kwargs):
        kwargs.setdefault("colors", "nocolor")
        super().__init__(**kwargs)
        self.capture: _Capture | None = None
        # only text/plain is kept: do not compute LaTeX, HTML or PNG forms (sympy's printing makes PNGs)
        self.display_formatter.active_types = ["text/plain"]
        self.output_limit = 100_000
        self.timed_out = False
        self._last_truncated = False
        self.candidate_code: tuple[str, ...] = (CELL_CODE,)  # where a time limit must land (see _raise_at_next_line)

    def init_history(self):
        from IPython.core.history import HistoryManager

        self.history_manager = HistoryManager(shell=self, parent=self, enabled=False)

    # ---- errors as outputs -------------------------------------------------------------------
    def showtraceback(self, exc_tuple=None, filename=None, tb_offset=None, exception_only=False,
                      running_compiled_code=False):
        try:
            etype, value, tb = self._get_exc_info(exc_tuple)
        except ValueError:
            return
        if tb is not None and tb.tb_next is not None and not issubclass(etype, SyntaxError):
            tb = tb.tb_next  # the frame of the shell's own exec
        lines = traceback.format_exception(etype, value, tb, limit=-20)
        self._record_error(etype, value, lines)

    def showsyntaxerror(self, filename=None, running_compiled_code=False):
        etype, value, _tb = self._get_exc_info()
        self._record_error(etype, value, traceback.format_exception_only(etype, value))

    def showindentationerror(self):
        self.showsyntaxerror()

    def _format_exception_for_storage(self, exception, filename=None, running_compiled_code=False):
        # (history is off: IPython would format a coloured traceback only to keep it)
        return {"ename": type(exception).__name__, "evalue": str(exception), "traceback": []}

    def _record_error(self, etype, value, lines) -> None:
        if self.capture is None:
            return
        try:
            text = str(value)
        except Exception:  # a candidate's exception whose __str__ raises
            text = "(unprintable)"
        self.capture.error(getattr(etype, "__name__", "Error"), text, [line.rstrip("\n") for line in lines])

    # ---- running -----------------------------------------------------------------------------
    def _captured(self, work, timeout: float | None, what: str):
        """Run ``work()`` with the streams captured and an optional time limit."""
        self.capture = _Capture(self.output_limit)
        self.timed_out = False
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Stream(self, "stdout"), _Stream(self, "stderr")
        previous = None
        if timeout:
            def on_alarm(signum, frame):
                self.timed_out = True
                signal.setitimer(signal.ITIMER_REAL, 1.0)  # again, if the code swallows it
                error = CellTimeout(f"{what} ran longer than {timeout:g} s")
                _raise_at_next_line(frame, error, self.candidate_code)
                raise error

            previous = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            result = work()
        finally:
            if timeout:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous or signal.SIG_DFL)
                if self.timed_out:
                    sys.settrace(None)
            sys.stdout, sys.stderr = saved
            capture, self.capture = self.capture, None
            self._last_truncated = capture.truncated
        return result, capture.outputs, self.timed_out

    def run(self, source: str, timeout: float | None = None) -> tuple[list[dict], bool]:
        """Run one cell; return its outputs and whether its time limit stopped it."""
        _, outputs, timed_out = self._captured(lambda: self.run_cell(source, store_history=True, silent=False),
                                               timeout, "the cell")
        return outputs, timed_out

    @property
    def truncated(self) -> bool:
        """Whether the last cell or call printed more than :attr:`output_limit` (cut)."""
        return self._last_truncated

    def call(self, func, args, kwargs, timeout: float | None = None):
        """``func(*args, **kwargs)`` with captured output: ``(value, exception or None, outputs, timed_out)``."""
        box = {}

        def work():
            try:
                box["value"] = func(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 (SystemExit, CellTimeout: all go back as errors)
                box["error"] = exc

        _, outputs, timed_out = self._captured(work, timeout, "the call")
        return box.get("value"), box.get("error"), outputs, timed_out


def new_shell() -> CellShell:
    """The process's shell (``get_ipython()`` returns it, as sympy's ``init_printing`` expects)."""
    return CellShell.instance()
