"""Bounded, time-stamped histories: sensor values and named policy histories."""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Iterator
from typing import Any

__all__ = ["NamedHistory", "SensorHistory"]


class SensorHistory:
    """A ring buffer of ``(time, value)`` pairs, oldest first.

    Numbers are kept in two ``array('d')`` columns (16 bytes a point) so that
    ten thousand entities with a few sensors each stay cheap; other values in a
    deque. ``None`` (unknown) is kept as NaN in the numeric columns.
    """

    __slots__ = ("_cap", "_len", "_objects", "_start", "_times", "_values")

    def __init__(self, capacity: int, *, numeric: bool) -> None:
        self._cap = max(0, capacity)
        self._len = 0
        self._start = 0
        self._times: array[float] | None = array("d", bytes(8 * self._cap)) if numeric and self._cap else None
        self._values: array[float] | None = array("d", bytes(8 * self._cap)) if numeric and self._cap else None
        self._objects: deque[tuple[float, Any]] | None = None if numeric else deque(maxlen=self._cap)

    @property
    def capacity(self) -> int:
        """How many points the buffer holds at most."""
        return self._cap

    def __len__(self) -> int:
        return len(self._objects) if self._objects is not None else self._len

    def append(self, time: float, value: Any) -> None:
        """Add a point, dropping the oldest when full."""
        if self._cap == 0:
            return
        if self._objects is not None:
            self._objects.append((time, value))
            return
        assert self._times is not None and self._values is not None
        idx = (self._start + self._len) % self._cap
        self._times[idx] = time
        self._values[idx] = float("nan") if value is None else float(value)
        if self._len < self._cap:
            self._len += 1
        else:
            self._start = (self._start + 1) % self._cap

    def __iter__(self) -> Iterator[tuple[float, Any]]:
        if self._objects is not None:
            yield from self._objects
            return
        assert self._times is not None and self._values is not None
        for i in range(self._len):
            idx = (self._start + i) % self._cap
            v = self._values[idx]
            yield self._times[idx], (None if math.isnan(v) else v)

    def since(self, start: float) -> list[tuple[float, Any]]:
        """Points with ``time >= start``, oldest first."""
        return [p for p in self if p[0] >= start]


class NamedHistory:
    """A policy history: records with a ``time`` field, oldest first, trimmed by age and count."""

    __slots__ = ("_records", "max_records")

    def __init__(self, records: list[dict[str, Any]] | None = None, *, max_records: int = 10_000) -> None:
        self.max_records = max_records
        self._records: deque[dict[str, Any]] = deque(records or (), maxlen=max_records)

    def append(self, record: dict[str, Any]) -> None:
        """Add a record (it must carry ``time``)."""
        self._records.append(record)

    def trim(self, oldest: float) -> None:
        """Drop records older than ``oldest``, keeping the newest one at or before it.

        Windows read "the latest value at or before now - W", so the last record
        before the cut still matters and is kept.
        """
        recs = self._records
        while len(recs) >= 2 and recs[1]["time"] <= oldest:
            recs.popleft()

    def records(self) -> list[dict[str, Any]]:
        """A copy of the records, oldest first."""
        return list(self._records)

    def __len__(self) -> int:
        return len(self._records)
