"""dummy-ups definition files: NUT 2.8.0's parsing quirks, SET and INSTCMD answers."""

from __future__ import annotations

import pytest

from pnut.drivers.dummy_ups import DummyUps
from pnut.drivers.main import STAT_INSTCMD_UNKNOWN, STAT_SET_HANDLED, Core
from pnut.drivers.state import Flag


@pytest.fixture
def make(tmp_path, monkeypatch):
    monkeypatch.setenv("NUT_CONFPATH", str(tmp_path))

    def build(text: str, name: str = "t.dev") -> DummyUps:
        (tmp_path / name).write_text(text)
        core = Core(DummyUps)
        core.device_path = name
        core.dstate.setinfo("driver.parameter.port", name)
        drv = core.driver
        drv.sleep = lambda s: True          # no 1 s pause in unit tests
        drv.initups()
        drv.initinfo()
        return drv
    return build


def test_values_and_quirks(make):
    d = make('ups.status: OL  CHRG\nbattery.charge: 95.5\ndevice.serial:\nups.model: a=b   c#d\n'
             'driver.version: 9\nnovalue\nups.test.result: "  spaced  "\n')
    ds = d.dstate
    assert ds.getinfo("ups.status") == "OL CHRG"
    assert ds.getinfo("device.serial") == "95.5"          # empty value: the previous line's is re-used
    assert ds.getinfo("ups.model") == "a = b c"
    assert ds.getinfo("driver.version") is None
    assert ds.getinfo("novalue") == "a = b c"
    assert ds.getinfo("ups.test.result") == "  spaced  "
    assert ds.tree.get("ups.test.result").aux == 16
    assert ds.getflags("battery.charge") == Flag.RW
    assert ds.getflags("device.serial") == Flag.RW | Flag.STRING
    assert ds.getinfo("driver.parameter.mode") == "dummy-once"


def test_value_is_cut_at_127(make):
    d = make("x.y: " + "v" * 200 + "\n")
    assert d.dstate.getinfo("x.y") == "v" * 127


def test_timer_pauses_and_seq_loops(make, monkeypatch):
    import pnut.drivers.dummy_ups as mod
    now = [1000.0]
    monkeypatch.setattr(mod.time, "time", lambda: now[0])
    d = make("ups.status: OL\nTIMER 5\nups.status: OB\n", "t.seq")
    ds = d.dstate
    assert ds.getinfo("driver.parameter.mode") == "dummy-loop"
    assert ds.getinfo("ups.status") == "OL"
    d.updateinfo()
    assert ds.getinfo("ups.status") == "OL"
    now[0] += 5
    d.updateinfo()
    assert ds.getinfo("ups.status") == "OB"
    d.updateinfo()                                       # end of file: start over
    assert ds.getinfo("ups.status") == "OL"


def test_mode_names(make):
    assert make("a: 1\n", "x.txt").dstate.getinfo("driver.parameter.mode") == "dummy"


def test_set_and_instcmd(make):
    d = make("ups.status: OL\n")
    ds = d.dstate
    assert d.setvar("ups.status", "OB LB") == STAT_SET_HANDLED
    assert ds.getinfo("ups.status") == "OB LB"
    assert d.setvar("new.var", "v") == STAT_SET_HANDLED
    assert (ds.getflags("new.var"), ds.tree.get("new.var").aux) == (Flag.RW | Flag.STRING, 32)
    assert d.setvar("new.var", "") == STAT_SET_HANDLED and ds.getinfo("new.var") is None
    assert d.instcmd("load.off", None) == STAT_INSTCMD_UNKNOWN
    assert list(ds.tree.iter_commands()) == ["load.off"]


def test_repeater_without_a_server_is_a_clean_fatal(make, tmp_path):
    from pnut.conf.common import Fatal
    from tests.procs import free_port
    core = Core(DummyUps)
    core.device_path = f"ups@127.0.0.1:{free_port()}"
    core.driver.initups()
    assert core.dstate.getinfo_raw("driver.parameter.mode") == "repeater"
    with pytest.raises(Fatal, match="^Error: Connection failure: Connection refused$"):
        core.driver.initinfo()


def test_repeater_with_a_bad_address_is_a_clean_fatal(make, tmp_path):
    from pnut.conf.common import Fatal
    core = Core(DummyUps)
    core.device_path = "ups@127.0.0.1:notaport"
    core.driver.initups()
    with pytest.raises(Fatal, match="invalid UPS definition"):
        core.driver.initinfo()
