"""The serial transport every serial driver shares (drivers/serial.c), on top of pyserial.

`SerialPort.open()` hands `port` to `serial.serial_for_url()`, so a device path, `rfc2217://host:port`
(ser2net, pyserial's PortManager) and `socket://host:port` all work.  A device path is locked the way NUT
2.8.0 locks it on Linux (flock, unless `nolock` or `-k`); a URL is not a local file and is never locked.
Reads follow NUT's ser_get_line_alert(): up to an end character, with characters to ignore and alert
characters handed to a callback, each wait bounded by a timeout.
"""

from __future__ import annotations

import errno
import fcntl
import grp
import logging
import os
import pwd
import select
import stat
import sys
import termios
import time
from collections.abc import Callable
from typing import Any

from pnut.conf.common import Fatal

log = logging.getLogger("pnut.drivers.serial")

SER_ERR_LIMIT = 10       # after this many failures in a row, only every 10th is logged
SER_ERR_RATE = 100


class SerialError(Exception):
    """The port failed under us (read/write error, device or connection gone)."""


def is_url(port: str) -> bool:
    return "://" in port


def open_error(port: str, err: OSError | None) -> Fatal:
    """ser_open_error(): what NUT prints on stdout when the port cannot be opened, and the fatal line."""
    reason = os.strerror(err.errno) if err is not None and err.errno else str(err or "unknown error")
    lines = ["", f"Unable to open {port}: {reason}", ""]
    try:
        st = os.stat(port)
    except OSError:
        st = None
    if st is None:
        lines += ["Things to try:", "", " - Check 'port=' in ups.conf", "",
                  " - Check owner/permissions of all parts of path", ""]
    else:
        def name(fn: Callable[[int], Any], i: int) -> str | None:
            try:
                return fn(i)[0]
            except KeyError:
                return None
        user, owner, group = name(pwd.getpwuid, os.getuid()), name(pwd.getpwuid, st.st_uid), \
            name(grp.getgrgid, st.st_gid)
        if user:
            lines.append(f"  Current user id: {user} ({os.getuid()})")
        if owner:
            lines.append(f"Serial port owner: {owner} ({st.st_uid})")
        if group:
            lines.append(f"Serial port group: {group} ({st.st_gid})")
        lines += [f"     Mode of port: {stat.S_IMODE(st.st_mode):04o}", "", "Things to try:", "",
                  " - Use another port (with the right permissions)", "",
                  " - Fix the port owner/group or permissions on this port", "",
                  " - Run this driver as another user (upsdrvctl -u or 'user=...' in ups.conf).",
                  "   See upsdrvctl(8) and ups.conf(5).", ""]
    print("\n".join(lines), flush=True)
    return Fatal("Fatal error: unusable configuration")


