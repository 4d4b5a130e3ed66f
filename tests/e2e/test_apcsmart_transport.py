"""Our apcsmart as a process: ports that NUT cannot open (rfc2217:// in front of the simulator's pty, socket://
to its TCP runner), and a line that misbehaves (late answers, garbage, pulled cable) between driver and UPS."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import serial
import serial.rfc2217

from pnut.drivers.apcsmart_sim import SmartUPS
from pnut.drivers.apcsmart_sim_pty import SimulatorPty, SimulatorTcp
from tests.procs import ours, run, wait_for


class _PtyLine(serial.Serial):
    """The server's side of the pty: a pty has no modem lines, so DTR/RTS requests from the client are
    accepted and ignored, and the status lines read as low."""

    cts = dsr = ri = cd = property(lambda self: False)

    def _update_dtr_state(self) -> None:
        with contextlib.suppress(OSError):
            super()._update_dtr_state()

    def _update_rts_state(self) -> None:
        with contextlib.suppress(OSError):
            super()._update_rts_state()


class _Out:
    """Where the PortManager writes its telnet replies: the client's socket."""

    def __init__(self, conn: socket.socket, lock: threading.Lock) -> None:
        self.conn, self.lock = conn, lock

    def write(self, data: bytes) -> None:
        with self.lock:
            self.conn.sendall(data)


class Rfc2217Server:
    """A small RFC 2217 server (as pyserial's examples/rfc2217_server.py) in front of a device path."""

    def __init__(self, device: str) -> None:
        self.line = _PtyLine(device, 2400, timeout=0.1)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"rfc2217://127.0.0.1:{self.listener.getsockname()[1]}"
        self.alive = True
        self.conn: socket.socket | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.alive:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.conn = conn
            lock = threading.Lock()

            mgr = serial.rfc2217.PortManager(self.line, _Out(conn, lock))
            reader = threading.Thread(target=self._reader, args=(conn, mgr, lock), daemon=True)
            reader.start()
            with contextlib.suppress(OSError):
                while self.alive:
                    data = conn.recv(1024)
                    if not data:
                        break
                    self.line.write(b"".join(mgr.filter(data)))
            conn.close()

    def _reader(self, conn: socket.socket, mgr, lock) -> None:
        with contextlib.suppress(OSError, serial.SerialException, TypeError):    # TypeError: line closed
            while self.alive:
                data = self.line.read(self.line.in_waiting or 1)
                if data:
                    with lock:
                        conn.sendall(b"".join(mgr.escape(data)))

    def close(self) -> None:
        self.alive = False
        self.listener.close()
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.shutdown(socket.SHUT_RDWR)
        self.line.close()


def parse(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line and "." in line.split(": ")[0])


def dump(nut, port: str) -> dict[str, str]:
    nut.write("ups.conf", f"[ups]\n\tdriver = apcsmart\n\tport = {port}\n")
    res = run([ours("apcsmart"), "-a", "ups", "-u", "root", "-d", "1"], env=nut.env, timeout=60)
    assert res.returncode == 0, res.stderr
    got = parse(res.stdout)
    assert got.pop("driver.parameter.port") == port
    return got


def test_rfc2217_and_socket_ports_give_the_same_data_as_a_tty(nut):
    with SimulatorPty(SmartUPS("smart-ups-1500")) as sim:
        on_tty = dump(nut, sim.path)
        server = Rfc2217Server(sim.path)
        try:
            on_rfc2217 = dump(nut, server.url)
        finally:
            server.close()
    with SimulatorTcp(SmartUPS("smart-ups-1500")) as tcp:
        on_socket = dump(nut, tcp.url)
    assert on_rfc2217 == on_tty
    assert on_socket == on_tty
    assert on_tty["ups.model"] == "Smart-UPS 1500" and on_tty["ups.status"] == "OL"


def test_unreachable_url_is_reported(nut):
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    nut.write("ups.conf", f"[ups]\n\tdriver = apcsmart\n\tport = socket://127.0.0.1:{port}\n")
    res = run([ours("apcsmart"), "-a", "ups", "-u", "root", "-d", "1"], env=nut.env, timeout=30)
    assert res.returncode == 1
    assert f"Unable to open socket://127.0.0.1:{port}" in res.stderr
    assert "Fatal error: unusable configuration" in res.stderr and "Traceback" not in res.stderr


class Line:
    """A TCP proxy standing for the cable between driver and UPS: pass, late (replies held 3.5 s),
    garbage (replies replaced by line noise), or pulled (connections refused and cut)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            if self.mode == "pulled":
                down.close()
                continue
            up = socket.create_connection(self.upstream)
            self.conns += [down, up]
            threading.Thread(target=self._pump, args=(down, up, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_ups: bool) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = src.recv(1024)
                if not data:
                    break
                if from_ups and self.mode == "late":
                    threading.Timer(3.5, lambda d=data: _send(dst, d)).start()
                    continue
                if from_ups and self.mode == "garbage":
                    data = b"\xfe\x80Zz\xc3" * len(data) + b"\r\n"
                if self.mode != "pulled":
                    dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.close()

    def pull(self) -> None:
        self.mode = "pulled"
        for s in self.conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self.conns.clear()

    def close(self) -> None:
        self.pull()
        self.listener.close()


def _send(s: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        s.sendall(data)


class Watch:
    """A reader of the driver socket: every ups.status the driver publishes, and whether data is stale."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.statuses: list[str] = []
        self.stale = True
        self.stale_count = 0
        self.sock.sendall(b"DUMPALL\n")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        with contextlib.suppress(OSError):
            while chunk := self.sock.recv(4096):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    line = raw.decode("latin-1")
                    if line.startswith("SETINFO ups.status "):
                        self.statuses.append(line.split(" ", 2)[2].strip('"'))
                    elif line == "DATASTALE":
                        self.stale, self.stale_count = True, self.stale_count + 1
                    elif line == "DATAOK":
                        self.stale = False

    def close(self) -> None:
        self.sock.close()


def test_late_garbage_and_pulled_line_go_stale_and_recover(nut, procs):
    with SimulatorTcp(SmartUPS("smart-ups-1500")) as tcp:
        line = Line(tcp.address)
        try:
            nut.write("ups.conf", f"[ups]\n\tdriver = apcsmart\n\tport = {line.url}\n\tpollinterval = 1\n")
            procs.start([ours("apcsmart"), "-a", "ups", "-u", "root", "-F"], env=nut.env)
            sock = nut.state / "apcsmart-ups"
            wait_for(sock.exists, 30, what="driver socket")
            w = Watch(str(sock))
            wait_for(lambda: not w.stale and w.statuses, 10, what="first data")

            for mode in ("late", "garbage"):
                line.mode = mode
                n = w.stale_count
                wait_for(lambda n=n: w.stale_count > n, 15, what=f"stale data with a {mode} line")
                line.mode = "pass"
                wait_for(lambda: not w.stale, 30, what=f"recovery after the {mode} line")

            line.pull()
            n = w.stale_count
            wait_for(lambda n=n: w.stale_count > n, 15, what="stale data with the cable pulled")
            time.sleep(2)                      # reconnects are refused meanwhile
            line.mode = "pass"
            wait_for(lambda: not w.stale, 30, what="recovery after the cable is back")
            assert set(w.statuses) == {"OL"}, w.statuses
            w.close()
        finally:
            line.close()
