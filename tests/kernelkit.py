"""Run code in a real kernel of a learner's real Jupyter server, over its REST API and websocket."""

from __future__ import annotations

import asyncio
import json
import uuid

import requests
import asynckit


def start_kernel(http: requests.Session, server: str) -> str:
    r = http.post(f"{server}/api/kernels", json={"name": "python3"})
    r.raise_for_status()
    return r.json()["id"]


def execute(http: requests.Session, server: str, kernel: str, code: str, timeout: float = 60) -> dict:
    """``{"status": ok|error|died, "stdout": ..., "error": ...}`` of running ``code`` in ``kernel``."""
    return asynckit.run(_execute(http, server, kernel, code, timeout))


async def _execute(http, server, kernel, code, timeout) -> dict:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    url = server.replace("http://", "ws://", 1) + f"/api/kernels/{kernel}/channels"
    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": http.headers["Authorization"]}))
    msg_id = uuid.uuid4().hex
    ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": uuid.uuid4().hex,
                   "date": "", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    out = {"status": "", "stdout": "", "error": ""}
    idle = False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while loop.time() < deadline:
            try:
                raw = await asyncio.wait_for(ws.read_message(), deadline - loop.time())
            except asyncio.TimeoutError:
                break
            if raw is None:
                out["status"] = out["status"] or "died"
                break
            msg = json.loads(raw)
            if msg["msg_type"] == "status" and msg["content"].get("execution_state") in ("dead", "restarting"):
                out["status"] = "died"  # (the server says so with no parent: the kernel process is gone)
                break
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out["stdout"] += content.get("text", "")
            elif kind == "error":
                out["error"] = f"{content.get('ename')}: {content.get('evalue')}"
            elif kind == "execute_reply":
                out["status"] = content["status"]
            elif kind == "status" and content.get("execution_state") in ("dead", "restarting"):
                out["status"] = "died"
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
            # Done when both the reply (shell channel) and the idle status (iopub) came, in either order:
            # they travel on different channels.
            if out["status"] and idle:
                break
            if out["status"] == "died":
                break
    finally:
        stream = getattr(ws.protocol, "stream", None)  # (before close(), which forgets the protocol)
        ws.close()
        if stream is not None:  # (tornado waits for the server's closing frame, which never comes once the
            stream.close()      # loop ends: the socket would be left to the collector)
    return out
