"""A kernel started with the learner's server, for the first notebook they open.

At an exam's opening a hundred candidates open their notebook in the same minute, and each opening
starts a Python kernel: about a second of CPU each, on a machine of two cores. A server started
ahead of the window (``tremplin-prestart`` asks for it with ``{"warm_kernel": true}``, which the
spawner passes as ``TREMPLIN_WARM_KERNEL=1``) starts one kernel of the default kind as soon as it
is up, in the learner's home. The first notebook session that asks for that kind of kernel gets
it, moved to the notebook's folder (``os.chdir`` run silently: no execution count, no history);
every other kernel starts as usual. Nothing else is started ahead, and no second kernel is kept
waiting. Jupyter Kernel Gateway's ``prespawn_count`` does the same for its own API.
"""

from __future__ import annotations

import asyncio
import os
import queue

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Bool, default

#: Seconds the kernel has to take the notebook's folder before it is left and a new one started.
MOVE_TIMEOUT_S = 30


class WarmKernelManager(AsyncMappingKernelManager):
    """jupyter_server's kernel manager, with one kernel started ahead (:attr:`warm_kernel`)."""

    warm_kernel = Bool(help="Start one kernel of the default kind with the server, for the first notebook opened "
                            "(default: $TREMPLIN_WARM_KERNEL is 1).").tag(config=True)

    @default("warm_kernel")
    def _warm_kernel_default(self):
        return os.environ.get("TREMPLIN_WARM_KERNEL") == "1"

    _warm_task: asyncio.Task | None = None

    def start_warm(self) -> None:
        """On the server's event loop, once it runs: start the kernel ahead (when asked for)."""
        if self.warm_kernel and self._warm_task is None:
            self._warm_task = asyncio.ensure_future(super().start_kernel(kernel_name=self.default_kernel_name))
            self.log.info("Tremplin: a %s kernel starts ahead, for the first notebook opened", self.default_kernel_name)

    async def start_kernel(self, *, kernel_id=None, path=None, **kwargs):
        task, self._warm_task = self._warm_task, None
        wanted = kwargs.get("kernel_name") or self.default_kernel_name
        if task is not None and kernel_id is None and wanted == self.default_kernel_name:
            try:
                warm = await task
            except Exception as exc:  # (it failed to start: start one the usual way, which says why if it fails too)
                self.log.warning("Tremplin: the kernel started ahead did not start (%s); starting another", exc)
            else:
                if warm in self and (path is None or await self._move(warm, self.cwd_for_path(path))):
                    self.log.info("Tremplin: kernel %s, started ahead, given to %s", warm, path)
                    return warm
                await self.shutdown_kernel(warm, now=True)
        elif task is not None:
            self._warm_task = task  # (another kind of kernel: the one ahead waits for its notebook)
        return await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)

    async def _move(self, kernel_id: str, folder: str) -> bool:
        """Run ``os.chdir(folder)`` in the kernel without a trace in the notebook; False if it did not answer."""
        client = self.get_kernel(kernel_id).client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=MOVE_TIMEOUT_S)
            msg_id = client.execute(f"__import__('os').chdir({folder!r})", silent=True, store_history=False)
            deadline = asyncio.get_running_loop().time() + MOVE_TIMEOUT_S
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                reply = await client.get_shell_msg(timeout=left)
                if reply["parent_header"].get("msg_id") == msg_id:
                    return reply["content"].get("status") == "ok"
        except (RuntimeError, TimeoutError, asyncio.TimeoutError, queue.Empty) as exc:
            self.log.warning("Tremplin: the kernel started ahead did not take %s (%s)", folder, exc)
        finally:
            client.stop_channels()
        return False
