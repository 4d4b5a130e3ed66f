"""apcupsd-ups (drivers/apcupsd-ups.c, version 0.6 of NUT 2.8.0): a client of apcupsd's network
information server (NIS, TCP 3551) that republishes apcupsd's STATUS report as NUT variables.

Each poll opens a fresh connection, sends the framed word `status`, reads framed records until the empty one
and maps them with NUT's table.  The wire format and the mapping are pure functions here (sans-I/O); the
`ApcupsdUps` driver adds the socket.

Where pnut differs from 2.8.0 (see apcupsd-ups(8)): an apcupsd that cannot be reached makes the data stale
and leaves the last values in place (2.8.0 deletes most of them and never marks the data stale), and a record
that arrives in pieces is waited for instead of being a communication error.
"""

from __future__ import annotations

import enum
import logging
import re
import select
import socket
import struct
import time
from dataclasses import dataclass

from pnut.conf.common import Fatal, upsdebugx
from pnut.drivers.main import DeviceError, Driver, run

log = logging.getLogger("pnut.drivers.apcupsd_ups")

DEFAULT_PORT = 3551
# Named a minimum in NUT, but 2.8.0 uses it as a ceiling: a longer poll interval is brought down to 10 s
POLL_INTERVAL_MIN = 10
NIS_TIMEOUT = 15.0          # seconds to wait for each record (NUT's poll(..., 15000))
MAX_RECORD = 1024           # NUT's receive buffer: a record this long or longer is an error
STATUS_REQUEST = b"\x00\x06status"

COMM_ERROR = "apcupsd communication error"


class NisError(Exception):
    """A poll that did not yield a complete STATUS report; the text is NUT's debug message."""


# -- the mapping table (apcupsd-ups.h nut_data) ----------------------------------------------------
class Kind(enum.Enum):
    """How a value is taken from apcupsd's text (NUT's DU_FLAG_* handling)."""

    FIXED = "fixed"          # no apcupsd key: the default is published with every record
    STATUS = "status"
    DATE = "date"            # the first word
    TIME = "time"            # the second word
    FW1 = "fw1"              # before the '/'
    FW2 = "fw2"              # after the '/'
    STRING = "string"        # cut to `length` characters
    NUMBER = "number"        # atof() x `length`, printed with `fmt`


@dataclass(frozen=True)
class Item:
    key: str | None          # apcupsd's record key
    var: str                 # NUT variable
    kind: Kind
    length: float = 1        # string length, or the multiplier of a number
    fmt: str = ""            # printf format of a number, or the FIXED value
    keep: bool = False       # DU_FLAG_INIT / DU_FLAG_PRESERVE: not deleted when a poll lacks it


