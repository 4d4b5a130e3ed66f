"""apcupsd's own apcsmart driver against our APC Smart-UPS simulator: a second, independent protocol client.

Debian's `apcupsd` conflicts with nut-client, so it is unpacked, not installed (see tests/apcupsd.py; CI
unpacks it and sets PNUT_APCUPSD_ROOT).  Without it these tests skip.
"""

from __future__ import annotations

import pytest

from pnut.drivers.apcsmart_sim import SmartUPS
from pnut.drivers.apcsmart_sim_pty import SimulatorPty
from tests.apcupsd import ROOT, Apcupsd, env
from tests.procs import run, wait_for

pytestmark = pytest.mark.skipif(ROOT is None, reason="apcupsd is not unpacked (see tests/apcupsd.py)")


def _status(port: int) -> dict[str, str]:
    """What `apcaccess status` prints, as a dict (apcupsd's own NIS client, not ours)."""
    assert ROOT is not None
    res = run([str(ROOT / "sbin" / "apcaccess"), "status", f"127.0.0.1:{port}"], env=env(), timeout=10)
    out = {}
    for line in res.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def test_apcupsd_reads_simulator_and_follows_an_outage(tmp_path, procs):
    assert ROOT is not None
    with SimulatorPty(SmartUPS("smart-ups-1500")) as sim:
        apc = Apcupsd(tmp_path / "apc", sim.path, procs)
        apc.start(wait=False)
        port, d = apc.port, apc.workdir
        # apcupsd serves its status before it has read everything from the UPS (MODEL empty, LINEV 0.0 for a
        # while): wait until its first complete picture, then compare it
        want = {"MODEL": "Smart-UPS 1500", "STATUS": "ONLINE", "SERIALNO": "AS0537230534", "FIRMWARE": "601.3.I",
                "LINEV": "236.1 Volts", "BCHARGE": "100.0 Percent", "TIMELEFT": "62.0 Minutes",
                "DSHUTD": "90 Seconds", "HITRANS": "253.0 Volts", "LOTRANS": "208.0 Volts",
                "NOMOUTV": "230 Volts", "BATTDATE": "09/06/05"}

        def picture() -> dict[str, str | None]:
            st = _status(port)
            return {k: st.get(k) for k in want}

        last: dict[str, str | None] = {}
        try:
            wait_for(lambda: (last.update(picture()) or last) == want, 30, what="apcaccess status")
        finally:
            assert last == want

        sim.call(sim.ups.power_fail)
        wait_for(lambda: _status(port).get("STATUS") == "ONBATT", 20, what="ONBATT")
        assert _status(port)["LASTXFER"] == "Low line voltage"
        sim.call(sim.ups.set_runtime, 1.0)
        wait_for(lambda: _status(port).get("STATUS") == "ONBATT LOWBATT", 20, what="ONBATT LOWBATT")
        events = d / "events.log"
        wait_for(lambda: events.exists() and "doshutdown" in events.read_text(), 20, what="doshutdown event")
        assert {"powerout", "onbattery"} <= set(events.read_text().split())

        # with the power-fail flag left by doshutdown, `apcupsd --killpower` hibernates the UPS: 'S' on battery
        apc.stop()
        run([str(ROOT / "sbin" / "apcupsd"), "-f", str(apc.conf), "--killpower"], env=env(), timeout=30)
        wait_for(lambda: sim.ups.shutdowns, 30, what="apcupsd's kill-power command")
        assert sim.ups.shutdowns[0].raw == b"S"
