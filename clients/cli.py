"""What upsc, upscmd, upsrw and upslog share: option parsing, fatal exits, credential prompts.

Each program keeps a docopt usage string (its interface, checked against this parser by the unit tests) but
parses its few flags with `getopt` from pnut.conf.getopt (re-exported here).  Fidelity decides it: NUT's
programs use POSIX getopt with a leading '+' (options end at the first operand), accept clustered flags and
attached arguments (-lL, -uadmin), print glibc's own messages for a bad option and then show their help with
exit status 0; docopt does none of that.  Cost agrees: importing docopt adds 3-5 ms to upsc, 10-20 % of the
interpreter's own start-up (numbers in tests/unit/test_clients_cli.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator

from pnut.conf import NUT_VERSION
from pnut.conf.getopt import getopt  # noqa: F401 -- re-exported for the clients and upsmon

TYPE_CHECKING = False     # importing typing would cost upsc ~3 ms of start-up
if TYPE_CHECKING:
    from typing import Any

VERSION = NUT_VERSION


class Exit(Exception):
    """fatalx(): leave with `status`, after printing `message` (if any) on stderr."""

    def __init__(self, message: str | None = None, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def upslogx_to_stderr() -> None:
    """Print the client library's messages on stderr, as a NUT client's upslogx() does (no syslog)."""
    from pnut.libupsclient import client

    def sink(_level: str, text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    client.log_sink = sink


def nut_list(ups: Any, *query: str) -> Iterator[list[str]]:
    """LIST as NUT's clients loop over it: an error on the first line raises; one later just ends the list
    (upscli_list_next() returning -1 ends their while loop quietly)."""
    from pnut.libupsclient import core, errors
    ups.sendline(core.request("LIST", *query))
    core.parse_list_start(query, ups.readline())
    while True:
        try:
            words = core.parse_list_item(query, ups.readline())
        except errors.UpsClientError:
            return
        if words is None:
            return
        yield words


def progname(argv0: str | None = None) -> str:
    """xbasename(argv[0])."""
    return os.path.basename(argv0 if argv0 is not None else sys.argv[0]) or "?"


def run_main(body: Callable[[], int], whole_process: bool = True) -> int:
    """Turn Exit and ^C into NUT's message and status; flush stdout the way exit() does.

    `whole_process` is false when a test calls main(argv) in-process: signal dispositions are left alone."""
    import signal
    # A closed pipe ends a C client silently (SIGPIPE); Python would print a BrokenPipeError instead.
    if whole_process and hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        status = body()
    except Exit as done:
        _flush()
        if done.message:
            sys.stderr.write(done.message + "\n")
        status = done.status
    except KeyboardInterrupt:
        _flush()
        status = 130
    except BrokenPipeError:
        status = 1
    _flush()
    return status


def _flush() -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass


def login_name() -> str | None:
    """getpwuid(getuid())->pw_name, or None."""
    try:
        import pwd
        return pwd.getpwuid(os.getuid()).pw_name
    except (KeyError, ImportError):
        return None


def ask_username(fatal_on_eof: bool) -> str:
    """NUT's prompt `Username (<login>): `; an empty answer takes the login name."""
    name = login_name()
    sys.stdout.write(f"Username ({name}): " if name else "Username: ")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line and fatal_on_eof:
        raise Exit("Error reading from stdin!")
    if len(line) > 1:
        return line[:-1]            # fgets() kept the newline (or the last character at EOF)
    if name is None:
        raise Exit("No username available - even tried getpwuid")
    return name


def ask_password(prompt: str = "Password: ") -> str:
    """glibc getpass(): prompt and read on /dev/tty with echo off; without a terminal, prompt on stderr and
    read stdin (no warning, no extra newline: Python's getpass would add both)."""
    try:
        tty = open("/dev/tty", "r+b", buffering=0)
    except OSError:
        tty = None
    if tty is None:
        sys.stderr.write(prompt)
        sys.stderr.flush()
        line = sys.stdin.readline()
        return line.removesuffix("\n")
    with tty:
        import termios
        fd = tty.fileno()
        try:
            old = termios.tcgetattr(fd)
        except termios.error:
            old = None
        if old is not None:
            new = list(old)
            new[3] &= ~(termios.ECHO | termios.ISIG)
            termios.tcsetattr(fd, termios.TCSAFLUSH, new)
        try:
            tty.write(prompt.encode())
            data = bytearray()
            while True:
                ch = tty.read(1)
                if not ch or ch == b"\n":
                    break
                data += ch
        finally:
            if old is not None:
                tty.write(b"\n")
                termios.tcsetattr(fd, termios.TCSAFLUSH, old)
        return data.decode("utf-8", "replace")


def str_to_uint(text: str) -> int:
    """common.c str_to_uint(): plain decimal digits only; raises OSError(EINVAL/ERANGE) otherwise."""
    import errno
    if not text or not text.isascii() or not text.isdigit():
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
    value = int(text)
    if value > 0xFFFFFFFF:
        raise OSError(errno.ERANGE, os.strerror(errno.ERANGE))
    return value


def fatal_with_errno(message: str, exc: OSError) -> Exit:
    """fatal_with_errno(): the message, ': ', strerror(errno)."""
    return Exit(f"{message}: {os.strerror(exc.errno or 0)}")


def track(ups: Any, reply: str, timeout: int) -> str:
    """upscmd/upsrw -w: given `OK TRACKING <id>`, poll `GET TRACKING <id>` once a second until the answer is
    no longer PENDING (or `timeout` seconds pass); returns the final line (SUCCESS, ERR FAILED, ...)."""
    import time

    from pnut.libupsclient import core, errors
    tracking_id = reply[len("OK TRACKING "):]
    start = int(time.time())
    while True:
        if int(time.time()) - start >= timeout:
            raise Exit("Can't receive status tracking information: timeout")
        try:
            ups.sendline(core.raw_request(f"GET TRACKING {tracking_id}"))
        except errors.UpsClientError as exc:
            raise Exit(f"Can't send status tracking request: {exc}") from None
        try:
            line = ups.readline(timeout=timeout)
        except errors.UpsClientError as exc:
            raise Exit(f"Can't receive status tracking information: {exc}") from None
        if not line.startswith("PENDING"):
            return str(line)
        time.sleep(1)


def is_tracking_reply(line: str) -> bool:
    """`OK TRACKING ` followed by a 36-character id: the only reply -w goes on to poll for."""
    return len(line) == len("OK TRACKING ") + 36


def exchange(ups: Any, text: str, send_error: str, read_error: str) -> str:
    """Send one printf-built line and read the reply unchecked, with the tool's two failure messages."""
    from pnut.libupsclient import core, errors
    try:
        ups.sendline(core.raw_request(text))
    except errors.UpsClientError as exc:
        raise Exit(f"{send_error}: {exc}") from None
    try:
        return str(ups.readline())
    except errors.UpsClientError as exc:
        raise Exit(f"{read_error}: {exc}") from None
