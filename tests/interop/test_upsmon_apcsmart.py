"""The full rehearsal down to the UPS: NUT's real apcsmart driver on our simulated Smart-UPS, our upsd,
our primary and secondary upsmon.  The mains fail, the battery runs low, both hosts shut down in order,
and the halt script's `upsmon -K` + `upsdrvctl shutdown` make the driver send its power-off to the UPS."""

from __future__ import annotations

import pytest

from pnut.drivers.apcsmart_sim import SmartUPS
from pnut.drivers.apcsmart_sim_pty import SimulatorPty
from tests.e2e.rehearsal_harness import Stack
from tests.procs import ours, real_nut, run, wait_for

pytestmark = pytest.mark.skipif(real_nut("apcsmart") is None, reason="Debian's NUT apcsmart driver is missing")


def test_outage_ends_with_the_ups_told_to_power_off(nut, procs):
    with SimulatorPty(SmartUPS("smart-ups-1500")) as sim:
        ups = sim.ups
        st = Stack(nut, procs, impl="ours")
        st.configure({})
        nut.write("ups.conf", f"driverpath = /lib/nut\n[ups1]\n\tdriver = apcsmart\n\tport = {sim.path}\n"
                              "\tpollinterval = 1\n")
        st.upses = {"ups1": ""}
        driver = procs.start([real_nut("apcsmart"), "-a", "ups1", "-F", "-u", "root"], env=nut.env,
                             stdout=open(nut.root / "driver.out", "w"), stderr=open(nut.root / "driver.log", "w"))
        st.start_upsd()
        wait_for(lambda: st.ups_status("ups1") == "OL", 30, interval=0.3, what="upsd serving the Smart-UPS")
        p = st.launch(st.host("p", st.monitor_line("ups1", True), hostsync=5))
        s = st.launch(st.host("s", st.monitor_line("ups1", False), hostsync=5))
        st.wait_logins("ups1", 2)

        sim.call(ups.power_fail)
        p.wait_notice("ONBATT", 20)
        sim.call(ups.set_runtime, 1.0)               # below the low-battery runtime: LB
        t_p = p.wait_shutdown(40)
        t_s = s.wait_shutdown(5)
        assert t_s < t_p
        assert "FSD" in s.types() and "LOWBATT" in p.types()

        # the halt script: the flag is set, the driver is no longer running, the UPS is told to power off
        k = run([ours("upsmon"), "-K", "-f", str(p.conf)], env=nut.env)
        assert k.returncode == 0, k.stderr
        driver.terminate()
        driver.wait(15)
        before = len(ups.shutdowns)
        sd = run([ours("upsdrvctl"), "-u", "root", "shutdown"], env=nut.env, timeout=90)
        assert sd.returncode == 0, sd.stdout + sd.stderr
        wait_for(lambda: len(ups.shutdowns) > before, 15, what="the shutdown command reaching the UPS")
        order = ups.shutdowns[-1]
        assert order.command in ("S", "@", "K", "Z") and order.wall > t_p, order
