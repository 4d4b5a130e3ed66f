"""A real apcupsd (Debian's, unpacked, not installed) for tests: its config, environment and NIS client.

Debian's `apcupsd` conflicts with nut-client, so it is unpacked instead:
    apt-get download apcupsd libusb-0.1-4 && dpkg -x apcupsd_*.deb DIR && dpkg -x libusb-0.1-4_*.deb DIR
and PNUT_APCUPSD_ROOT points at DIR (default /tmp/apcupsd-pkg/root).  The approach (smart cable, apcsmart
type, NIS on 127.0.0.1, an apccontrol that only notes events) is the one of
tests/interop/test_apcsmart_sim_apcupsd.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from tests.procs import Procs, free_port, wait_for


def apcupsd_root() -> Path | None:
    root = Path(os.environ.get("PNUT_APCUPSD_ROOT", "/tmp/apcupsd-pkg/root"))
    if (root / "sbin" / "apcupsd").is_file():
        return root
    found = shutil.which("apcupsd")
    return Path(found).parent.parent if found else None


ROOT = apcupsd_root()

CONF = """\
## apcupsd.conf v1.1 ##
UPSNAME sim
UPSCABLE smart
UPSTYPE apcsmart
DEVICE {device}
POLLTIME 1
LOCKFILE {d}
SCRIPTDIR {d}
PWRFAILDIR {d}
NOLOGINDIR {d}
ONBATTERYDELAY 1
BATTERYLEVEL 5
MINUTES 3
TIMEOUT 0
ANNOY 300
ANNOYDELAY 60
NOLOGON disable
KILLDELAY 0
NETSERVER on
NISIP 127.0.0.1
NISPORT {port}
EVENTSFILE {d}/apcupsd.events
EVENTSFILEMAX 10
UPSCLASS standalone
UPSMODE disable
STATTIME 0
LOGSTATS off
DATATIME 0
"""

# apcupsd runs this for every event; it must never act on the host, only note the event.  Exit 99 tells
# apcupsd that the script handled the event, so it does not do its default action (e.g. shutdown).
APCCONTROL = """#!/bin/sh
echo "$1" >> "{d}/events.log"
exit 99
"""


def env() -> dict[str, str]:
    out = dict(os.environ)
    assert ROOT is not None
    libdir = ROOT / "lib" / "x86_64-linux-gnu"
    if libdir.is_dir():
        out["LD_LIBRARY_PATH"] = f"{libdir}:{out.get('LD_LIBRARY_PATH', '')}".rstrip(":")
    return out


def nis_status(port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> list[str]:
    """One `status` request over NIS: the record texts as sent (each with its line end), [] on failure."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"\x00\x06status")
            f = s.makefile("rb")
            out = []
            while True:
                head = f.read(2)
                if len(head) != 2:
                    return []
                (n,) = struct.unpack(">H", head)
                if n == 0:
                    return out
                body = f.read(n)
                if len(body) != n:
                    return []
                out.append(body.decode("latin-1"))
    except OSError:
        return []


def status_dict(port: int) -> dict[str, str]:
    out = {}
    for rec in nis_status(port):
        key, sep, value = rec.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


@dataclass
class Apcupsd:
    """A real apcupsd reading a serial device, serving NIS on 127.0.0.1:port; (re)started by PID via `procs`."""

    workdir: Path
    device: str
    procs: Procs
    port: int = 0
    proc: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        assert ROOT is not None
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        ctl = self.workdir / "apccontrol"
        ctl.write_text(APCCONTROL.format(d=self.workdir))
        ctl.chmod(0o755)
        self.conf = self.workdir / "apcupsd.conf"
        self.conf.write_text(CONF.format(device=self.device, d=self.workdir, port=self.port))

    def start(self, wait: bool = True) -> None:
        assert ROOT is not None
        self.proc = self.procs.start([str(ROOT / "sbin" / "apcupsd"), "-b", "-f", str(self.conf),
                                      "-P", str(self.workdir / "apcupsd.pid")], env=env(),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> dict[str, str]:
        """apcupsd answers NIS before its first full read of the UPS: wait until the settings are in."""
        return wait_for(lambda: (s := status_dict(self.port)).get("FIRMWARE") and s.get("DSHUTD") and s,
                        timeout, what="apcupsd status with the UPS settings")

    def stop(self) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        self.proc = None


# -- a tiny in-test NIS server ---------------------------------------------------------------------
def frame(payload: bytes) -> bytes:
    return struct.pack(">H", len(payload)) + payload


def status_reply(records: list[str] | list[bytes]) -> bytes:
    """A whole `status` answer: each record framed, then the empty record."""
    out = b"".join(frame(r if isinstance(r, bytes) else r.encode("latin-1")) for r in records)
    return out + frame(b"")


class FakeNis:
    """A NIS server on 127.0.0.1 whose answer a test chooses: `reply` is bytes (sent at once, then the
    connection is closed), or a callable given the connected socket.  `requests` keeps what clients sent."""

    def __init__(self, reply: bytes | object = b"") -> None:
        import threading
        self.reply = reply
        self.requests: list[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import threading
        while not self.closing.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                req = b""
                while len(req) < 8:
                    chunk = conn.recv(8 - len(req))
                    if not chunk:
                        break
                    req += chunk
                self.requests.append(req)
                reply = self.reply
                if callable(reply):
                    reply(conn)
                else:
                    conn.sendall(reply)
            except OSError:
                pass

    def close(self) -> None:
        self.closing.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
