"""The state tree (common/state.c): variables with flags, aux, enums and ranges, plus the command list.

One type serves both ends: the driver core owns a tree and broadcasts its changes; upsd mirrors each
driver's tree from those broadcasts.  Names are case-insensitive and iterate in case-insensitive order,
as NUT's binary tree does.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from pnut.conf.parseconf import encode

MAX_VALUE_LEN = 256        # ST_MAX_VALUE_LEN, including C's terminating NUL


class Flag(enum.IntFlag):
    RW = 0x1
    STRING = 0x2
    NUMBER = 0x4
    IMMUTABLE = 0x8        # driver side only: set by override.* so the driver cannot change the value

    @classmethod
    def parse(cls, words: list[str]) -> Flag:
        """SETFLAGS words → flags; unknown words are ignored, as state_setflags() does."""
        flags = cls(0)
        for w in words:
            up = w.upper()
            if up in ("RW", "STRING", "NUMBER"):
                flags |= cls[up]
        return flags

    def words(self) -> list[str]:
        return [n for n in ("RW", "STRING", "NUMBER") if self & Flag[n]]


def encode_value(raw: str) -> str:
    """The escaped form NUT stores beside the raw value, cut to fit its 256-byte buffer."""
    enc = encode(raw)
    if len(enc) < MAX_VALUE_LEN:
        return enc
    # pconf_encode() stops rather than split an escape pair
    out: list[str] = []
    n = 0
    for c in raw:
        step = 2 if c in '\\"#' else 1
        if n + step > MAX_VALUE_LEN - 1:
            break
        out.append("\\" + c if step == 2 else c)
        n += step
    return "".join(out)


@dataclass
class Node:
    name: str
    raw: str
    flags: Flag = Flag(0)
    aux: int = 0
    enums: list[str] = field(default_factory=list)               # stored encoded, as NUT does
    ranges: list[tuple[int, int]] = field(default_factory=list)

    @property
    def value(self) -> str:
        """The escaped value, as it goes on the wire (most values need no escaping: a fast path for them)."""
        raw = self.raw
        if len(raw) < MAX_VALUE_LEN and '"' not in raw and "\\" not in raw and "#" not in raw:
            return raw
        return encode_value(raw)


@dataclass
class StateTree:
    nodes: dict[str, Node] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)        # lower name → name as added

    # -- variables -------------------------------------------------------------------------------
    def get(self, name: str) -> Node | None:
        return self.nodes.get(name.lower())

    def getinfo(self, name: str) -> str | None:
        node = self.nodes.get(name.lower())
        return None if node is None else node.raw

    def setinfo(self, name: str, raw: str) -> bool:
        """Set or create; True if anything changed.  Equal values compare case-insensitively (as NUT)."""
        node = self.nodes.get(name.lower())
        if node is None:
            self.nodes[name.lower()] = Node(name, raw)
            return True
        if node.raw.lower() == raw.lower() or node.flags & Flag.IMMUTABLE:
            return False
        node.raw = raw
        return True

    def delinfo(self, name: str) -> bool:
        node = self.nodes.get(name.lower())
        if node is None or node.flags & Flag.IMMUTABLE:
            return False
        del self.nodes[name.lower()]
        return True

    def setflags(self, name: str, flags: Flag) -> bool:
        node = self.nodes.get(name.lower())
        if node is None or node.flags & Flag.IMMUTABLE or node.flags == flags:
            return False        # an override.* value keeps its flags too (dstate_setflags)
        node.flags = flags
        return True

    def setaux(self, name: str, aux: int) -> bool:
        node = self.nodes.get(name.lower())
        if node is None or node.aux == aux:
            return False
        node.aux = aux
        return True

    def addenum(self, name: str, raw: str) -> bool:
        node = self.nodes.get(name.lower())
        if node is None:
            return False
        enc = encode_value(raw)
        if enc in node.enums:
            return False
        node.enums.append(enc)
        return True

    def delenum(self, name: str, raw: str) -> bool:
        node = self.nodes.get(name.lower())
        if node is None:
            return False
        want = raw.lower()
        for i, e in enumerate(node.enums):
            if e.lower() == want:
                del node.enums[i]
                return True
        return False

    def addrange(self, name: str, lo: int, hi: int) -> bool:
        node = self.nodes.get(name.lower())
        if node is None or lo > hi:
            return False
        # NUT's quirk: a range sharing either bound with an existing one counts as a duplicate
        if any(r[0] == lo or r[1] == hi for r in node.ranges):
            return False
        node.ranges.append((lo, hi))
        return True

    def delrange(self, name: str, lo: int, hi: int) -> bool:
        node = self.nodes.get(name.lower())
        if node is None:
            return False
        for i, r in enumerate(node.ranges):
            if r[0] == lo or r[1] == hi:
                del node.ranges[i]
                return True
        return False

    def __iter__(self) -> Iterator[Node]:
        """Nodes in NUT's order (an in-order walk of a strcasecmp tree)."""
        for key in sorted(self.nodes):
            yield self.nodes[key]

    def __len__(self) -> int:
        return len(self.nodes)

    # -- commands --------------------------------------------------------------------------------
    def addcmd(self, name: str) -> bool:
        if name.lower() in self.commands:
            return False
        self.commands[name.lower()] = name
        return True

    def delcmd(self, name: str) -> bool:
        return self.commands.pop(name.lower(), None) is not None

    def hascmd(self, name: str) -> bool:
        return name.lower() in self.commands

    def iter_commands(self) -> Iterator[str]:
        for key in sorted(self.commands):
            yield self.commands[key]

    def clear(self) -> None:
        self.nodes.clear()
        self.commands.clear()
