"""Shared set-up for the upsd interop tests: a NUT layout served by real NUT 2.8.0 upsd and by ours side by
side, over the same drivers (real dummy-ups, plus a scripted fake driver that exercises enums, ranges,
tracking results and odd values), and a line-counting transcript reader.
"""

from __future__ import annotations

import os
import shutil
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.procs import NutDirs, Procs, free_port, ours, real_nut, wait_for

DUMMY_DEV = """\
ups.status: OL
ups.id: my ups
ups.mfr: Dummy Manufacturer
battery.charge: 100
battery.runtime: 1800
input.voltage: 230.4
"""

UPS_CONF = """\
[dummy]
  driver = dummy-ups
  port = dummy.dev
  desc = "Test \\"quoted\\" Dummy"
[fake]
  driver = fakedrv
  port = none
  desc = "Scripted fake"
[nodrv]
  driver = dummy-ups
  port = nothere.dev
"""

UPSD_USERS = """\
[admin]
  password = adminpw
  actions = SET
  actions = FSD
  instcmds = ALL
[tester]
  password = "pass words"
  instcmds = test.battery.start
[mon]
  password = monpw
  upsmon primary
[sec]
  password = secpw
  upsmon secondary
[nopass]
  actions = SET
"""

# What the fake driver answers to DUMPALL: flags, aux, enums, ranges, escapes, commands.
FAKE_DUMP = """\
SETINFO device.model "Fake \\"model\\" \\#1"
SETINFO input.transfer.high "130"
ADDRANGE input.transfer.high 120 135
ADDRANGE input.transfer.high 140 150
SETFLAGS input.transfer.high RW NUMBER
SETINFO input.transfer.low "100"
ADDENUM input.transfer.low "100"
ADDENUM input.transfer.low "95"
SETFLAGS input.transfer.low RW
SETINFO ups.delay "30"
ADDENUM ups.delay "30"
ADDENUM ups.delay "a\\"b"
SETAUX ups.delay 4
SETFLAGS ups.delay RW STRING
SETINFO ups.id "fake id"
SETAUX ups.id 16
SETFLAGS ups.id RW STRING
SETINFO ups.noaux "x"
SETFLAGS ups.noaux RW STRING
SETINFO ups.path "C:\\\\dir"
SETINFO ups.status "OL CHRG"
ADDCMD test.battery.start
ADDCMD load.off
ADDCMD beeper.toggle
DATAOK
DUMPDONE
"""


class _FakeHandler(socketserver.StreamRequestHandler):
    """One upsd connection to the fake driver; every line it sends is recorded."""

    def handle(self) -> None:
        log: list[str] = []
        self.server.sessions.append(log)       # type: ignore[attr-defined]
        self.server.writers.append((self.wfile, self.request))      # type: ignore[attr-defined]
        for raw in self.rfile:
            line = raw.decode("latin-1").rstrip("\n")
            log.append(line)
            words = line.split()
            if not words:
                continue
            cmd = words[0].upper()
            reply = ""
            if cmd == "DUMPALL":
                reply = FAKE_DUMP
            elif cmd == "PING":
                reply = "" if self.server.silent else "PONG\n"       # type: ignore[attr-defined]
            elif cmd in ("SET", "INSTCMD") and "TRACKING" in words:
                tid = words[words.index("TRACKING") + 1]
                code = {"beeper.toggle": 3, "load.off": 0, "test.battery.start": 2}.get(words[1], 0)
                reply = f"TRACKING {tid} {code}\n"
            if reply:
                try:
                    self.wfile.write(reply.encode())
                    self.wfile.flush()
                except OSError:
                    return


class FakeDriver(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str) -> None:
        self.sessions: list[list[str]] = []
        self.writers: list = []
        self.silent = False         # True: stop answering PING, as a hung driver would
        super().__init__(path, _FakeHandler)
        os.chmod(path, 0o660)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def broadcast(self, text: str) -> None:
        """Send lines to every connected upsd, as a driver broadcasts a state change."""
        for w, _ in list(self.writers):
            try:
                w.write(text.encode())
                w.flush()
            except (OSError, ValueError):
                pass

    def stop(self) -> None:
        """Go away like a dying driver: stop listening, drop every connection, remove the socket."""
        self.shutdown()
        self.server_close()
        for _, sock in list(self.writers):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.writers.clear()
        try:
            os.unlink(self.server_address)
        except OSError:
            pass


