"""Debian's real NUT 2.8.0 `apcsmart` driver against our APC Smart-UPS simulator on a pty.

Proves the simulator speaks the protocol well enough for the real driver: dump mode for both models, then
a full real stack (apcsmart + upsd + upsc/upscmd/upsrw) walking a power failure and the shutdown commands.
"""

from __future__ import annotations

import time

import pytest

from pnut.drivers.apcsmart_sim import SmartUPS
from pnut.drivers.apcsmart_sim_pty import SimulatorPty
from tests.procs import free_port, real_nut, run, wait_for

pytestmark = pytest.mark.skipif(real_nut("apcsmart") is None, reason="Debian's NUT apcsmart driver is missing")

# what real apcsmart 2.8.0 reports for the simulated Smart-UPS 1500 (values as in the nut-ddl dump of a real one)
EXPECTED_1500 = {
    "battery.alarm.threshold": "0", "battery.charge": "100.0", "battery.charge.restart": "00",
    "battery.date": "09/06/05", "battery.packs": "000", "battery.runtime": "3720", "battery.runtime.low": "120",
    "battery.voltage": "27.40", "battery.voltage.nominal": "024", "device.mfr": "APC",
    "device.model": "Smart-UPS 1500", "device.serial": "AS0537230534", "device.type": "ups",
    "driver.name": "apcsmart", "input.frequency": "50.00", "input.quality": "FF", "input.sensitivity": "H",
    "input.transfer.high": "253", "input.transfer.low": "208",
    "input.transfer.reason": "no transfers yet since turnon", "input.voltage": "236.1",
    "input.voltage.maximum": "236.1", "input.voltage.minimum": "236.1", "output.voltage": "236.1",
    "output.voltage.nominal": "230", "ups.delay.shutdown": "090", "ups.delay.start": "000",
    "ups.firmware": "601.3.I", "ups.id": "UPS_IDEN", "ups.load": "004.5", "ups.mfr": "APC",
    "ups.mfr.date": "09/06/05", "ups.model": "Smart-UPS 1500", "ups.serial": "AS0537230534", "ups.status": "OL",
    "ups.temperature": "031.0", "ups.test.interval": "1209600", "ups.test.result": "NO",
}

EXPECTED_1250_OLD = {
    "battery.charge": "100.0", "battery.runtime": "2100", "device.model": "Smart-UPS", "device.serial": "09000717",
    "input.frequency": "60.00", "input.voltage": "119.6", "input.transfer.high": "132", "input.transfer.low": "103",
    "output.voltage.nominal": "115", "ups.delay.shutdown": "020", "ups.firmware": "8QD", "ups.load": "023.4",
    "ups.mfr": "APC", "ups.model": "Smart-UPS", "ups.serial": "09000717", "ups.status": "OL",
    "ups.temperature": "036.0",
}


