"""The sans-I/O heart of libupsclient (NUT's clients/upsclient.c without the sockets).

Requests are built and replies are checked here, once, for both the blocking client (client.py) and the
asyncio client (aio.py).  A conversation is a generator: it yields bytes to send or READ to ask for the
next reply line, receives that line, and returns its result; each client only moves bytes.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence

from pnut.conf import parseconf
from pnut.libupsclient import errors, proto

DEFAULT_PORT = 3493             # PORT in NUT's config.h
DEFAULT_HOST = "localhost"
NETWORK_TIMEOUT = 5.0           # DEFAULT_NETWORK_TIMEOUT: how long a reply may take
TRACKING_TIMEOUT = 10           # DEFAULT_TRACKING_TIMEOUT (upscmd/upsrw -t default)
NETBUF_LEN = 512                # UPSCLI_NETBUF_LEN: longest line NUT's client reads in one go


class _Read:
    def __repr__(self) -> str:
        return "READ"


READ = _Read()                  # yielded by a conversation: "give me the next line"

TYPE_CHECKING = False     # typing costs upsc ~3 ms of start-up; mypy still reads the block below
if TYPE_CHECKING:
    from typing import TypeVar
    T = TypeVar("T")
    Conversation = Generator["bytes | _Read", str, T]


# --- UPS identifiers ------------------------------------------------------------------------------------

class BadAddress(ValueError):
    """An unparsable `upsname[@host[:port]]` or `host[:port]`; the text is what NUT prints on stderr."""


def splitaddr(text: str) -> tuple[str, int]:
    """`host[:port]` or `[v6addr][:port]` -> (host, port), as upscli_splitaddr() reads it."""
    text = text[:511]
    if not text:
        raise BadAddress("upscli_splitaddr: can't parse empty string")
    if text.startswith("["):
        if "]" not in text:
            raise BadAddress("upscli_splitaddr: missing closing bracket in [domain literal]")
        host, _, rest = text[1:].partition("]")
        if not rest.startswith(":"):
            return host, DEFAULT_PORT
        portstr = rest[1:]
    else:
        # strtok() skips leading separators: ":3493" names host "3493"... as NUT does, take the first
        # non-empty piece as the host and whatever follows the first ':' as the port.
        pieces = [p for p in text.split(":") if p]
        host = pieces[0] if pieces else ""
        if ":" not in text:
            return host, DEFAULT_PORT
        portstr = text.split(":", 1)[1]
    port = _strtol(portstr)
    if not portstr or port < 1 or port > 65535:
        raise BadAddress("upscli_splitaddr: no port specified after ':' separator")
    return host, port


def splitname(text: str | None) -> tuple[str, str, int]:
    """`upsname[@host[:port]]` -> (upsname, host, port), defaults localhost:3493 (upscli_splitname)."""
    if text is None:
        raise BadAddress("")    # NUT's paranoia check: no message of its own
    if not text:
        raise BadAddress("upscli_splitname: can't parse empty string")
    text = text[:511]
    name = next((p for p in text.split("@") if p), "")
    if not name:
        raise BadAddress("")    # only '@'s: NUT 2.8.0 crashes here; we call it invalid
    if "@" not in text:
        return name, DEFAULT_HOST, DEFAULT_PORT
    host, port = splitaddr(text.split("@", 1)[1])
    return name, host, port


def _strtol(s: str) -> int:
    """C strtol(s, NULL, 10): leading blanks and sign, then digits; 0 when there are none."""
    s = s.lstrip(" \t\n\v\f\r")
    sign = -1 if s.startswith("-") else 1
    if s[:1] in "+-":
        s = s[1:]
    digits = ""
    for ch in s:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0


# --- requests -------------------------------------------------------------------------------------------

def request(verb: str, *args: str) -> bytes:
    """A request as upscli_get()/upscli_list_start() build it: each argument encoded, quoted if it has a space."""
    return (parseconf.join((verb, *args)) + "\n").encode("latin-1", "replace")


def raw_request(text: str) -> bytes:
    """A line NUT's tools build with plain printf (USERNAME, PASSWORD, INSTCMD...): nothing is quoted."""
    return (text + "\n").encode("latin-1", "replace")


def set_var_request(ups: str, var: str, value: str) -> bytes:
    """`SET VAR <ups> <var> "<value>"` exactly as upsrw sends it: the value always quoted and encoded."""
    return raw_request(f"SET VAR {ups} {var} {parseconf.quote(value)}")


