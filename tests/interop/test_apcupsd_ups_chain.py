"""The whole chain: Smart-UPS simulator -> real apcupsd (Debian's 3.14) -> NIS -> our apcupsd-ups -> our upsd ->
our upsc and Debian's upsc, with Debian's apcupsd-ups beside ours on the same apcupsd and the same upsd.

A mains failure cued on the simulator travels the chain as OB, then OB LB; apcupsd going away makes our data
stale (upsc: "Error: Data stale") and fresh again when it is back."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from pnut.drivers.apcsmart_sim import SmartUPS
from pnut.drivers.apcsmart_sim_pty import SimulatorPty
from tests.apcupsd import ROOT, Apcupsd
from tests.interop.test_upsd_harness import UPSD_USERS
from tests.procs import free_port, ours, real_nut, run, wait_for

pytestmark = pytest.mark.skipif(ROOT is None, reason="apcupsd is not unpacked (see tests/apcupsd.py)")

UPS_CONF = """\
pollinterval = 1
[ours]
  driver = apcupsd-ups
  port = 127.0.0.1:{nis}
  desc = "pnut's apcupsd-ups"
[theirs]
  driver = apcupsd-ups
  port = 127.0.0.1:{nis}
  desc = "NUT 2.8.0's apcupsd-ups"
"""


class StatusRecorder(threading.Thread):
    """Asks upsd for each UPS's ups.status every 50 ms and keeps every change it sees, in order."""

    def __init__(self, port: int, names: tuple[str, ...]) -> None:
        super().__init__(daemon=True)
        self.port, self.names = port, names
        self.seen: dict[str, list[str]] = {n: [] for n in names}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                    f = s.makefile("rb")
                    while not self.done.is_set():
                        s.sendall(b"".join(b"GET VAR %s ups.status\n" % n.encode() for n in self.names))
                        for n in self.names:
                            line = f.readline().decode("latin-1").rstrip("\n")
                            value = line.split('"')[1] if line.startswith("VAR ") else line
                            if not self.seen[n] or self.seen[n][-1] != value:
                                self.seen[n].append(value)
                        time.sleep(0.05)
            except (OSError, IndexError):
                time.sleep(0.1)

    def stop(self) -> None:
        self.done.set()
        self.join(10)


def test_power_failure_and_apcupsd_loss_through_the_chain(tmp_path, nut, procs):
    real_driver, real_upsc = real_nut("apcupsd-ups"), real_nut("upsc")
    if real_driver is None or real_upsc is None:
        pytest.skip("Debian's apcupsd-ups and upsc are needed")
    port = free_port()

    def upsc(prog: str, ups: str, var: str | None = None):
        res = run([prog, f"{ups}@127.0.0.1:{port}"] + ([var] if var else []), env=nut.env, timeout=15)
        # the last line: NUT 2.8.0's upsc may first say "Init SSL without certificate database"
        return res.returncode, res.stdout, (res.stderr.strip().splitlines() or [""])[-1]

    def status(ups: str, prog: str | None = None) -> str | None:
        rc, out, _ = upsc(prog or ours("upsc"), ups, "ups.status")
        return out.rstrip("\n") if rc == 0 else None

    def table(ups: str) -> dict[str, str]:
        rc, out, _ = upsc(ours("upsc"), ups)
        return dict(line.split(": ", 1) for line in out.splitlines()) if rc == 0 else {}

    with SimulatorPty(SmartUPS("smart-ups-1500")) as sim:
        apc = Apcupsd(tmp_path / "apc", sim.path, procs)
        apc.start()
        nut.write("ups.conf", UPS_CONF.format(nis=apc.port))
        nut.write("upsd.conf", f"LISTEN 127.0.0.1 {port}\n")
        nut.write("upsd.users", UPSD_USERS)
        procs.start([ours("apcupsd-ups"), "-a", "ours", "-u", "root", "-F"], env=nut.env)
        procs.start([real_driver, "-a", "theirs", "-u", "root", "-F"], env=nut.env)
        procs.start([ours("upsd"), "-F", "-u", "root"], env=nut.env)
        wait_for(lambda: status("ours") == "OL" and status("theirs") == "OL", 20, what="both drivers on line")

        # same variables and values from both drivers (the clock may tick between the two reads)
        def same() -> bool:
            a, b = table("ours"), table("theirs")
            for t in (a, b):
                t.pop("ups.time", None)
            return bool(a) and a == b and a
        wait_for(same, 10, what="the same table from our driver and NUT's")
        mine = table("ours")
        assert {k: mine[k] for k in ("ups.mfr", "ups.model", "ups.serial", "ups.firmware", "input.voltage",
                                     "battery.charge", "battery.runtime", "input.sensitivity",
                                     "driver.parameter.pollinterval", "ups.delay.shutdown")} == {
            "ups.mfr": "APC", "ups.model": "Smart-UPS 1500", "ups.serial": "AS0537230534",
            "ups.firmware": "601.3.I", "input.voltage": "236.1", "battery.charge": "100.0",
            "battery.runtime": "3720.0", "input.sensitivity": "H", "driver.parameter.pollinterval": "1",
            "ups.delay.shutdown": "90"}
        # Debian's upsc prints the same table for our driver
        rc, out, _ = upsc(real_upsc, "ours")
        assert rc == 0 and dict(line.split(": ", 1) for line in out.splitlines()).keys() == mine.keys()

        # apcupsd goes away: our data turns stale (the values are kept, never wrong), then fresh again
        apc.stop()
        for prog in (ours("upsc"), real_upsc):
            wait_for(lambda p=prog: upsc(p, "ours", "ups.status")[::2] == (1, "Error: Data stale"), 15,
                     what=f"{prog}: Data stale")
        # NUT 2.8.0's driver never says stale: it deletes what apcupsd no longer sends
        wait_for(lambda: "battery.voltage" not in table("theirs"), 10, what="NUT's driver dropping values")
        assert status("theirs") == "OL"
        apc.start()
        wait_for(lambda: status("ours") == "OL" and table("ours").get("battery.voltage"), 20,
                 what="fresh data after apcupsd came back")

        recorder = StatusRecorder(port, ("ours", "theirs"))
        recorder.start()
        try:
            # the mains fail: OB at the end of the chain, in both upsc programs and from both drivers
            sim.call(sim.ups.power_fail)
            wait_for(lambda: status("ours") == "OB" and status("ours", real_upsc) == "OB", 20, what="OB")
            wait_for(lambda: status("theirs") == "OB", 10, what="OB from NUT's driver")
            assert table("ours")["input.transfer.reason"] == "Low line voltage"
            # the battery runs low: OB LB.  apcupsd itself decides to shut down 5 s later and then only says
            # "SHUTTING DOWN", which NUT 2.8.0 maps to an empty ups.status: catch the window
            sim.call(sim.ups.set_runtime, 1.0)
            wait_for(lambda: status("ours") == "OB LB" and status("ours", real_upsc) == "OB LB", 8,
                     interval=0.02, what="OB LB")
            wait_for(lambda: status("ours") == "" and status("theirs") == "", 20,
                     what="apcupsd's SHUTTING DOWN, mapped as NUT 2.8.0 does")
        finally:
            recorder.stop()
        for name in ("ours", "theirs"):
            seen = [s for s in recorder.seen[name] if not s.startswith("ERR")]
            assert seen[-4:] == ["OL", "OB", "OB LB", ""], (name, recorder.seen[name])
        # apcupsd saw it all too, and its shutdown went only to the test's apccontrol
        assert {"powerout", "failing", "doshutdown"} <= set((tmp_path / "apc" / "events.log").read_text().split())