def parse_vars(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        name, sep, value = line.partition(": ")
        if sep and "." in name and " " not in name:
            out[name] = value
    return out


def dump(nut, sim: SimulatorPty, *extra: str) -> dict[str, str]:
    nut.write("ups.conf", f"[ups]\n\tdriver = apcsmart\n\tport = {sim.path}\n")
    res = run([real_nut("apcsmart"), "-a", "ups", "-u", "root", "-d", "1", *extra], env=nut.env, timeout=60)
    assert res.returncode == 0, res.stderr
    return parse_vars(res.stdout)


@pytest.fixture
def sim_1500():
    with SimulatorPty(SmartUPS("smart-ups-1500")) as sim:
        yield sim


def test_real_apcsmart_accepts_new_model(nut, sim_1500):
    got = dump(nut, sim_1500)
    expected = dict(EXPECTED_1500, **{"driver.parameter.port": sim_1500.path})
    assert {k: got.get(k) for k in expected} == expected
    assert set(got) - set(expected) <= {"driver.parameter.pollinterval", "driver.parameter.synchronous",
                                        "driver.version", "driver.version.internal"}


def test_real_apcsmart_accepts_old_model(nut):
    with SimulatorPty(SmartUPS("smart-ups-1250-old")) as sim:
        got = dump(nut, sim)
    assert {k: got.get(k) for k in EXPECTED_1250_OLD} == EXPECTED_1250_OLD
    assert "ups.id" in got and "battery.date" in got


def test_real_apcsmart_raw_tty_mode_and_pnp_cable(nut, sim_1500):
    """ttymode=raw reads byte-wise instead of by lines: same result.  The 940-0095B cable needs DTR/RTS,
    which a pseudo-terminal cannot set, so the driver gives up: simulators need the default cable."""
    got = dump(nut, sim_1500, "-x", "ttymode=raw")
    assert {k: got.get(k) for k in ("ups.model", "ups.status", "battery.runtime")} == {
        "ups.model": "Smart-UPS 1500", "ups.status": "OL", "battery.runtime": "3720"}
    res = run([real_nut("apcsmart"), "-a", "ups", "-u", "root", "-d", "1", "-x", "cable=940-0095B"],
              env=nut.env, timeout=60)
    assert res.returncode != 0 and "ser_set_dtr" in res.stderr


def test_real_apcsmart_sees_cued_power_failure(nut, sim_1500):
    sim_1500.call(sim_1500.ups.power_fail)
    sim_1500.call(sim_1500.ups.set_runtime, 1.5)
    got = dump(nut, sim_1500)
    assert got["ups.status"] == "OB LB"
    assert got["input.voltage"] == "000.0"
    assert got["input.transfer.reason"] == "low utility voltage"
    assert got["battery.runtime"] == "60"


class Stack:
    """Real apcsmart + real upsd on the simulator; upsc/upscmd/upsrw against it."""

    def __init__(self, nut, procs, sim: SimulatorPty) -> None:
        self.nut, self.procs, self.sim = nut, procs, sim
        self.port = free_port()
        nut.write("ups.conf", f"[ups]\n\tdriver = apcsmart\n\tport = {sim.path}\n\tpollinterval = 1\n")
        nut.write("upsd.conf", f"LISTEN 127.0.0.1 {self.port}\n")
        nut.write("upsd.users", "[admin]\n\tpassword = sekret\n\tactions = SET\n\tinstcmds = ALL\n")
        self.driver = procs.start([real_nut("apcsmart"), "-a", "ups", "-u", "root", "-F"], env=nut.env)
        wait_for(lambda: any(nut.state.glob("apcsmart-ups*")), 30, what="driver socket")
        procs.start([real_nut("upsd"), "-F", "-u", "root"], env=nut.env)
        wait_for(lambda: self.get("ups.status"), 30, what="upsd serving ups.status")

    @property
    def ups(self) -> str:
        return f"ups@127.0.0.1:{self.port}"

    def get(self, var: str) -> str | None:
        res = run([real_nut("upsc"), self.ups, var], env=self.nut.env, timeout=10)
        return res.stdout.strip() if res.returncode == 0 else None

    def wait_var(self, var: str, value: str, timeout: float = 20) -> None:
        wait_for(lambda: self.get(var) == value, timeout, what=f"{var} == {value!r} (now {self.get(var)!r})")

    def cmd(self, *args: str) -> None:
        res = run([real_nut("upscmd"), "-u", "admin", "-p", "sekret", self.ups, *args], env=self.nut.env)
        assert res.returncode == 0 and "OK" in res.stdout + res.stderr, res.stdout + res.stderr

    def nasty(self, *args: str) -> bool:
        """Issue a dangerous command as an operator must for apcsmart: again 3 to 15 s after the first issue.

        apcsmart keeps ONE timestamp for all such commands, so an issue 3..15 s after any earlier one (of
        any dangerous command) is obeyed at once.  Returns whether the first issue alone was obeyed.
        """
        count = len(self.sim.ups.shutdowns)
        self.cmd(*args)
        time.sleep(3.5)
        if len(self.sim.ups.shutdowns) > count:
            return True
        self.cmd(*args)
        wait_for(lambda: len(self.sim.ups.shutdowns) > count, 15, what=f"{args} reaching the UPS")
        return False


def test_real_stack_power_failure_and_shutdowns(nut, procs, sim_1500):
    sim, ups = sim_1500, sim_1500.ups
    st = Stack(nut, procs, sim)
    assert st.get("ups.status") == "OL"
    assert st.get("ups.model") == "Smart-UPS 1500"

    # EEPROM settings the capabilities made writable: rotate ups.delay.shutdown with '-'
    res = run([real_nut("upsrw"), st.ups], env=nut.env)
    assert "ups.delay.shutdown" in res.stdout and "Option: \"180\"" in res.stdout, res.stdout
    res = run([real_nut("upsrw"), "-s", "ups.delay.shutdown=180", "-u", "admin", "-p", "sekret", st.ups],
              env=nut.env)
    assert res.returncode == 0, res.stderr
    wait_for(lambda: ups.eeprom["p"].current == "180", 20, what="grace delay rotated to 180")
    st.wait_var("ups.delay.shutdown", "180")

    # string settings: '-' then eight characters, CR padded
    res = run([real_nut("upsrw"), "-s", "ups.id=rack1", "-u", "admin", "-p", "sekret", st.ups], env=nut.env)
    assert res.returncode == 0, res.stderr
    wait_for(lambda: ups.strings["c"] == "rack1", 20, what="ups.id written")
    st.wait_var("ups.id", "rack1")

    # runtime calibration 'D' (toggles; the driver checks the CAL bit first)
    st.cmd("calibrate.start")
    st.wait_var("ups.status", "CAL OL")
    st.cmd("calibrate.stop")
    st.wait_var("ups.status", "OL")

    # harmless actions: front panel test 'A', self-test 'W' (result read back through 'X')
    st.cmd("test.panel.start")
    st.cmd("test.battery.start")
    st.wait_var("ups.test.result", "OK")
    assert [e.kind for e in ups.events if e.kind in ("panel-test", "self-test")][:2] == ["panel-test", "self-test"]

    # load.off: Z twice (~1.5 s apart) only after the second upscmd 3..15 s after the first
    assert not st.nasty("load.off"), "the first issue of a dangerous command must not reach the UPS"
    order = ups.shutdowns[-1]
    assert order.raw == b"ZZ" and order.byte_times[1] - order.byte_times[0] >= 1.2
    st.wait_var("ups.status", "OFF")
    st.cmd("load.on")                               # ^N twice, not a "nasty" command
    st.wait_var("ups.status", "OL")

    # shutdown.return cs on line: 'U' (simulated power failure), cshdelay (3.5 s), then 'S' while on battery
    st.nasty("shutdown.return", "cs")
    order = ups.shutdowns[-1]
    simulated = [e for e in ups.events if e.kind == "simulated-power-failure"]
    assert order.raw == b"S" and len(simulated) == 1 and 3.0 <= order.accepted_at - simulated[0].t < 5
    wait_for(lambda: ups.simfail_until is None, 10, what="end of the simulated power failure")
    st.wait_var("ups.status", "OL")

    # mains fails: OB, then low battery
    sim.call(ups.power_fail)
    st.wait_var("ups.status", "OB")
    # the power-fail alert updates ups.status at once; input.voltage follows at apcsmart's next poll
    st.wait_var("input.voltage", "000.0")
    sim.call(ups.set_runtime, 1.0)
    st.wait_var("ups.status", "OB LB")

    # shutdown.return on battery: 'S', honouring the 180 s grace delay set above
    st.nasty("shutdown.return")
    order = ups.shutdowns[-1]
    assert (order.command, order.raw, order.grace, order.returns) == ("S", b"S", 180.0, True)
    assert ups.output_on                              # grace delay still running

    # the driver's -k (shutdown.default) with sdtype 5 and awd 5: '@005' (30 minutes extra wake-up delay)
    st.driver.terminate()
    st.driver.wait(15)
    res = run([real_nut("apcsmart"), "-a", "ups", "-u", "root", "-k", "-x", "sdtype=5", "-x", "awd=5"],
              env=nut.env, timeout=60)
    assert res.returncode == 0, res.stderr
    order = ups.shutdowns[-1]
    assert (order.command, order.raw, order.wake_delay) == ("@", b"@005", 1800.0)
    assert [round(b - a, 2) >= 0.04 for a, b in zip(order.byte_times[1:], order.byte_times[2:])] == [True, True]


def test_real_apcsmart_forced_shutdown_on_line(nut, sim_1500):
    """`apcsmart -k` reads 'Q' expecting ONE character, so a normal "08" makes it assume OB+LB: by default it
    sends 'S' (which a unit on line refuses), and even sdtype 4 (the "CS" hack) skips its 'U' step."""
    sim, ups = sim_1500, sim_1500.ups
    nut.write("ups.conf", f"[ups]\n\tdriver = apcsmart\n\tport = {sim.path}\n")
    for extra in ([], ["-x", "sdtype=4"]):
        res = run([real_nut("apcsmart"), "-a", "ups", "-u", "root", "-k", *extra], env=nut.env, timeout=60)
        assert res.returncode == 0, res.stderr
    assert ups.shutdowns == []
    assert [e.detail for e in ups.events if e.kind == "ignored"] == ["S while on line"] * 2
    assert not [e for e in ups.events if e.kind == "simulated-power-failure"]


def test_real_stack_full_outage_cycle(nut, procs, sim_1500):
    """Mains fails, the UPS is told to shut down with return, goes dark (driver data stale), mains returns,
    the unit boots in dumb mode and real apcsmart wins it back with 'Y'."""
    sim, ups = sim_1500, sim_1500.ups
    sim.call(ups.set_eeprom, "p", "005")            # a 5 s grace delay keeps the test short
    st = Stack(nut, procs, sim)
    sim.call(ups.power_fail)
    sim.call(ups.set_runtime, 1.0)
    st.wait_var("ups.status", "OB LB")
    st.nasty("shutdown.return")
    assert ups.shutdowns[-1].grace == 5.0
    wait_for(lambda: not ups.output_on, 15, what="output off after the grace delay")
    upsc = [real_nut("upsc"), st.ups, "ups.status"]
    wait_for(lambda: "Data stale" in run(upsc, env=nut.env).stderr, 20, what="driver reporting stale data")
    sim.call(ups.power_restore)
    assert ups.output_on and not ups.smart
    st.wait_var("ups.status", "OL", timeout=45)
    assert st.get("input.transfer.reason") == "low utility voltage"
