"""The grading engine's door: a Unix socket that takes tasks and answers results.

One connection carries one task. The caller is identified by the socket's peer credentials
(set by the kernel, not by the caller): ``authorize(uid, course)`` decides whether that
account may have papers of that course graded (root, or the course's grader account). A task
is checked for its shape and size before it reaches a worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from typing import Callable

from ..sandbox import wire

log = logging.getLogger("tremplin.grading")
MAX_TASK = 256 * 1024 * 1024


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


def check_task(task) -> str:
    """Why ``task`` is not acceptable, or ``""``."""
    if not isinstance(task, dict):
        return "a task must be a JSON object"
    for key in ("course", "assignment", "notebook", "student"):
        if not isinstance(task.get(key), str) or not task[key] or len(task[key]) > 255:
            return f"the task's {key!r} must be a non-empty text"
    for side in ("sandbox", "judge"):
        part = task.get(side)
        if not isinstance(part, dict) or not isinstance(part.get("cells"), list) \
                or not all(isinstance(c, dict) and isinstance(c.get("source"), str) and isinstance(c.get("id"), str)
                           for c in part["cells"]) or not isinstance(part.get("files", {}), dict):
            return f"the task's {side!r} program is malformed"
    return ""


class EngineServer:
    """Serves ``engine.grade`` (blocking, run in threads) on the Unix socket ``path``."""

    def __init__(self, engine, path: str, authorize: Callable[[int, str], bool]):
        """``engine`` may be an awaitable (the engine still starting): callers then wait for it."""
        self.engine, self.path, self.authorize = engine, path, authorize
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.server = await asyncio.start_unix_server(self._serve, path=self.path, limit=1 << 20)
        os.chmod(self.path, 0o666)  # anyone may connect; peer credentials decide who is served

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        try:
            uid = peer_uid(sock)
            header = await asyncio.wait_for(reader.readexactly(wire.HEADER.size), 60)
            (length,) = wire.HEADER.unpack(header)
            if length > MAX_TASK:
                return await self._answer(writer, {"error": f"a task of {length} bytes is too large"})
            import json

            try:
                task = json.loads(await asyncio.wait_for(reader.readexactly(length), 300))
            except ValueError:
                return await self._answer(writer, {"error": "the task is not JSON"})
            problem = check_task(task)
            if problem:
                return await self._answer(writer, {"error": problem})
            if not self.authorize(uid, task["course"]):
                log.warning("uid %d may not have papers of %s graded; refused", uid, task["course"])
                return await self._answer(writer, {"error": f"uid {uid} may not grade course {task['course']}"})
            if not hasattr(self.engine, "grade"):  # listening already while the slots warm up
                try:
                    self.engine = await self.engine
                except Exception as exc:  # noqa: BLE001 (reported to the caller; the service's log has it)
                    return await self._answer(writer, {"error": f"the grading engine did not start: {exc}"})
            result = await asyncio.get_running_loop().run_in_executor(None, self.engine.grade, task)
            await self._answer(writer, {"result": result})
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, OSError) as exc:
            log.warning("grading connection dropped: %s", exc)
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, obj) -> None:
        writer.write(wire.dumps(obj))
        await writer.drain()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def main(argv=None) -> None:
    """Serve a local engine on a socket: ``python -m tremplin_grading.engine.service --socket PATH``.

    The hub's ``tremplin-grader`` service does this with the accounts it creates; this command
    is for running the engine by hand (tests, benchmarks). Ids are numeric: ``--sandbox-ids
    998:998,997:997`` (one per worker), ``--judge-id 996:996``, ``--allow-uid 0,1001``.
    """
    import argparse
    import signal

    from .local import EngineSettings, LocalEngine, source_pythonpath

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--sandbox-ids", default="")
    parser.add_argument("--judge-id", default="")
    parser.add_argument("--allow-uid", default="0")
    parser.add_argument("--dask-scheduler", default="", help="grade on this Dask cluster instead of local slots")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s")
    pair = lambda text: tuple(int(v) for v in text.split(":"))  # noqa: E731
    settings = EngineSettings(workers=args.workers,
                              sandbox_ids=tuple(pair(t) for t in args.sandbox_ids.split(",") if t),
                              judge_id=pair(args.judge_id) if args.judge_id else None,
                              pythonpath=source_pythonpath())
    allowed = {int(u) for u in args.allow_uid.split(",") if u}
    if args.dask_scheduler:
        from .dask import DaskEngine

        engine = DaskEngine(args.dask_scheduler)
    else:
        engine = LocalEngine(settings)

    async def serve():
        server = EngineServer(engine, args.socket, lambda uid, course: uid in allowed)
        await server.start()
        log.info("grading engine on %s with %d workers", args.socket, engine.capacity)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.close()

    try:
        asyncio.run(serve())
    finally:
        engine.close()


if __name__ == "__main__":
    main()
