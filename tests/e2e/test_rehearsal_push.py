"""The fast path (upsmon/PUSH.md): a stand-in server that pushes status changes wakes our upsmon at once;
a server without WATCH is asked once and then simply polled."""

from __future__ import annotations

import socket
import threading

from tests.e2e.rehearsal_harness import MARK_SH, NOTIFY_SH, Host
from tests.procs import free_port, ours, wait_for


class StandIn:
    """Just enough of upsd for one upsmon: login, GET VAR ups.status, NUMLOGINS, FSD, and WATCH."""

    def __init__(self, watch: bool) -> None:
        self.watch = watch
        self.status = "OL"
        self.watch_requests = 0
        self.gets = 0
        self.watchers: list[socket.socket] = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = free_port()
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _reply(self, words: list[str]) -> str | None:
        verb = words[0] if words else ""
        if verb in ("USERNAME", "PASSWORD", "LOGIN", "PRIMARY"):
            return "OK"
        if verb == "GET" and words[1:2] == ["VAR"]:
            self.gets += 1
            return f'VAR {words[2]} ups.status "{self.status}"'
        if verb == "GET" and words[1:2] == ["NUMLOGINS"]:
            return f"NUMLOGINS {words[2]} 1"
        if verb == "FSD":
            self.status = "FSD " + self.status
            return "OK FSD-SET"
        if verb == "WATCH":
            self.watch_requests += 1
            return "OK WATCHING" if self.watch else "ERR UNKNOWN-COMMAND"
        if verb == "LOGOUT":
            return None
        return "ERR UNKNOWN-COMMAND"

    def _serve(self, c: socket.socket) -> None:
        buf = b""
        with c:
            while True:
                try:
                    data = c.recv(1024)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    words = line.decode().replace('"', "").split()
                    reply = self._reply(words)
                    if reply is None:
                        c.sendall(b"OK Goodbye\n")
                        return
                    c.sendall(reply.encode() + b"\n")
                    if reply == "OK WATCHING":
                        with self.lock:
                            self.watchers.append(c)

    def set_status(self, status: str) -> None:
        self.status = status
        with self.lock:
            for w in self.watchers:
                try:
                    w.sendall(f'STATUS ups "{status}"\n'.encode())
                except OSError:
                    pass

    def close(self) -> None:
        self.stopping = True
        self.sock.close()


def _host(nut, port: int, pollfreq: int) -> Host:
    d = nut.root / "host"
    d.mkdir()
    h = Host("h", d, "ours")
    (d / "notify.sh").write_text(NOTIFY_SH)
    (d / "mark.sh").write_text(MARK_SH)
    (d / "notify.sh").chmod(0o755)
    (d / "mark.sh").chmod(0o755)
    h.conf.write_text(f"MONITOR ups@127.0.0.1:{port} 1 u p primary\nPOLLFREQ {pollfreq}\nPOLLFREQALERT {pollfreq}\n"
                      f"SHUTDOWNCMD \"{d / 'mark.sh'} {h.marker}\"\nNOTIFYCMD {d / 'notify.sh'}\n"
                      "NOTIFYFLAG ONBATT EXEC\nNOTIFYFLAG ONLINE EXEC\nRUN_AS_USER root\n")
    return h


def _launch(procs, nut, h: Host) -> None:
    env = dict(nut.env, NUT_PIDPATH=str(h.dir))
    h.proc = procs.start([ours("upsmon"), "-F", "-f", str(h.conf)], env=env,
                         stdout=open(h.dir / "stdout.log", "w"), stderr=open(h.dir / "upsmon.log", "w"))
    procs.adopt_pidfile(h.dir / "upsmon.pid")


def test_pushed_change_wakes_upsmon(nut, procs):
    srv = StandIn(watch=True)
    try:
        h = _host(nut, srv.port, pollfreq=120)     # the next poll is minutes away: only a push can help
        _launch(procs, nut, h)
        wait_for(lambda: srv.watchers, 15, what="upsmon's WATCH")
        gets = srv.gets
        srv.set_status("OB DISCHRG")
        h.wait_notice("ONBATT", 20)
        srv.set_status("OL CHRG")
        h.wait_notice("ONLINE", 20)
        assert srv.gets <= gets + 3                # woken once per change, no busy polling
    finally:
        srv.close()


def test_server_without_watch_is_polled(nut, procs):
    srv = StandIn(watch=False)
    try:
        h = _host(nut, srv.port, pollfreq=1)
        _launch(procs, nut, h)
        wait_for(lambda: srv.gets >= 2, 15, what="polls")
        srv.set_status("OB DISCHRG")
        h.wait_notice("ONBATT", 20)
        assert srv.watch_requests == 1             # asked once, then never again
    finally:
        srv.close()
