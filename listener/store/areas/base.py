"""What every area object holds: the store whose transactions it opens."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from listener.store.store import Store


class Area:
    """One part of the store's surface; methods open their own short transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store