NUT_DATA: tuple[Item, ...] = (
    Item(None, "ups.mfr", Kind.FIXED, fmt="APC", keep=True),
    Item("MODEL", "ups.model", Kind.STRING, 32, keep=True),
    Item("STATUS", "ups.status", Kind.STATUS, keep=True),
    Item("SERIALNO", "ups.serial", Kind.STRING, 32),
    Item("LOADPCT", "ups.load", Kind.NUMBER, 1, "%1.1f"),
    Item("DATE", "ups.time", Kind.TIME),
    Item("DATE", "ups.date", Kind.DATE),
    Item("MANDATE", "ups.mfr.date", Kind.STRING, 16),
    Item("FIRMWARE", "ups.firmware", Kind.FW1),
    Item("FIRMWARE", "ups.firmware.aux", Kind.FW2),
    Item("ITEMP", "ups.temperature", Kind.NUMBER, 1, "%1.1f"),
    Item("UPSNAME", "ups.id", Kind.STRING, 16),
    Item("DWAKE", "ups.delay.start", Kind.NUMBER, 1, "%.0f"),
    Item("DSHUTD", "ups.delay.shutdown", Kind.NUMBER, 1, "%.0f"),
    Item("STESTI", "ups.test.interval", Kind.NUMBER, 1, "%.0f"),
    Item("SELFTEST", "ups.test.result", Kind.STRING, 16),
    Item("LINEV", "input.voltage", Kind.NUMBER, 1, "%1.1f"),
    Item("MAXLINEV", "input.voltage.maximum", Kind.NUMBER, 1, "%1.1f"),
    Item("MINLINEV", "input.voltage.minimum", Kind.NUMBER, 1, "%1.1f"),
    Item("NOMINV", "input.voltage.nominal", Kind.NUMBER, 1, "%.0f"),
    Item("NOMOUTV", "output.voltage.nominal", Kind.NUMBER, 1, "%.0f"),
    Item("LASTXFER", "input.transfer.reason", Kind.STRING, 32),
    Item("LOTRANS", "input.transfer.low", Kind.NUMBER, 1, "%1.1f"),
    Item("HITRANS", "input.transfer.high", Kind.NUMBER, 1, "%1.1f"),
    Item("SENSE", "input.sensitivity", Kind.STRING, 1),          # sic: "High" becomes "H"
    Item("LINEFREQ", "input.frequency", Kind.NUMBER, 1, "%1.1f"),
    Item("OUTPUTV", "output.voltage", Kind.NUMBER, 1, "%1.1f"),
    Item("LINEFREQ", "output.frequency", Kind.NUMBER, 1, "%1.1f"),
    Item("BCHARGE", "battery.charge", Kind.NUMBER, 1, "%1.1f", keep=True),
    Item("MBATTCHG", "battery.charge.low", Kind.NUMBER, 1, "%.0f"),
    Item("BATTDATE", "battery.date", Kind.DATE),
    Item("BATTV", "battery.voltage", Kind.NUMBER, 1, "%1.1f"),
    Item("NOMBATTV", "battery.voltage.nominal", Kind.NUMBER, 1, "%1.1f"),
    Item("TIMELEFT", "battery.runtime", Kind.NUMBER, 60, "%1.1f", keep=True),
    Item("MINTIMEL", "battery.runtime.low", Kind.NUMBER, 60, "%.0f"),
    Item("RETPCT", "battery.charge.restart", Kind.NUMBER, 1, "%1.1f"),
    Item("NOMPOWER", "ups.realpower.nominal", Kind.NUMBER, 1, "%1.1f", keep=True),
    Item("LOAD_W", "ups.realpower", Kind.NUMBER, 1, "%1.1f"),
    Item("LOADAPNT", "power.percent", Kind.NUMBER, 1, "%1.1f"),
    Item("OUTCURNT", "output.current", Kind.NUMBER, 1, "%1.2f"),
    Item("LOAD_VA", "ups.power", Kind.NUMBER, 1, "%1.1f"),
    Item("NOMAPNT", "ups.power.nominal", Kind.NUMBER, 1, "%.0f", keep=True),
)

# apcupsd's status words -> NUT's (only whole words; "SHUTTING DOWN" is split before it could match)
STATUS_WORDS = {"CAL": "CAL", "TRIM": "TRIM", "BOOST": "BOOST", "ONLINE": "OL", "ONBATT": "OB",
                "OVERLOAD": "OVER", "SHUTTING DOWN": "LB", "LOWBATT": "LB", "REPLACEBATT": "RB",
                "NOBATT": "BYPASS"}
# compared with the whole value (apcupsd pads its words with a space, so in practice these rarely match)
STATUS_WHOLE = {"COMMLOST": "OFF", "NETWORK ERROR": "OFF", "ERROR": "OFF", "SELFTEST": "OB"}


# -- wire format ---------------------------------------------------------------------------------
def frame(payload: bytes) -> bytes:
    """One NIS message: a 2-byte big-endian length, then the bytes."""
    return struct.pack(">H", len(payload)) + payload


def record_length(head: bytes) -> int:
    """The length announced by a record head; NisError if it does not fit NUT's buffer."""
    (n,) = struct.unpack(">H", head)
    if n >= MAX_RECORD:
        raise NisError(COMM_ERROR)
    return n


_ITEM_DELIMS = " \t:\r\n"


