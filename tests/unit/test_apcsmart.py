"""apcsmart in-process: tables and conversions, then the driver against the simulator over socket:// (real
protocol bytes), one callback at a time as the core calls them."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

from pnut.conf.common import Fatal
from pnut.drivers import apcsmart_tabs as tabs
from pnut.drivers.apcsmart import ApcSmart
from pnut.drivers.apcsmart_sim import SmartUPS
from pnut.drivers.apcsmart_sim_pty import SimulatorTcp
from pnut.drivers.apcsmart_tabs import convert_data, rexhlp, strtol
from pnut.drivers.main import (
    STAT_INSTCMD_FAILED,
    STAT_INSTCMD_HANDLED,
    STAT_INSTCMD_INVALID,
    STAT_SET_FAILED,
    STAT_SET_HANDLED,
    STAT_SET_UNKNOWN,
    Core,
)
from pnut.drivers.state import Flag
from tests.procs import wait_for


def var(name: str) -> tabs.Var:
    return next(v for v in tabs.vartab() if v.name == name)


def test_conversions_as_nut():
    assert convert_data(var("battery.runtime"), "0123:") == "7380"
    assert convert_data(var("battery.runtime.low"), "02") == "120"
    assert convert_data(var("ups.test.interval"), "336") == "1209600"
    assert convert_data(var("ups.test.interval"), "OFF") == "0"
    assert convert_data(var("ups.test.interval"), "ON ") == "0"
    assert convert_data(var("input.transfer.reason"), "L") == "low utility voltage"
    assert convert_data(var("input.transfer.reason"), "Q") == "Q"
    assert convert_data(var("ups.load"), "004.5") == "004.5"        # raw, zero padded, as NUT


def test_regexes_and_strtol():
    assert rexhlp(tabs.vartab()[-2].regex, "601.3.I") and not rexhlp(tabs.vartab()[-2].regex, "8QD")
    assert rexhlp(None, "anything")
    assert rexhlp(r"^[0-9]\.[^.]*\.[^.]+(\.[^.]+)?$", "3.!$%+?=#|.\x01\x0eABC")
    assert not rexhlp(r"^[0-9]\.[^.]*\.[^.]+(\.[^.]+)?$", "NA")
    assert strtol("08", 16) == 8 and strtol("SM", 16) == 0 and strtol("  -12x") == -12 and strtol("") == 0


@contextlib.contextmanager
def running(model: str = "smart-ups-1500", ups: SmartUPS | None = None, start: bool = True, **opts: str):
    ups = ups or SmartUPS(model)
    with SimulatorTcp(ups) as sim:
        core = Core(ApcSmart)
        d: ApcSmart = core.driver          # type: ignore[assignment]
        d.makevartable()
        core.device_path = sim.url
        for k, v in opts.items():
            core.storeval(k, v)
        try:
            if start:
                d.initups()
                d.initinfo()
                core.safe_update()
            yield sim, ups, d, core
        finally:
            d.cleanup()


def values(core: Core) -> dict[str, str]:
    return {n.name: n.value for n in core.dstate.tree}


def test_new_model_start_up_variables_commands_enums():
    with running() as (_sim, _ups, _d, core):
        v = values(core)
        assert v["ups.model"] == "Smart-UPS 1500" and v["ups.firmware"] == "601.3.I" and v["ups.mfr"] == "APC"
        assert v["ups.status"] == "OL" and v["battery.runtime"] == "3720" and v["ups.test.interval"] == "1209600"
        tree = core.dstate.tree
        assert sorted(tree.iter_commands()) == sorted([
            "load.on", "shutdown.return", "shutdown.stayoff", "load.off", "calibrate.start", "calibrate.stop",
            "test.panel.start", "test.failure.start", "test.battery.start", "test.battery.stop"])
        # capabilities: the EEPROM settings of this locale ('I') and of all locales ('4')
        p = tree.get("ups.delay.shutdown")
        assert p.flags == Flag.RW and p.enums == ["020", "090", "180", "300"]
        assert tree.get("input.transfer.high").enums == ["253", "264", "271", "280"]
        assert tree.get("ups.test.interval").enums == ["1209600", "604800", "0"]    # ON and OFF: "0" twice
        assert tree.get("battery.runtime.low").enums == ["120", "300", "420", "600"]
        ident = tree.get("ups.id")
        assert ident.flags == Flag.RW | Flag.STRING and ident.aux == 8
        assert not core.dstate.is_stale()


def test_old_model_compatibility_table():
    with running("smart-ups-1250-old") as (_sim, _ups, d, core):
        v = values(core)
        assert v["ups.model"] == "Smart-UPS" and v["ups.firmware"] == "8QD" and v["ups.status"] == "OL"
        assert core.dstate.tree.get("ups.delay.shutdown").flags == Flag(0)      # no capabilities: read-only
        assert "load.off" in list(core.dstate.tree.iter_commands())
        assert d.setvar("ups.delay.shutdown", "180") == STAT_SET_UNKNOWN


def test_alerts_change_status_between_polls():
    with running() as (sim, ups, d, core):
        sim.call(ups.power_fail)
        time.sleep(0.2)
        d.flush(0x10)                       # an alert-aware flush sees '!' before any 'Q'
        assert core.dstate.getinfo("ups.status") == "OB"
        sim.call(ups.set_runtime, 1.0)
        core.safe_update()
        assert core.dstate.getinfo("ups.status") == "OB LB"
        d.ups_status = 0
        d.ups_status_set()
        assert core.dstate.getinfo("ups.status") == "OFF"
        for ch, want in (("$", "OL"), ("#", "OL RB"), ("?", "OL OVER RB"), ("=", "OL RB"), ("%", "OL LB RB"),
                         ("+", "OL RB"), ("!", "OB RB")):
            d.alert_handler(ch)
            assert core.dstate.getinfo("ups.status") == want, ch


def test_setvar_enum_string_and_refusals():
    with running() as (_sim, ups, d, core):
        assert d.setvar("ups.delay.shutdown", "180") == STAT_SET_HANDLED
        assert ups.eeprom["p"].current == "180" and core.dstate.getinfo("ups.delay.shutdown") == "180"
        assert d.setvar("ups.delay.shutdown", "180") == STAT_SET_HANDLED       # unchanged: nothing sent
        assert d.setvar("battery.runtime.low", "300") == STAT_SET_HANDLED and ups.eeprom["q"].current == "05"
        assert d.setvar("ups.delay.shutdown", "7") == STAT_SET_FAILED          # wraps around
        assert d.setvar("ups.id", "rack1") == STAT_SET_HANDLED and ups.strings["c"] == "rack1"
        assert core.dstate.getinfo("ups.id") == "rack1"
        assert d.setvar("ups.id", "much-too-long") == STAT_SET_FAILED
        assert d.setvar("ups.load", "5") == STAT_SET_UNKNOWN                   # not writable
        assert d.setvar("no.such.var", "5") == STAT_SET_UNKNOWN


def test_instcmds_and_second_issue_rule():
    with running() as (_sim, ups, d, core):
        assert d.instcmd("test.panel.start", None) == STAT_INSTCMD_HANDLED
        assert d.instcmd("bypass.start", None) == STAT_INSTCMD_INVALID      # not in this unit's list
        assert d.instcmd("no.such.cmd", None) == STAT_INSTCMD_INVALID
        assert d.instcmd("shutdown.return", "bogus") == STAT_INSTCMD_INVALID
        # dangerous: the first request only arms; a second one 3..15 s later acts
        assert d.instcmd("load.off", None) == STAT_INSTCMD_HANDLED and ups.shutdowns == []
        d.last_nasty = int(time.time()) - 16                                   # too late: arms again
        assert d.instcmd("load.off", None) == STAT_INSTCMD_HANDLED and ups.shutdowns == []
        d.last_nasty = int(time.time()) - 4
        assert d.instcmd("load.off", None) == STAT_INSTCMD_HANDLED
        assert ups.shutdowns[-1].raw == b"ZZ" and not ups.output_on
        core.safe_update()
        assert core.dstate.getinfo("ups.status") == "OFF"
        assert d.instcmd("load.on", None) == STAT_INSTCMD_HANDLED         # ^N twice; the unit says nothing
        wait_for(lambda: ups.output_on, 5, what="output back on")
        d.last_nasty = int(time.time()) - 4
        assert d.instcmd("shutdown.return", None) == STAT_INSTCMD_FAILED       # 'S' on mains: NA
        d.last_nasty = int(time.time()) - 4
        assert d.instcmd("shutdown.return", "at:3") == STAT_INSTCMD_HANDLED
        assert ups.shutdowns[-1].raw == b"@003"
        d.last_nasty = int(time.time()) - 4
        assert d.instcmd("shutdown.stayoff", None) == STAT_INSTCMD_HANDLED
        assert ups.shutdowns[-1].raw == b"KK"


@pytest.mark.parametrize(("model", "opts", "raw"), [
    ("smart-ups-1500", {}, b"S"),                   # 2-digit 'Q' reply: NUT 2.8.0 assumes OB LB, so 'S'
    ("smart-ups-1500", {"sdtype": "1"}, b"S"),
    ("smart-ups-1500", {"sdtype": "3"}, b"KK"),
    ("smart-ups-1500", {"sdtype": "4", "cshdelay": "0.5"}, b"S"),
    ("smart-ups-1500", {"sdtype": "5", "awd": "5"}, b"@005"),
    ("smart-ups-1500", {"advorder": "1", "awd": "012"}, b"@012"),
    ("smart-ups-1500", {"advorder": "12"}, b"@000"),
    ("smart-ups-1500", {"advorder": "no", "sdtype": "3"}, b"KK"),
    ("smart-ups-1250-old", {"sdtype": "5", "awd": "12"}, b"@12"),   # old units: two digits, answer '*'
    ("smart-ups-1250-old", {}, b"S"),
])
def test_forced_shutdown_methods(model, opts, raw):
    ups = SmartUPS(model)
    ups.power_fail()                                # on battery, so 'S' is obeyed
    with running(ups=ups, start=False, **opts) as (_sim, ups, d, _core):
        d.initups()
        d.shutdown()
        assert [o.raw for o in ups.shutdowns] == [raw]


def test_two_digit_at_on_a_three_digit_unit_fails_cleanly():
    with running(start=False, awd="12") as (_sim, ups, d, _core):
        d.initups()
        assert d.sdcmd_AT("12") == STAT_INSTCMD_FAILED and ups.shutdowns == []
        assert d.sdcmd_AT("012") == STAT_INSTCMD_HANDLED and ups.shutdowns[-1].raw == b"@012"


def test_bad_options_exit_as_nut():
    for opt, val in (("sdtype", "6"), ("awd", "1234"), ("advorder", "5"), ("advorder", "yes"), ("cshdelay", "10")):
        with running(start=False, **{opt: val}) as (_sim, _ups, d, _core), pytest.raises(Fatal) as e:
            d.initups()
        assert e.value.message == f"invalid value ({val}) for option '{opt}'"


def test_ignorelb_with_overrides():
    with running(start=False) as (sim, ups, d, core):
        core.main_arg("ignorelb", None)
        core.storeval("override.battery.charge.low", "15")
        core.storeval("override.battery.runtime.low", "-1")
        d.initups()
        d.initinfo()
        core.safe_update()
        core.check_ignorelb()
        sim.call(ups.power_fail)
        sim.call(ups.set_runtime, 1.0)               # the unit says LB, but the charge is still 100 %
        core.safe_update()
        assert core.dstate.getinfo("ups.status") == "OB"
        assert core.dstate.getinfo("battery.runtime.low") == "-1"              # the override stays
        sim.call(ups.set_charge, 10)
        core.safe_update()                             # 'Q' comes before 'f': LB shows one poll later, as NUT
        core.safe_update()
        assert core.dstate.getinfo("ups.status") == "OB LB"


def test_silent_ups_goes_stale_and_comes_back():
    with running() as (sim, ups, _d, core):
        with sim.lock:
            ups.smart = False                          # e.g. power-cycled: dumb mode, answers nothing
        core.safe_update()
        assert core.dstate.is_stale()
        for _ in range(10):                            # NUT nudges with "Y" on the tenth stale poll
            core.safe_update()
        assert not core.dstate.is_stale() and core.dstate.getinfo("ups.status") == "OL"


class Babbler:
    """A TCP "serial line" answering every byte with binary noise, like a unit that is no Smart-UPS."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            conn, _ = self.listener.accept()
            with conn:
                while conn.recv(64):
                    conn.sendall(b"\xfe\x01\x80noise\r\n")

    def close(self) -> None:
        self.listener.close()


def test_refuses_non_smart_units():
    babbler = Babbler()
    try:
        core = Core(ApcSmart)
        core.device_path = babbler.url
        d: ApcSmart = core.driver          # type: ignore[assignment]
        d.makevartable()
        d.initups()
        with pytest.raises(Fatal) as e:
            d.initinfo()
        d.cleanup()
    finally:
        babbler.close()
    assert "unable to detect an APC Smart protocol UPS" in e.value.message
    assert "SMT" in e.value.message and "solis" in e.value.message
    ups = SmartUPS("smart-ups-1500")
    ups.profile.model_name = "Back-UPS BZ1200-BR"
    with running(ups=ups, start=False) as (_sim, _ups, d, _core):
        d.initups()
        with pytest.raises(Fatal) as e:
            d.initinfo()
    assert "not a Smart-UPS" in e.value.message and "solis" in e.value.message
