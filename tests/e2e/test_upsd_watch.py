"""WATCH end to end (upsmon/PUSH.md): our dummy-ups, our upsd and our upsmon.  A raw watcher sees the
events upsd pushes as the driver changes; our upsmon with POLLFREQ 30 is notified of ONBATT by the push,
long before its next poll would have happened."""

from __future__ import annotations

import socket
import time

from tests.e2e.rehearsal_harness import Stack, seq
from tests.procs import wait_for

POLLFREQ = 30


def _talk(port: int, lines: list[str]) -> list[str]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rw")
        out = []
        for line in lines:
            f.write(line + "\n")
            f.flush()
            out.append(f.readline().rstrip("\n"))
        return out


def _set_status(st: Stack, value: str) -> None:
    assert _talk(st.port, ["USERNAME mon", "PASSWORD pass", f'SET VAR ups ups.status "{value}"'])[2] == "OK"


class RawWatcher:
    def __init__(self, port: int, *names: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.sock.makefile("r")
        for name in names:
            self.sock.sendall(f"WATCH {name}\n".encode())
            assert self.line() == "OK WATCHING"

    def line(self) -> str:
        return self.f.readline().rstrip("\n")

    def close(self) -> None:
        self.sock.close()


def test_watch_push_end_to_end(nut, procs):
    st = Stack(nut, procs, impl="ours")
    st.configure({"ups": seq(("OL", 3600))}, pollinterval=2)
    nut.write("upsd.users", "[mon]\n\tpassword = pass\n\tactions = SET\n\tupsmon primary\n")
    st.start()
    port = st.port
    # the verb's replies; no existing command changes (the transcript tests compare those with NUT)
    assert _talk(port, ["WATCH", "WATCH nosuch", "WATCH ups"]) == [
        "ERR INVALID-ARGUMENT", "ERR UNKNOWN-UPS", "OK WATCHING"]

    w = RawWatcher(port, "ups")
    _set_status(st, "OB DISCHRG")
    assert w.line() == 'STATUS ups "OB DISCHRG"'
    _set_status(st, "OB DISCHRG")            # no change, no event: the next line is the next change
    _set_status(st, "OL")
    assert w.line() == 'STATUS ups "OL"'

    # our upsmon: its next poll is POLLFREQ (30 s) away, so only the push can notify ONBATT sooner
    h = st.host("a", st.monitor_line("ups", True), pollfreq=POLLFREQ)
    st.launch(h, args=("-D",))
    wait_for(lambda: "watching for pushed status changes" in (h.dir / "upsmon.log").read_text(), 20,
             interval=0.1, what="upsmon's WATCH")
    t0 = time.time()
    _set_status(st, "OB DISCHRG")
    assert w.line() == 'STATUS ups "OB DISCHRG"'
    h.wait_notice("ONBATT", POLLFREQ - 10)    # bounded well inside the poll interval
    assert h.first("ONBATT") - t0 < POLLFREQ - 5
    _set_status(st, "OL")
    assert w.line() == 'STATUS ups "OL"'
    h.wait_notice("ONLINE", POLLFREQ - 10)

    # the driver goes away: watchers hear STALE at once
    st.stop_driver("ups")
    assert w.line() == "STALE ups"
    w.close()