def parse_record(body: bytes) -> tuple[str, str]:
    """`KEY      : value\\n` -> (key, value), split as NUT does: the key ends at the first blank, tab, colon or
    line end; the value runs to the line end with leading blanks, tabs and colons dropped (trailing ones
    kept).  NisError when there is no key or nothing after it."""
    text = body.split(b"\0", 1)[0].decode("latin-1")
    i, n = 0, len(text)
    while i < n and text[i] in _ITEM_DELIMS:
        i += 1
    j = i
    while j < n and text[j] not in _ITEM_DELIMS:
        j += 1
    if i == j or j >= n:                 # no key, or the key ends the record: no value at all
        raise NisError(COMM_ERROR)
    rest = text[j + 1:].lstrip("\r\n")
    value = re.split(r"[\r\n]", rest, maxsplit=1)[0]
    if not value:
        raise NisError(COMM_ERROR)
    return text[i:j], value.lstrip(" \t:")


# -- value conversions ---------------------------------------------------------------------------
_FLOAT = re.compile(r"[ \t\n\v\f\r]*([+-]?)(?:(0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?)"
                    r"|(inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)"
                    r"|((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))", re.IGNORECASE)


def atof(text: str) -> float:
    """C's atof(): the longest leading number (decimal, hex, inf, nan), 0.0 when there is none."""
    m = _FLOAT.match(text)
    if not m:
        return 0.0
    sign = -1.0 if m.group(1) == "-" else 1.0
    hexa, word, dec = m.group(2), m.group(3), m.group(4)
    if hexa:
        return sign * float.fromhex(hexa)
    if word:
        return sign * (float("inf") if word.lower().startswith("inf") else float("nan"))
    return sign * float(dec)


def status_tokens(value: str) -> list[str]:
    """apcupsd's STATUS text -> NUT's ups.status words, in apcupsd's order, unknown words left out."""
    whole = STATUS_WHOLE.get(value)
    if whole is not None:
        return [whole]
    return [STATUS_WORDS[w] for w in value.split(" ") if w in STATUS_WORDS]


def convert(item: Item, value: str) -> str | None:
    """The text NUT publishes for one record under one table row, None when the row stays unset."""
    kind = item.kind
    if kind == Kind.DATE:
        return value.split(" ", 1)[0]
    if kind == Kind.TIME:
        parts = value.split(" ", 2)
        return parts[1] if len(parts) > 1 else None
    if kind == Kind.FW1:
        slash = value.find("/")
        if slash < 0:
            return value
        cut = len(value[:slash].rstrip(" "))
        return value[:cut] if cut < slash else value      # no blank before the '/': the whole text (sic)
    if kind == Kind.FW2:
        slash = value.find("/")
        if slash < 0:
            return None
        after = value[slash + 1:].lstrip(" ")
        return after or None
    if kind == Kind.STRING:
        return value[:int(item.length)]
    if kind == Kind.NUMBER:
        return item.fmt % (atof(value) * item.length)
    return None


Change = tuple[str, "str | tuple[str, ...]"]     # (var, value) or ("ups.status", (words...))


def process(key: str, value: str) -> list[Change]:
    """What one record sets, in NUT's table order (NUT's process())."""
    out: list[Change] = []
    for item in NUT_DATA:
        if item.key is None:
            out.append((item.var, item.fmt))
        elif item.key == key:
            if item.kind == Kind.STATUS:
                out.append((item.var, tuple(status_tokens(value))))
            else:
                text = convert(item, value)
                if text is not None:
                    out.append((item.var, text))
    return out


def translate(records: list[tuple[str, str]]) -> dict[str, str]:
    """The variables a whole STATUS report gives (pure; for tests and for reading the mapping)."""
    out: dict[str, str] = {}
    for key, value in records:
        for var, val in process(key, value):
            out[var] = " ".join(val) if isinstance(val, tuple) else val
    return out


DELETABLE = tuple(dict.fromkeys(i.var for i in NUT_DATA if not i.keep))


# -- the network side ----------------------------------------------------------------------------
def parse_port(device_path: str) -> tuple[str, int]:
    """`host[:port]` (2.8.0 splits at the first colon, so no bare IPv6); port 0 when it is invalid."""
    host, port = device_path or "localhost", DEFAULT_PORT
    if ":" in host:
        host, _, tail = host.partition(":")
        m = re.match(r"[ \t\n\v\f\r]*([+-]?\d+)", tail)
        n = int(m.group(1)) if m else 0
        port = n if 1 <= n <= 65535 else 0
    return host, port


