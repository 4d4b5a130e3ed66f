"""Our apcsmart beside Debian's real NUT 2.8.0 apcsmart, each on the APC Smart-UPS simulator.

Both drivers must report the same variables and values (dump mode and through real upsd/upsc), send the same
bytes for every `-k` method, and ours must work under real upsd with real upsc/upscmd/upsrw.
"""

from __future__ import annotations

import time

import pytest

from pnut.drivers.apcsmart_sim import SmartUPS
from pnut.drivers.apcsmart_sim_pty import SimulatorPty
from tests.procs import free_port, ours, real_nut, run, wait_for

pytestmark = pytest.mark.skipif(real_nut("apcsmart") is None, reason="Debian's NUT apcsmart driver is missing")


def parse_vars(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        name, sep, value = line.partition(": ")
        if sep and "." in name and " " not in name:
            out[name] = value
    return out


def dump(prog: str, nut, port: str, *extra: str) -> tuple[dict[str, str], str]:
    nut.write("ups.conf", f"[ups]\n\tdriver = apcsmart\n\tport = {port}\n")
    res = run([prog, "-a", "ups", "-u", "root", "-d", "1", *extra], env=nut.env, timeout=60)
    assert res.returncode == 0, res.stderr
    return parse_vars(res.stdout), res.stdout


@pytest.mark.parametrize("model", ["smart-ups-1500", "smart-ups-1250-old"])
@pytest.mark.parametrize("extra", [(), ("-x", "ttymode=raw")])
def test_dump_same_as_real_driver(nut, model, extra):
    with SimulatorPty(SmartUPS(model)) as sim:
        real, real_text = dump(real_nut("apcsmart"), nut, sim.path, *extra)
        mine, my_text = dump(ours("apcsmart"), nut, sim.path, *extra)
    assert mine == real
    assert my_text == real_text            # banner, order and all


def test_dump_after_power_failure_same_as_real(nut):
    with SimulatorPty(SmartUPS("smart-ups-1500", drain_rate=0.0)) as sim:
        sim.call(sim.ups.power_fail, "T")
        sim.call(sim.ups.set_runtime, 1.5)
        sim.call(sim.ups.set_charge, 40)
        real, _ = dump(real_nut("apcsmart"), nut, sim.path)
        mine, _ = dump(ours("apcsmart"), nut, sim.path)
    assert mine == real and mine["ups.status"] == "OB LB"
    assert mine["input.transfer.reason"] == "line voltage notch or spike"


def test_pnp_cable_on_a_pty_fails_as_real(nut):
    with SimulatorPty(SmartUPS("smart-ups-1500")) as sim:
        nut.write("ups.conf", f"[ups]\n\tdriver = apcsmart\n\tport = {sim.path}\n")
        argv = ["-a", "ups", "-u", "root", "-d", "1", "-x", "cable=940-0095B"]
        real = run([real_nut("apcsmart"), *argv], env=nut.env, timeout=30)
        mine = run([ours("apcsmart"), *argv], env=nut.env, timeout=30)
    assert real.returncode == mine.returncode == 1
    assert f"apc_ser_set: ser_set_dtr({sim.path}) failed" in real.stderr
    assert f"apc_ser_set: ser_set_dtr({sim.path}) failed" in mine.stderr


@pytest.mark.parametrize(("opt", "val"), [("sdtype", "6"), ("advorder", "5"), ("awd", "1234"), ("cshdelay", "x")])
def test_bad_option_values_exit_as_real(nut, opt, val):
    nut.write("ups.conf", "[ups]\n\tdriver = apcsmart\n\tport = /dev/null\n")
    argv = ["-a", "ups", "-u", "root", "-d", "1", "-x", f"{opt}={val}"]
    real = run([real_nut("apcsmart"), *argv], env=nut.env, timeout=30)
    mine = run([ours("apcsmart"), *argv], env=nut.env, timeout=30)
    assert (mine.returncode, mine.stdout) == (real.returncode, real.stdout)
    assert f"invalid value ({val}) for option '{opt}'" in real.stderr
    assert f"invalid value ({val}) for option '{opt}'" in mine.stderr


def test_help_and_variable_list_same_as_real(nut):
    for args in (["-h"], ["-L"], ["-V"]):
        real = run([real_nut("apcsmart"), *args], env=nut.env, timeout=10)
        mine = run([ours("apcsmart"), *args], env=nut.env, timeout=10)
        assert (mine.returncode, mine.stdout) == (real.returncode, real.stdout), args


def test_missing_port_reported_as_real(nut):
    missing = str(nut.root / "no-such-tty")
    nut.write("ups.conf", f"[ups]\n\tdriver = apcsmart\n\tport = {missing}\n")
    real = run([real_nut("apcsmart"), "-a", "ups", "-u", "root", "-d", "1"], env=nut.env, timeout=30)
    mine = run([ours("apcsmart"), "-a", "ups", "-u", "root", "-d", "1"], env=nut.env, timeout=30)
    assert (mine.returncode, mine.stdout) == (real.returncode, real.stdout)
    assert "Fatal error: unusable configuration" in real.stderr and "Fatal error: unusable configuration" in mine.stderr


SHUTDOWNS = [
    (),
    ("-x", "sdtype=1"),
    ("-x", "sdtype=2"),
    ("-x", "sdtype=3"),
    ("-x", "sdtype=4", "-x", "cshdelay=0.5"),
    ("-x", "sdtype=5", "-x", "awd=5"),
    ("-x", "advorder=21"),
]


def test_forced_shutdown_bytes_same_as_real(nut):
    """`-k` with each method, on battery: the simulator records the same command bytes from both drivers."""
    results: dict[str, list[list[bytes]]] = {}
    for prog in (real_nut("apcsmart"), ours("apcsmart")):
        got = results.setdefault(prog, [])
        for extra in SHUTDOWNS:
            ups = SmartUPS("smart-ups-1500")
            ups.power_fail()
            with SimulatorPty(ups) as sim:
                nut.write("ups.conf", f"[ups]\n\tdriver = apcsmart\n\tport = {sim.path}\n")
                res = run([prog, "-a", "ups", "-u", "root", "-k", *extra], env=nut.env, timeout=60)
                assert res.returncode == 0, res.stderr
                got.append([o.raw for o in ups.shutdowns])
    real, mine = results.values()
    assert mine == real
    assert mine == [[b"S"], [b"S"], [b"ZZ"], [b"KK"], [b"S"], [b"@005"], [b"KK"]]


class Stack:
    """A driver (ours or NUT's) + real upsd on the simulator; real upsc/upscmd/upsrw against it."""

    def __init__(self, nut, procs, sim: SimulatorPty, driver: str, *extra_conf: str) -> None:
        self.nut, self.procs, self.sim, self.prog = nut, procs, sim, driver
        self.port = free_port()
        conf = "".join(f"\t{line}\n" for line in extra_conf)
        nut.write("ups.conf", f"[ups]\n\tdriver = apcsmart\n\tport = {sim.path}\n\tpollinterval = 1\n{conf}")
        nut.write("upsd.conf", f"LISTEN 127.0.0.1 {self.port}\n")
        nut.write("upsd.users", "[admin]\n\tpassword = sekret\n\tactions = SET\n\tinstcmds = ALL\n")
        self.driver = procs.start([driver, "-a", "ups", "-u", "root", "-F"], env=nut.env)
        wait_for(lambda: any(nut.state.glob("apcsmart-ups*")), 30, what="driver socket")
        self.upsd = procs.start([real_nut("upsd"), "-F", "-u", "root"], env=nut.env)
        # upsd says WAIT until the driver's first full dump has arrived
        wait_for(lambda: self.get("ups.status") not in (None, "WAIT"), 30, what="upsd serving ups.status")

    @property
    def ups(self) -> str:
        return f"ups@127.0.0.1:{self.port}"

    def get(self, var: str) -> str | None:
        res = run([real_nut("upsc"), self.ups, var], env=self.nut.env, timeout=10)
        return res.stdout.strip() if res.returncode == 0 else None

    def wait_var(self, var: str, value: str, timeout: float = 20) -> None:
        wait_for(lambda: self.get(var) == value, timeout, what=f"{var} == {value!r} (now {self.get(var)!r})")

    def listing(self, *prog_args: str) -> str:
        prog, *args = prog_args
        return run([real_nut(prog), *args, self.ups], env=self.nut.env, timeout=10).stdout

    def cmd(self, *args: str) -> None:
        res = run([real_nut("upscmd"), "-u", "admin", "-p", "sekret", self.ups, *args], env=self.nut.env)
        assert res.returncode == 0 and "OK" in res.stdout + res.stderr, res.stdout + res.stderr

    def nasty(self, *args: str) -> bool:
        """A dangerous command as apcsmart wants it: issued, then issued again 3 to 15 s later.  apcsmart keeps
        ONE clock for all of them, so an issue 3..15 s after any earlier one acts at once: returns whether
        the first issue alone reached the UPS."""
        count = len(self.sim.ups.shutdowns)
        self.cmd(*args)
        time.sleep(3.5)
        if len(self.sim.ups.shutdowns) > count:
            return True
        self.cmd(*args)
        wait_for(lambda: len(self.sim.ups.shutdowns) > count, 15, what=f"{args} reaching the UPS")
        return False

    def stop(self) -> None:
        for p in (self.upsd, self.driver):
            p.terminate()
            p.wait(15)


def stable(listing: str, sim_path: str) -> str:
    return listing.replace(sim_path, "<port>")


@pytest.mark.parametrize("model", ["smart-ups-1500", "smart-ups-1250-old"])
def test_upsc_upsrw_upscmd_listings_same_as_real(nut, procs, model):
    """The same unit through real upsd: every variable, writable setting (enums, flags) and command."""
    seen = []
    for prog in (real_nut("apcsmart"), ours("apcsmart")):
        with SimulatorPty(SmartUPS(model)) as sim:
            st = Stack(nut, procs, sim, prog)
            seen.append([stable(st.listing(*a), sim.path) for a in (("upsc",), ("upsrw",), ("upscmd", "-l"))])
            st.stop()
    real, mine = seen
    assert mine == real
    assert "load.off" in mine[2] and "ups.status: OL" in mine[0]
    assert ("ups.delay.shutdown" in mine[1]) == (model == "smart-ups-1500")     # old units: nothing writable


def test_our_driver_under_real_upsd(nut, procs):
    """EEPROM writes via upsrw, instant commands (the second-issue rule too), a power failure on cue."""
    with SimulatorPty(SmartUPS("smart-ups-1500")) as sim:
        ups = sim.ups
        st = Stack(nut, procs, sim, ours("apcsmart"))
        assert st.get("ups.model") == "Smart-UPS 1500" and st.get("ups.status") == "OL"

        res = run([real_nut("upsrw"), "-s", "ups.delay.shutdown=180", "-u", "admin", "-p", "sekret", st.ups],
                  env=nut.env)
        assert res.returncode == 0, res.stderr
        wait_for(lambda: ups.eeprom["p"].current == "180", 20, what="grace delay rotated to 180")
        st.wait_var("ups.delay.shutdown", "180")
        res = run([real_nut("upsrw"), "-s", "ups.id=rack1", "-u", "admin", "-p", "sekret", st.ups], env=nut.env)
        assert res.returncode == 0, res.stderr
        st.wait_var("ups.id", "rack1")
        assert ups.strings["c"] == "rack1"

        st.cmd("calibrate.start")
        st.wait_var("ups.status", "CAL OL")
        st.cmd("calibrate.stop")
        st.wait_var("ups.status", "OL")
        st.cmd("test.panel.start")
        st.cmd("test.battery.start")
        st.wait_var("ups.test.result", "OK")

        assert not st.nasty("load.off"), "the first issue of a dangerous command must not reach the UPS"
        order = ups.shutdowns[-1]
        assert order.raw == b"ZZ" and order.byte_times[1] - order.byte_times[0] >= 1.2
        st.wait_var("ups.status", "OFF")
        st.cmd("load.on")
        st.wait_var("ups.status", "OL")

        sim.call(ups.power_fail)
        st.wait_var("ups.status", "OB")
        # the power-fail alert updates ups.status at once; input.voltage follows at the next poll (as in NUT)
        st.wait_var("input.voltage", "000.0")
        sim.call(ups.set_runtime, 1.0)
        st.wait_var("ups.status", "OB LB")

        st.nasty("shutdown.return")
        order = ups.shutdowns[-1]
        assert (order.command, order.raw, order.grace, order.returns) == ("S", b"S", 180.0, True)

        st.stop()
        nut.write("ups.conf", f"[ups]\n\tdriver = apcsmart\n\tport = {sim.path}\n")
        res = run([ours("apcsmart"), "-a", "ups", "-u", "root", "-k", "-x", "sdtype=5", "-x", "awd=5"],
                  env=nut.env, timeout=60)
        assert res.returncode == 0, res.stderr
        order = ups.shutdowns[-1]
        assert (order.command, order.raw, order.wake_delay) == ("@", b"@005", 1800.0)


def test_outage_cycle_stale_and_back_under_real_upsd(nut, procs):
    """The UPS shuts down with return, goes dark (stale through upsc), mains returns, the unit boots in
    dumb mode and our driver wins it back with 'Y' (NUT's ten-poll nudge)."""
    with SimulatorPty(SmartUPS("smart-ups-1500")) as sim:
        ups = sim.ups
        sim.call(ups.set_eeprom, "p", "005")
        st = Stack(nut, procs, sim, ours("apcsmart"), "ignorelb", "override.battery.charge.low = 15",
                   "override.battery.runtime.low = -1")
        sim.call(ups.power_fail)
        sim.call(ups.set_runtime, 1.0)
        st.wait_var("ups.status", "OB")               # ignorelb: the unit's LB does not count
        sim.call(ups.set_charge, 10)
        st.wait_var("ups.status", "OB LB")
        assert not st.nasty("shutdown.return")
        wait_for(lambda: not ups.output_on, 15, what="output off after the grace delay")
        upsc = [real_nut("upsc"), st.ups, "ups.status"]
        wait_for(lambda: "Data stale" in run(upsc, env=nut.env).stderr, 20, what="stale data")
        sim.call(ups.power_restore)
        sim.call(ups.set_charge, 100)
        st.wait_var("ups.status", "OL", timeout=45)
        assert st.get("battery.charge.low") == "15"


@pytest.mark.parametrize("ctl", ["ours", "real"])
def test_upsdrvctl_shutdown_uses_our_driver_methods(nut, ctl):
    """`upsdrvctl shutdown` runs `apcsmart -k`: ours directly, NUT's through `driverpath` pointing at our
    programs.  The simulator records the method chosen by sdtype (3: 'K' twice)."""
    ups = SmartUPS("smart-ups-1500")
    with SimulatorPty(ups) as sim:
        drvpath = f"driverpath = {ours('apcsmart').rsplit('/', 1)[0]}\n" if ctl == "real" else ""
        nut.write("ups.conf", f"{drvpath}[ups]\n\tdriver = apcsmart\n\tport = {sim.path}\n\tsdtype = 3\n")
        prog = real_nut("upsdrvctl") if ctl == "real" else ours("upsdrvctl")
        if prog is None:
            pytest.skip("Debian's upsdrvctl is missing")
        res = run([prog, "-u", "root", "shutdown"], env=nut.env, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr
        assert [o.raw for o in ups.shutdowns] == [b"KK"]