class SerialPort:
    """One open port.  Errors of the line raise SerialError; set-up problems raise Fatal."""

    def __init__(self, port: str, ser: Any) -> None:
        self.port = port
        self.ser = ser
        self.comm_failures = 0

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, port: str, baudrate: int = 2400, lock: bool = True, fatal: bool = True) -> SerialPort:
        """Open `port` at `baudrate` 8N1, no flow control.  `fatal=False` turns every failure into
        SerialError (for reconnecting while the driver runs)."""
        import serial
        try:
            ser = serial.serial_for_url(port, baudrate=baudrate, bytesize=8, parity="N", stopbits=1,
                                        timeout=0, do_not_open=True)
            if not is_url(port):
                if not os.path.exists(port):
                    raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
                ser.write_timeout = 5       # a wedged tty must not hang the driver (rfc2217:// has no such option)
            ser.open()
        except (OSError, serial.SerialException, ValueError, NotImplementedError) as e:
            if not fatal:
                raise SerialError(f"Unable to open {port}: {_reason(e)}") from None
            if is_url(port):
                raise Fatal(f"Unable to open {port}: {_reason(e)}\nFatal error: unusable configuration") from None
            oserr = e if isinstance(e, OSError) else OSError(getattr(e, "errno", None) or 0, _reason(e))
            raise open_error(port, oserr) from None
        self = cls(port, ser)
        if lock and self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                ser.close()
                if not fatal:
                    raise SerialError(f"{port} is locked by another process") from None
                raise Fatal(f"{port} is locked by another process") from None
        return self

    @property
    def fd(self) -> int | None:
        """The file descriptor of a local device (None for URLs)."""
        fd = getattr(self.ser, "fd", None)
        return fd if isinstance(fd, int) and fd >= 0 else None

    @property
    def pollfd(self) -> int | None:
        """A descriptor that turns readable when the device sends something (NUT's extrafd), if any."""
        if self.fd is not None:
            return self.fd
        sock = getattr(self.ser, "_socket", None)
        if sock is not None and type(self.ser).__module__.endswith("protocol_socket"):
            return sock.fileno()
        return None

    def close(self) -> None:
        try:
            self.ser.close()
        except Exception as e:        # noqa: BLE001  (closing a dead line must never fail the driver)
            log.debug("closing %s: %s", self.port, e)

    # -- line settings ---------------------------------------------------------------------------
    def set_dtr(self, state: bool) -> None:
        """ser_set_dtr(); a port that has no modem lines (a pty) raises OSError."""
        self._modem("dtr", state)

    def set_rts(self, state: bool) -> None:
        self._modem("rts", state)

    def _modem(self, line: str, state: bool) -> None:
        import serial
        if self.fd is not None:
            import struct
            bit = termios.TIOCM_DTR if line == "dtr" else termios.TIOCM_RTS
            req = termios.TIOCMBIS if state else termios.TIOCMBIC
            fcntl.ioctl(self.fd, req, struct.pack("I", bit))
            return
        try:
            setattr(self.ser, line, state)
        except serial.SerialException as e:
            raise OSError(errno.EIO, str(e)) from None

    def canonical(self, eol: str) -> None:
        """Line discipline as NUT's apcsmart sets it: canonical input, CRs dropped, `eol` a second line
        end, no editing characters, no flow control.  Only a local tty has a line discipline."""
        fd = self.fd
        if fd is None:
            return
        iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(fd)
        cflag |= termios.CS8 | termios.CLOCAL | termios.CREAD
        lflag |= termios.ICANON
        lflag &= ~(termios.ISIG | termios.IEXTEN)
        iflag |= termios.IGNCR | termios.IGNPAR
        iflag &= ~(termios.IXON | termios.IXOFF)
        cc = list(cc)
        cc[termios.VEOL] = eol.encode()
        for i in (termios.VERASE, termios.VKILL, termios.VEOF, termios.VEOL2):
            cc[i] = b"\0"          # _POSIX_VDISABLE on Linux
        termios.tcflush(fd, termios.TCIOFLUSH)
        termios.tcsetattr(fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, ispeed, ospeed, cc])

    # -- I/O -------------------------------------------------------------------------------------
    def flush_io(self) -> None:
        """tcflush(TCIOFLUSH): discard unread input (and unsent output, see flush_output)."""
        def both() -> None:
            self._drain_output()
            self._discard_input()
        self._guard(both)

    def flush_output(self) -> None:
        """NUT discards unsent output here (TCOFLUSH).  On a pty that can eat the last command byte when the
        other side has not read it yet (NUT loses a load.on's second ^N that way when the next poll follows
        at once), so pnut waits for the bytes to leave instead: nothing of ours is still unsent."""
        self._guard(self._drain_output)

    def _drain_output(self) -> None:
        if self.fd is not None:
            termios.tcdrain(self.fd)
        # a URL port's writes are already on the network: nothing of ours is left to drain

    def _discard_input(self) -> None:
        if self.fd is not None:
            self.ser.reset_input_buffer()
            return
        # URL ports: drop what has arrived here.  pyserial's rfc2217 purge waits for the server's
        # acknowledgement (50 ms at least, often far more), which NUT's polling cannot afford at every command.
        while self.read_some(0.0):
            pass

    def read_some(self, timeout: float) -> bytes:
        """select_read(): whatever arrives within `timeout` seconds (b"" on timeout)."""
        def read() -> bytes:
            fd = self.pollfd
            if fd is not None:
                ready, _, _ = select.select([fd], [], [], timeout)
                if not ready:
                    return b""
                try:
                    data = os.read(fd, 512) if fd == self.fd else self.ser._socket.recv(512)
                except (BlockingIOError, InterruptedError):
                    return b""
                if not data:
                    raise SerialError("device disconnected")
                return data
            # pyserial's `timeout` setter renegotiates the whole port with an RFC 2217 server and waits for
            # its answers; the read timeout is ours alone, so set it without that round trip
            self.ser._timeout = timeout
            data = self.ser.read(1)
            if data:
                waiting = self.ser.in_waiting
                if waiting:
                    self.ser._timeout = 0
                    data += self.ser.read(min(waiting, 511))
            return data
        return self._guard(read)

    def send(self, data: bytes, pace: float = 0.0) -> int:
        """ser_send_buf()/ser_send_pace(): write `data`, one byte every `pace` seconds if pace > 0."""
        def write() -> int:
            if pace <= 0:
                self.ser.write(data)
                return len(data)
            for i in range(len(data)):
                self.ser.write(data[i:i + 1])
                self.ser.flush()
                time.sleep(pace)
            return len(data)
        return self._guard(write)

    def get_line(self, endchar: bytes, ignore: bytes, alerts: bytes = b"",
                 handler: Callable[[int], None] | None = None, timeout: float = 3.0,
                 maxlen: int = 512) -> bytes | None:
        """ser_get_line_alert(): bytes up to `endchar`, `ignore` dropped, `alerts` passed to `handler`;
        None when the wait for the next chunk times out."""
        out = bytearray()
        while len(out) < maxlen - 1:
            chunk = self.read_some(timeout)
            if not chunk:
                return None
            for b in chunk:
                if len(out) == maxlen - 1 or b == endchar[0]:
                    return bytes(out)
                if b in ignore:
                    continue
                if b in alerts:
                    if handler is not None:
                        handler(b)
                    continue
                out.append(b)
        return bytes(out)

    def _guard(self, fn: Callable[[], Any]) -> Any:
        import serial
        try:
            return fn()
        except SerialError:
            raise
        except (OSError, serial.SerialException, termios.error, ValueError, TypeError) as e:
            raise SerialError(_reason(e)) from None

    # -- ser_comm_fail / ser_comm_good -----------------------------------------------------------
    def comm_fail(self, why: str) -> None:
        """Log a lost communication in NUT's words, rate-limited as NUT does."""
        self.comm_failures += 1
        n = self.comm_failures
        if n == SER_ERR_LIMIT or n % SER_ERR_RATE == 0:
            log.warning("Warning: excessive comm failures, limiting error reporting")
        if n > SER_ERR_LIMIT and n % SER_ERR_LIMIT != 0:
            return
        log.warning("Communications with UPS lost: %s", why)

    def comm_good(self) -> None:
        if self.comm_failures:
            log.info("Communications with UPS re-established")
            self.comm_failures = 0


def _reason(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    text = str(e)
    # pyserial wraps OSError as "[Errno 2] could not open port X: [Errno 2] No such file or directory: 'X'"
    if "] " in text and "Errno" in text:
        text = text.rsplit("] ", 1)[-1].split(":")[0]
    return text or type(e).__name__


if __name__ == "__main__":       # pragma: no cover
    sys.exit("pnut.drivers.serial is a library")