class ApcupsdUps(Driver):
    progname = "apcupsd-ups"
    name = "apcupsd network client UPS driver"
    version = "0.6"
    authors = "Andreas Steinmetz <ast@domdv.de>"

    def __init__(self, core) -> None:
        super().__init__(core)
        self.addr: tuple[str, int] | None = None

    # -- callbacks ------------------------------------------------------------------------------
    def initups(self) -> None:
        host, port = parse_port(self.device_path)
        self.addr = None
        if port and host:
            try:
                self.addr = (socket.gethostbyname(host), port)     # IPv4 only, as 2.8.0
            except (OSError, UnicodeError):
                self.addr = None

    def initinfo(self) -> None:
        if self.addr is None:
            raise Fatal("invalid host or port specified!")
        try:
            records = self.getdata()
        except NisError as e:
            upsdebugx(1, "%s", e)
            raise Fatal("can't communicate with apcupsd!") from None
        self.apply(records)
        self.dstate.dataok()
        self.cap_poll_interval()

    def updateinfo(self) -> None:
        self.apply(self.fetch())
        self.dstate.dataok()
        self.cap_poll_interval()

    def reconnect(self) -> bool:
        """Every poll connects afresh: getting apcupsd back is one successful poll, which is this round's."""
        self.updateinfo()
        return True

    def shutdown(self) -> None:
        raise Fatal("shutdown not supported")

    # -- helpers --------------------------------------------------------------------------------
    def cap_poll_interval(self) -> None:
        self.set_poll_interval(min(self.poll_interval, POLL_INTERVAL_MIN))

    def fetch(self) -> list[tuple[str, str]]:
        try:
            return self.getdata()
        except NisError as e:
            upsdebugx(1, "%s", e)
            log.error("can't communicate with apcupsd!")
            raise DeviceError(str(e)) from None

    def apply(self, records: list[tuple[str, str]]) -> None:
        """Publish one report; mapped variables it lacks are deleted, except NUT's INIT/PRESERVE ones."""
        ds = self.dstate
        seen: set[str] = set()
        for key, value in records:
            for var, val in process(key, value):
                seen.add(var)
                if isinstance(val, tuple):
                    ds.status_init()
                    for word in val:
                        ds.status_set(word)
                    ds.status_commit()
                else:
                    ds.setinfo(var, val)
        for var in DELETABLE:
            if var not in seen:
                ds.delinfo(var)

    def getdata(self) -> list[tuple[str, str]]:
        """One `status` exchange on a new connection: the parsed records, or NisError."""
        assert self.addr is not None
        try:
            sock = socket.create_connection(self.addr, timeout=NIS_TIMEOUT)
        except OSError:
            raise NisError("can't connect to apcupsd") from None
        with sock:
            try:
                sock.sendall(STATUS_REQUEST)
                records: list[tuple[str, str]] = []
                while True:
                    head = self.recv_exact(sock, 2)
                    if head is None:
                        break
                    n = record_length(head)
                    if n == 0:
                        return records
                    body = self.recv_exact(sock, n)
                    if body is None:
                        break
                    records.append(parse_record(body))
            except OSError:
                raise NisError(COMM_ERROR) from None
        raise NisError("unexpected connection close by apcupsd")

    def recv_exact(self, sock: socket.socket, n: int) -> bytes | None:
        """n bytes; None when apcupsd stays silent for NIS_TIMEOUT; NisError when it closes mid-way.
        Waits in short slices so that a driver asked to stop is not held up by a silent server."""
        buf = b""
        deadline = time.monotonic() + NIS_TIMEOUT
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.core.stopping.is_set():
                return None
            ready, _, _ = select.select([sock], [], [], min(remaining, 0.2))
            if not ready:
                continue
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise NisError(COMM_ERROR)
            buf += chunk
            deadline = time.monotonic() + NIS_TIMEOUT
        return buf


def main(argv: list[str] | None = None) -> int:
    return run(ApcupsdUps, argv)


if __name__ == "__main__":      # pragma: no cover
    raise SystemExit(main())
