"""Pages drawn once and served many times.

A page of tables and charts over a published set takes tens of milliseconds to draw and is the
same for every reader with the same role and scope, at the same data version; only the signed-in
name and the form token differ. A page is therefore drawn with stand-ins for those two, kept
(by its key: data version, page, filters, the CSPs the reader may not see, role), and each
request gets a copy with its own name and token put in. The stand-ins are random for each
process, so no figure, name or file in the data can hold one.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import replace

from markupsafe import escape

from svduty.web.accounts import User

BUDGET = 256 * 2**20
"""Characters of drawn pages kept in memory at most (the least recently read go first)."""
NAME_SLOT = f"svdutyname{secrets.token_hex(16)}"
TOKEN_SLOT = f"svdutytoken{secrets.token_hex(16)}"


def stand_in(user: User) -> User:
    """The user as a page to be kept is drawn for: their role, a stand-in for their name."""
    return replace(user, name=NAME_SLOT)


def personal(body: str, name: str, token: str) -> str:
    """A kept page with the reader's name and form token in place of the stand-ins."""
    return body.replace(NAME_SLOT, str(escape(name))).replace(TOKEN_SLOT, str(escape(token)))


class Bodies:
    """Drawn pages by key, least recently read dropped past the budget."""

    def __init__(self, budget: int = BUDGET) -> None:
        self.budget = budget
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, str] = OrderedDict()
        self._size = 0

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            body = self._kept.get(key)
            if body is not None:
                self._kept.move_to_end(key)
            return body

    def put(self, key: Hashable, body: str) -> None:
        if len(body) > self.budget:
            return
        with self._lock:
            old = self._kept.pop(key, None)
            self._size -= len(old) if old is not None else 0
            self._kept[key] = body
            self._size += len(body)
            while self._size > self.budget:
                _, dropped = self._kept.popitem(last=False)
                self._size -= len(dropped)

    def __len__(self) -> int:
        return len(self._kept)