# --- replies --------------------------------------------------------------------------------------------

def check_error(line: str) -> None:
    """Raise the ServerError for an `ERR ...` line (upscli_errcheck looks only at the first three bytes)."""
    if line.startswith("ERR"):
        raise errors.from_reply(line)


def split(line: str) -> list[str]:
    """Tokenize one reply with parseconf's rules, as pconf_line() does for the C client.

    pconf_line() reports success even when it stops at an unescaped '#' inside quotes: the client goes on
    with the words read so far (NUT 2.8.0 never reports its "Parse error" for a reply), and so do we.
    """
    tok = parseconf.Tokenizer()
    for ch in line:
        done = tok.feed_char(ch)
        if done is not None:
            return done.words
    return tok.end_of_string().words


def _matches(query: Sequence[str], words: Sequence[str]) -> bool:
    if len(words) < len(query):
        return False
    return all(q.casefold() == w.casefold() for q, w in zip(query, words, strict=False))


def parse_get(query: Sequence[str], line: str) -> list[str]:
    """The words of a GET reply; it must repeat the query (case-insensitively)."""
    check_error(line)
    words = split(line)
    if not _matches(query, words):
        raise errors.ProtocolError()
    return words


def parse_list_start(query: Sequence[str], line: str) -> None:
    """The `BEGIN LIST <query...>` line that opens a LIST reply."""
    check_error(line)
    words = split(line)
    if len(words) < 2 or words[0].casefold() != "begin" or words[1].casefold() != "list":
        raise errors.ProtocolError()
    if not _matches(query, words[2:]):
        raise errors.ProtocolError()


def parse_list_item(query: Sequence[str], line: str) -> list[str] | None:
    """One line inside a LIST reply: its words, or None at `END LIST` (upper case only, as NUT checks)."""
    check_error(line)
    words = split(line)
    if not words:
        raise errors.ProtocolError()
    if len(words) >= 2 and words[0] == "END" and words[1] == "LIST":
        return None
    if not _matches(query, words):
        raise errors.ProtocolError()
    return words


# --- conversations --------------------------------------------------------------------------------------

def get(*query: str) -> Conversation[list[str]]:
    """GET <query...> -> the reply's words, e.g. ['VAR', 'ups', 'ups.status', 'OL']."""
    yield request("GET", *query)
    line = yield READ
    return parse_get(query, line)


def list_(*query: str) -> Conversation[list[list[str]]]:
    """LIST <query...> -> every item line's words, in server order."""
    yield request("LIST", *query)
    parse_list_start(query, (yield READ))
    items: list[list[str]] = []
    while True:
        words = parse_list_item(query, (yield READ))
        if words is None:
            return items
        items.append(words)


def command(text: str, check: bool = True) -> Conversation[str]:
    """Send one printf-built line and return the reply line; with `check`, an ERR reply raises."""
    yield raw_request(text)
    line = yield READ
    if check:
        check_error(line)
    return line


def login(username: str | None, password: str | None, ups: str | None) -> Conversation[None]:
    """The optional USERNAME / PASSWORD / LOGIN steps (what upsmon and a repeating driver do)."""
    if username is not None:
        yield from command(f"USERNAME {username}")
    if password is not None:
        yield from command(f"PASSWORD {password}")
    if ups is not None:
        yield from command(f"LOGIN {ups}")
    return None


def starttls() -> Conversation[bool]:
    """Offer STARTTLS; True when the server answered `OK STARTTLS` (the handshake is the caller's job)."""
    yield raw_request("STARTTLS")
    line = yield READ
    return line.startswith(proto.OK_STARTTLS)


# --- line framing ---------------------------------------------------------------------------------------

class LineBuffer:
    """Bytes in, lines out; a line is cut at '\\n' or after NETBUF_LEN-1 bytes, as upscli_readline does."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_line(self) -> str | None:
        cut = self._buf.find(b"\n", 0, NETBUF_LEN - 1)
        if cut >= 0:
            line = bytes(self._buf[:cut])
            del self._buf[:cut + 1]
        elif len(self._buf) >= NETBUF_LEN - 1:
            line = bytes(self._buf[:NETBUF_LEN - 1])
            del self._buf[:NETBUF_LEN - 1]
        else:
            return None
        return line.decode("latin-1")
