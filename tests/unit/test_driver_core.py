"""The core's poll step: a device that stops answering makes the data stale; it is reconnected later."""

from __future__ import annotations

from pnut.drivers.main import Core, DeviceError, Driver


class Flaky(Driver):
    progname = "flaky"
    fail = False
    reconnects = 0

    def updateinfo(self) -> None:
        if self.fail:
            raise DeviceError("no answer")
        self.dstate.setinfo("ups.status", "OL")
        self.dstate.dataok()

    def reconnect(self) -> None:
        self.reconnects += 1
        if self.fail:
            raise DeviceError("still gone")


def test_stale_then_reconnect():
    core = Core(Flaky)
    d, ds = core.driver, core.dstate
    core.safe_update()
    assert not ds.is_stale()
    d.fail = True
    core.safe_update()
    assert ds.is_stale() and "DATASTALE\n" in ds.dumpall()
    core.safe_update()
    assert ds.is_stale() and d.reconnects == 1
    d.fail = False
    core.safe_update()
    assert not ds.is_stale() and d.reconnects == 2


def test_vartab_and_storeval():
    core = Core(Flaky)
    core.driver.addvar(2, "cable", "Cable type")
    core.storeval("cable", "940-0095B")
    core.storeval("override.ups.model", "X")
    core.storeval("default.ups.load", "7")
    assert core.getval("CABLE") == "940-0095B" and core.testvar("cable")
    assert core.dstate.getinfo("driver.parameter.cable") == "940-0095B"
    assert core.dstate.getinfo("ups.model") == "X" and not core.dstate.setinfo("ups.model", "Y")
    assert core.dstate.setinfo("ups.load", "8")
