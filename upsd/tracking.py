"""Status tracking of SET VAR / INSTCMD (server/upsd.c tracking_*, nut_uuid_v4).

NUT builds its ids from C rand() without ever seeding it, so the ids a fresh upsd hands out are the same
on every start.  pnut reproduces glibc's rand() exactly, so a transcript from our upsd matches one from
NUT's byte for byte, ids included.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# Driver return codes (STAT_INSTCMD_* / STAT_SET_*) and what GET TRACKING says for each
PENDING = -1
RESULTS = {0: "SUCCESS", 1: "ERR UNKNOWN", 2: "ERR INVALID-ARGUMENT", 3: "ERR FAILED"}


class GlibcRand:
    """glibc's random()/rand() (TYPE_3 additive feedback generator), default seed 1."""

    def __init__(self, seed: int = 1) -> None:
        r = [0] * 34
        r[0] = seed & 0xFFFFFFFF or 1
        for i in range(1, 31):
            hi, lo = divmod(r[i - 1] if r[i - 1] < 0x80000000 else r[i - 1] - 0x100000000, 127773)
            word = 16807 * lo - 2836 * hi
            if word < 0:
                word += 2147483647
            r[i] = word & 0xFFFFFFFF
        for i in range(31, 34):
            r[i] = r[i - 31]
        self._r = r
        for _ in range(310):
            self._next()

    def _next(self) -> int:
        r = self._r
        val = (r[-31] + r[-3]) & 0xFFFFFFFF
        r.append(val)
        del r[0]
        return val

    def rand(self) -> int:
        return self._next() >> 1


def format_uuid(b: list[int]) -> str:
    h = "".join(f"{x:02X}" for x in b)
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


@dataclass
class Tracking:
    """The global table of tracking ids (newest first), with NUT's quirks."""

    delay: int = 3600
    enabled: bool = False
    entries: dict[str, tuple[int, float]] = field(default_factory=dict)    # upper id -> (status, created)
    rng: GlibcRand = field(default_factory=GlibcRand)

    def new_id(self) -> str:
        """nut_uuid_v4(): each byte is the sum of two rand() bytes; version 4, variant 10xx."""
        b = [((self.rng.rand() & 0xFF) + (self.rng.rand() & 0xFF)) & 0xFF for _ in range(16)]
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        return format_uuid(b)

    def add(self, tid: str) -> None:
        if self.enabled and tid:
            self.entries[tid.upper()] = (PENDING, time.time())

    def set(self, tid: str, value: str) -> None:
        key = tid.upper()
        if key in self.entries:
            from pnut.conf.upsdconf import atoi
            self.entries[key] = (atoi(value), self.entries[key][1])

    def get(self, tid: str) -> str:
        entry = self.entries.get(tid.upper())
        if entry is None:
            return "ERR UNKNOWN"
        if entry[0] == PENDING:
            return "PENDING"
        return RESULTS.get(entry[0], "ERR UNKNOWN")

    def cleanup(self, now: float) -> None:
        if not self.entries:
            return
        for key in [k for k, (_, t) in self.entries.items() if now - t > self.delay]:
            del self.entries[key]
