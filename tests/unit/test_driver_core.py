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


class Refreshing(Flaky):
    """A driver whose reconnect() already polls: the core must not poll again in the same round."""
    polls = 0

    def updateinfo(self) -> None:
        self.polls += 1
        super().updateinfo()

    def reconnect(self) -> bool:
        super().reconnect()
        self.updateinfo()
        return True


def test_reconnect_that_refreshed_skips_updateinfo():
    core = Core(Refreshing)
    d, ds = core.driver, core.dstate
    d.fail = True
    core.safe_update()
    assert ds.is_stale() and d.polls == 1
    d.fail = False
    core.safe_update()
    assert not ds.is_stale() and d.reconnects == 1 and d.polls == 2     # one poll, inside reconnect()
    core.safe_update()
    assert d.reconnects == 1 and d.polls == 3


def test_dump_writes_latin1_bytes(monkeypatch):
    import io
    import sys
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", out)
    core = Core(Flaky)
    core.dstate.setinfo("ups.mfr", "Caf\xe9")
    assert core.dump_loop() == 0
    assert out.buffer.getvalue().endswith(b"ups.mfr: Caf\xe9\nups.status: OL\n")


def test_poll_interval_hook():
    core = Core(Flaky)
    core.driver.set_poll_interval(7)
    assert core.poll_interval == 7 and core.driver.poll_interval == 7


def test_set_extrafd_moves_the_watch():
    """After a reopen the driver names a new descriptor; readable data on it wakes the loop."""
    import asyncio
    import os
    import threading

    core = Core(Flaky)
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    core.driver.set_extrafd(r1)                # before the loop runs: only remembered
    assert core.driver.extrafd == r1 and core.watched_fd is None

    async def scenario() -> None:
        core.loop = asyncio.get_running_loop()
        core.wake = asyncio.Event()
        core._watch(core.driver.extrafd)
        t = threading.Thread(target=core.driver.set_extrafd, args=(r2,))   # as from the worker thread
        t.start()
        t.join()
        await asyncio.sleep(0)
        assert core.watched_fd == r2
        os.write(w1, b"x")                     # the old descriptor no longer wakes anyone
        await asyncio.sleep(0.05)
        assert not core.wake.is_set()
        os.write(w2, b"!")
        await asyncio.wait_for(core.wake.wait(), 5)
        core._watch(None)

    try:
        asyncio.run(scenario())
    finally:
        for fd in (r1, w1, r2, w2):
            os.close(fd)
    assert core.watched_fd is None