@dataclass
class Stack:
    """Real upsd on `real_port`, ours on `our_port`, both over the same drivers."""

    root: Path
    procs: Procs = field(default_factory=Procs)
    real_dirs: NutDirs | None = None
    our_dirs: NutDirs | None = None
    real_port: int = 0
    our_port: int = 0
    fake: FakeDriver | None = None

    def stop(self) -> None:
        self.procs.stop_all()
        if self.fake is not None:
            self.fake.stop()


def _write_confs(d: NutDirs, port: int, extra: str = "") -> None:
    d.write("ups.conf", UPS_CONF)
    d.write("dummy.dev", DUMMY_DEV)
    d.write("upsd.conf", f"LISTEN 127.0.0.1 {port}\n{extra}")
    d.write("upsd.users", UPSD_USERS)


def start_stack(root: Path, with_real: bool = True, upsd_extra: str = "") -> Stack:
    """Start dummy-ups (real), the fake driver, real upsd (optional) and our upsd."""
    st = Stack(root)
    shared_state = root / "run"
    st.our_dirs = NutDirs(root / "ours")
    st.our_dirs.state = shared_state
    shared_state.mkdir(parents=True, exist_ok=True)
    st.our_port = free_port()
    _write_confs(st.our_dirs, st.our_port, upsd_extra)
    env = st.our_dirs.env
    st.fake = FakeDriver(str(shared_state / "fakedrv-fake"))
    drv = st.procs.start([real_nut("dummy-ups") or "/lib/nut/dummy-ups", "-a", "dummy", "-u", "root", "-F"],
                         env=env)
    wait_for(lambda: driver_ready(str(shared_state / "dummy-ups-dummy")) or drv.poll() is not None, 15,
             what="dummy-ups with its data loaded")
    if with_real:
        st.real_dirs = NutDirs(root / "real")
        st.real_dirs.state = shared_state
        st.real_port = free_port()
        _write_confs(st.real_dirs, st.real_port, upsd_extra)
        st.procs.start([real_nut("upsd") or "/lib/nut/upsd", "-F", "-u", "root"] + os.environ.get("PNUT_REAL_UPSD_ARGS", "").split(), env=st.real_dirs.env)
    st.procs.start([ours("upsd"), "-F", "-u", "root"], env=env)
    ports = [st.our_port] + ([st.real_port] if with_real else [])
    for port in ports:
        wait_for(lambda p=port: _answers(p, b"GET VAR dummy ups.status\n", b'VAR dummy ups.status "OL"'), 15,
                 what=f"upsd on {port} serving dummy")
        wait_for(lambda p=port: _answers(p, b"GET VAR fake ups.status\n", b'VAR fake ups.status "OL'), 15,
                 what=f"upsd on {port} serving fake")
    return st


def driver_ready(path: str) -> bool:
    """True once a driver's dump includes ups.status (dummy-ups loads its file after it starts listening)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect(path)
            s.sendall(b"DUMPALL\n")
            data = b""
            while b"DUMPDONE" not in data:
                b = s.recv(65536)
                if not b:
                    break
                data += b
            return b"SETINFO ups.status" in data
    except OSError:
        return False


def _answers(port: int, req: bytes, want: bytes) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(req)
            return s.recv(4096).startswith(want)
    except OSError:
        return False


def _count_units(data: bytes) -> int:
    """Complete responses in `data`: a line, or a whole BEGIN LIST … END LIST block."""
    units = 0
    in_list = False
    for line in data.split(b"\n")[:-1]:
        if in_list:
            if line.startswith((b"END LIST", b"ERR")):
                in_list = False
                units += 1
        elif line.startswith(b"BEGIN LIST"):
            in_list = True
        else:
            units += 1
    return units


def run_session(port: int, items: list, timeout: float = 2.0) -> bytes:
    """Send each item on one connection and collect the replies.

    An item is bytes (expects one response per newline), a (bytes, n) pair (expects n responses),
    or a float (sleep that long, for results that depend on a driver's answer)."""
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        for item in items:
            if isinstance(item, float):
                time.sleep(item)
                continue
            data, n = (item, item.count(b"\n")) if isinstance(item, bytes) else item
            got = b""
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                return out + b"<EOF>"
            deadline = time.monotonic() + (0.25 if n == 0 else timeout)
            while time.monotonic() < deadline and (n == 0 or _count_units(got) < n):
                s.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    b = s.recv(65536)
                except TimeoutError:
                    break
                except ConnectionResetError:
                    b = b""
                if not b:
                    out += got + b"<EOF>"
                    return out
                got += b
            out += got
    return out


def have_real_nut() -> bool:
    return real_nut("upsd") is not None and real_nut("dummy-ups") is not None and shutil.which("true") is not None
