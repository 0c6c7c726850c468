"""The running hub's REST API, as the hub machine's command line reaches it (with the sync token).

Plain ``urllib`` rather than ``requests``: ``tremplin export`` asks the hub at most once per
granted group, and importing ``requests`` would cost it more than the asking.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from .exam.errors import Unavailable
from .hubconfig import sync_token
from .layout import Layout


def group_members(layout: Layout, timeout: float = 10.0) -> Callable[[str], set[str]]:
    """``members_of(group)``: the accounts in a hub group, asked of the hub this data directory runs.

    Raises (when called):
        Unavailable: the hub is not running or does not answer.
    """

    # Read now, by the caller's account (root): the hub's folder is root's alone, and the export
    # that asks may run as the exam service's account by then.
    api = layout.hub_api_file.read_text().strip() if layout.hub_api_file.exists() else None
    token = sync_token(layout) if api else None

    def members_of(group: str) -> set[str]:
        if not api:
            raise Unavailable(f"an accommodation was granted to group {group!r}, and only the running hub knows who "
                              f"is in it: start the hub (make run) and export again")
        request = urllib.request.Request(f"{api}/groups/{urllib.parse.quote(group, safe='')}",
                                         headers={"Authorization": f"token {token}"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:
                return set(json.load(r).get("users", []))
        except urllib.error.HTTPError as exc:
            exc.close()  # (it holds the answer's socket)
            if exc.code == 404:
                return set()
            raise Unavailable(f"the hub at {api} refused to say who is in group {group!r}: HTTP {exc.code}") from None
        except (OSError, ValueError) as exc:  # (URLError, timeouts and refused connections are OSErrors)
            raise Unavailable(f"an accommodation was granted to group {group!r}, and only the running hub knows who "
                              f"is in it; the hub at {api} did not answer ({type(exc).__name__}): start it (make run) "
                              "and export again") from None

    return members_of
