"""apcupsd's own apcsmart driver against our APC Smart-UPS simulator: a second, independent protocol client.

Debian's `apcupsd` conflicts with nut-client, so it is not installed; unpack it once (no root install needed):
    apt-get download apcupsd libusb-0.1-4 && dpkg -x apcupsd_*.deb DIR && dpkg -x libusb-0.1-4_*.deb DIR
and point PNUT_APCUPSD_ROOT at DIR (default /tmp/apcupsd-pkg/root).  Without it these tests skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pnut.drivers.apcsmart_sim import SmartUPS
from pnut.drivers.apcsmart_sim_pty import SimulatorPty
from tests.procs import free_port, run, wait_for


def _apcupsd_root() -> Path | None:
    root = Path(os.environ.get("PNUT_APCUPSD_ROOT", "/tmp/apcupsd-pkg/root"))
    if (root / "sbin" / "apcupsd").is_file():
        return root
    found = shutil.which("apcupsd")
    return Path(found).parent.parent if found else None


ROOT = _apcupsd_root()
pytestmark = pytest.mark.skipif(ROOT is None, reason="apcupsd is not unpacked (see module docstring)")

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

# apcupsd runs this for every event; it must never act on the host, only note the event
APCCONTROL = """#!/bin/sh
echo "$1" >> "{d}/events.log"
exit 99
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    libdir = ROOT / "lib" / "x86_64-linux-gnu"
    if libdir.is_dir():
        env["LD_LIBRARY_PATH"] = f"{libdir}:{env.get('LD_LIBRARY_PATH', '')}".rstrip(":")
    return env


def _status(port: int) -> dict[str, str]:
    res = run([str(ROOT / "sbin" / "apcaccess"), "status", f"127.0.0.1:{port}"], env=_env(), timeout=10)
    out = {}
    for line in res.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def test_apcupsd_reads_simulator_and_follows_an_outage(tmp_path, procs):
    d = tmp_path / "apc"
    d.mkdir()
    (d / "apccontrol").write_text(APCCONTROL.format(d=d))
    (d / "apccontrol").chmod(0o755)
    port = free_port()
    with SimulatorPty(SmartUPS("smart-ups-1500")) as sim:
        conf = d / "apcupsd.conf"
        conf.write_text(CONF.format(device=sim.path, d=d, port=port))
        procs.start([str(ROOT / "sbin" / "apcupsd"), "-b", "-f", str(conf), "-P", str(d / "apcupsd.pid")],
                    env=_env())
        # apcupsd serves its status before the first full read of the UPS: wait for the settings to be in
        st = wait_for(lambda: (s := _status(port)).get("FIRMWARE") and s.get("DSHUTD", "-1").startswith("9")
                      and s, 30, what="apcaccess status")
        assert {k: st.get(k) for k in ("MODEL", "STATUS", "SERIALNO", "FIRMWARE", "LINEV", "BCHARGE",
                                       "TIMELEFT", "DSHUTD", "HITRANS", "LOTRANS", "NOMOUTV", "BATTDATE")} == {
            "MODEL": "Smart-UPS 1500", "STATUS": "ONLINE", "SERIALNO": "AS0537230534", "FIRMWARE": "601.3.I",
            "LINEV": "236.1 Volts", "BCHARGE": "100.0 Percent", "TIMELEFT": "62.0 Minutes",
            "DSHUTD": "90 Seconds", "HITRANS": "253.0 Volts", "LOTRANS": "208.0 Volts",
            "NOMOUTV": "230 Volts", "BATTDATE": "09/06/05"}

        sim.call(sim.ups.power_fail)
        wait_for(lambda: _status(port).get("STATUS") == "ONBATT", 20, what="ONBATT")
        assert _status(port)["LASTXFER"] == "Low line voltage"
        sim.call(sim.ups.set_runtime, 1.0)
        wait_for(lambda: _status(port).get("STATUS") == "ONBATT LOWBATT", 20, what="ONBATT LOWBATT")
        events = d / "events.log"
        wait_for(lambda: events.exists() and "doshutdown" in events.read_text(), 20, what="doshutdown event")
        assert {"powerout", "onbattery"} <= set(events.read_text().split())

        # with the power-fail flag left by doshutdown, `apcupsd --killpower` hibernates the UPS: 'S' on battery
        procs.stop_all()
        run([str(ROOT / "sbin" / "apcupsd"), "-f", str(conf), "--killpower"], env=_env(), timeout=30)
        wait_for(lambda: sim.ups.shutdowns, 30, what="apcupsd's kill-power command")
        assert sim.ups.shutdowns[0].raw == b"S"
