"""A memory and process cap for a whole sandbox slot, with Linux cgroups when the machine offers them.

Per-process limits (:mod:`.limits`) stop one runaway process; a paper that forks up to its
process limit and fills memory in each would still add up. When the hub runs as root and
the kernel exposes the memory and pids controllers (cgroup v2, or v1 as on this project's
Debian machines), each slot's processes are put in ``tremplin/<slot>`` with a cap on both.
Elsewhere (containers without cgroup access) this does nothing and says so once in the log:
the per-process limits still hold.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("tremplin.sandbox")
ROOT = Path("/sys/fs/cgroup")
_warned = False


PERIOD_US = 100_000


def _write(path: Path, value, optional: bool = False) -> None:
    try:
        path.write_text(f"{value}\n")
    except (FileNotFoundError, PermissionError):
        if not optional:
            raise


def version() -> int:
    """2 (one hierarchy), 1 (one per controller) or 0 (no controllers to use)."""
    v2 = ROOT / "cgroup.controllers"
    if v2.exists() and {"memory", "pids"} <= set(v2.read_text().split()):
        return 2
    if (ROOT / "memory" / "cgroup.procs").exists() and (ROOT / "pids" / "cgroup.procs").exists():
        return 1
    return 0


def folders(parent: str, name: str) -> list[Path]:
    """The folders of the control group ``<parent>/<name>`` (one per controller with cgroup v1)."""
    v = version()
    if v == 2:
        return [ROOT / parent / name]
    if v == 1:
        return [ROOT / c / parent / name for c in ("memory", "pids", "cpu") if (ROOT / c / "cgroup.procs").exists()]
    return []


def prepare(parent: str, name: str, *, memory_bytes: int | None = None, processes: int | None = None,
            cpu_cores: float | None = None) -> list[Path]:
    """Create (or update) the control group ``<parent>/<name>`` with these caps (None: no cap); the
    folders a process joins (:func:`join`). The one rule for the grading sandbox's slots and learners'
    servers.

    Raises:
        OSError: the control groups cannot be written here (not root, none offered, read-only).
    """
    v = version()
    if v == 0:
        raise OSError("no cgroup memory and pids controllers on this machine")
    if v == 2:
        top = ROOT / parent
        top.mkdir(exist_ok=True)
        wanted = "+memory +pids" + (" +cpu" if cpu_cores else "")
        if cpu_cores:
            _write(ROOT / "cgroup.subtree_control", "+cpu", optional=True)
        _write(top / "cgroup.subtree_control", wanted)
        group = top / name
        group.mkdir(exist_ok=True)
        if memory_bytes:
            _write(group / "memory.max", memory_bytes)
            _write(group / "memory.swap.max", 0, optional=True)
        if processes:
            _write(group / "pids.max", processes)
        if cpu_cores:
            _write(group / "cpu.max", f"{int(cpu_cores * PERIOD_US)} {PERIOD_US}")
        return [group]
    out = []
    for group in folders(parent, name):
        controller = group.parent.parent.name
        if controller == "cpu" and not cpu_cores:
            continue
        group.mkdir(parents=True, exist_ok=True)
        if controller == "memory" and memory_bytes:
            _write(group / "memory.limit_in_bytes", memory_bytes)
            _write(group / "memory.memsw.limit_in_bytes", memory_bytes, optional=True)
        elif controller == "pids" and processes:
            _write(group / "pids.max", processes)
        elif controller == "cpu" and cpu_cores:
            _write(group / "cpu.cfs_period_us", PERIOD_US)
            _write(group / "cpu.cfs_quota_us", int(cpu_cores * PERIOD_US))
        out.append(group)
    return out


def join(groups: list[Path], pid: int) -> None:
    """Move ``pid`` (and its future children) into ``groups``."""
    for group in groups:
        _write(group / "cgroup.procs", pid)


def members(groups: list[Path]) -> set[int]:
    """The processes in ``groups``."""
    out: set[int] = set()
    for group in groups:
        try:
            out.update(int(p) for p in (group / "cgroup.procs").read_text().split())
        except OSError:
            pass
    return out


def confine(name: str, pid: int, memory_mib: int, processes: int) -> bool:
    """Put ``pid`` (and its future children) in the cgroup ``tremplin/<name>``; False if not possible."""
    global _warned
    try:
        join(prepare("tremplin", name, memory_bytes=memory_mib * 1024 * 1024, processes=processes), pid)
        return True
    except OSError as exc:
        if not _warned:
            log.warning("sandbox slots are not capped by cgroups here (%s); per-process limits still apply", exc)
            _warned = True
        return False
