"""Limits on one paper in the sandbox, with their defaults, and their application to the process.

Two kinds of limits stop a paper that runs away, and neither needs the paper's cooperation:

* per process (``setrlimit`` in the forked child): CPU seconds, address space, processes of
  the slot's uid, file size, open files, no core files, no POSIX message queues;
* per paper (enforced by the slot's server, which is PID 1 of the sandbox): wall time, after
  which every process of the sandbox is killed.

A cell's own time limit (:attr:`Limits.cell_seconds`) is softer: it interrupts the cell inside
the candidate's process, as a kernel interrupt would, and the next cells still run. A
candidate who blocks it meets the wall time.
"""

from __future__ import annotations

import math
import resource
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Limits:
    """Everything a paper may use. Times in seconds, sizes in MiB or characters."""

    cell_seconds: float = 10.0       # one cell (then the next cell runs)
    call_seconds: float = 5.0        # one call of a candidate's function by a test
    wall_seconds: float = 60.0       # the whole paper, hard: every process is killed
    cpu_seconds: int = 60            # CPU time of each process
    memory_mib: int = 1024           # address space above what the warm server already maps
    processes: int = 32              # processes and threads of the slot's uid
    file_mib: int = 16               # largest file written
    open_files: int = 256
    output_chars: int = 100_000      # what one cell (or one call) may print, kept
    channel_mib: int = 32            # everything the paper may send to the judge

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise ValueError(f"sandbox limit {f.name}={value!r}: give a positive finite number")
        if self.wall_seconds < self.cell_seconds:
            raise ValueError(f"sandbox limit wall_seconds={self.wall_seconds} is shorter than cell_seconds="
                             f"{self.cell_seconds}; a paper must be allowed at least one whole cell")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Limits":
        if not isinstance(data, dict):
            raise ValueError("limits must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown sandbox limits: {', '.join(sorted(unknown))}")
        return cls(**data)


def vm_size() -> int:
    """This process's mapped address space, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def apply_to_child(limits: Limits, base_vm: int) -> None:
    """Set the per-process limits of a paper's first process (its children inherit them)."""
    mib = 1024 * 1024

    def cap(which, soft, hard=None):
        hard = soft if hard is None else hard
        resource.setrlimit(which, (int(soft), int(hard)))

    cap(resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1)
    cap(resource.RLIMIT_AS, base_vm + limits.memory_mib * mib)
    cap(resource.RLIMIT_NPROC, limits.processes)
    cap(resource.RLIMIT_FSIZE, limits.file_mib * mib)
    cap(resource.RLIMIT_NOFILE, limits.open_files)
    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_MSGQUEUE, 0)
