"""apcupsd-ups against a tiny in-test NIS server: slow, short, stalled and garbage replies.

First the driver class on pnut's real driver core, in process (timeouts shortened); then the program under our
upsd, read with our upsc: bad replies make the data stale, good ones make it fresh again."""

from __future__ import annotations

import threading
import time

import pytest

from pnut.conf.common import Fatal
from pnut.drivers import apcupsd_ups
from pnut.drivers.apcupsd_ups import ApcupsdUps
from pnut.drivers.main import Core, DeviceError
from tests.apcupsd import FakeNis, status_reply
from tests.interop.test_upsd_harness import UPSD_USERS
from tests.procs import free_port, ours, run, wait_for

REPORT = ["DATE     : 2024-05-19 21:15:19 +0200  \n", "MODEL    : Smart-UPS 1500\n", "STATUS   : ONLINE \n",
          "LINEV    : 230.0 Volts\n", "BCHARGE  : 100.0 Percent\n", "TIMELEFT : 62.0 Minutes\n",
          "BATTV    : 27.4 Volts\n", "FIRMWARE : 0.1.1 / ID=2\n"]
GOOD = status_reply(REPORT)


def driver(port: int, poll: int = 2) -> ApcupsdUps:
    core = Core(ApcupsdUps)
    core.device_path = f"127.0.0.1:{port}"
    core.poll_interval = poll
    d = core.driver
    assert isinstance(d, ApcupsdUps)
    d.initups()
    return d


def trickle(data: bytes, gap: float):
    """A reply sent a few bytes at a time."""
    def send(conn):
        for i in range(0, len(data), 7):
            conn.sendall(data[i:i + 7])
            time.sleep(gap)
    return send


def stall_after(data: bytes, hold: threading.Event):
    def send(conn):
        conn.sendall(data)
        hold.wait(60)
    return send


@pytest.fixture
def short_timeout(monkeypatch):
    monkeypatch.setattr(apcupsd_ups, "NIS_TIMEOUT", 0.5)


def test_first_report_and_poll_interval_ceiling():
    with FakeNis(GOOD) as srv:
        d = driver(srv.port, poll=30)
        d.initinfo()
        ds = d.dstate
        assert not ds.is_stale()
        assert d.core.poll_interval == 10
        got = {n.name: n.value for n in ds.tree}
        assert got == {"ups.mfr": "APC", "ups.date": "2024-05-19", "ups.time": "21:15:19",
                       "ups.model": "Smart-UPS 1500", "ups.status": "OL", "input.voltage": "230.0",
                       "battery.charge": "100.0", "battery.runtime": "3720.0", "battery.voltage": "27.4",
                       "ups.firmware": "0.1.1", "ups.firmware.aux": "ID=2"}
        assert srv.requests == [b"\x00\x06status"]
    with FakeNis(GOOD) as srv:
        d = driver(srv.port, poll=5)
        d.initinfo()
        assert d.core.poll_interval == 5


def test_a_report_missing_values_deletes_them_but_keeps_charge_and_runtime():
    with FakeNis(GOOD) as srv:
        d = driver(srv.port)
        d.initinfo()
        srv.reply = status_reply(["STATUS   : ONBATT \n", "LINEV    : 0.0 Volts\n"])
        d.updateinfo()
        got = {n.name: n.value for n in d.dstate.tree}
    assert got == {"ups.mfr": "APC", "ups.model": "Smart-UPS 1500", "ups.status": "OB", "input.voltage": "0.0",
                   "battery.charge": "100.0", "battery.runtime": "3720.0"}


def test_slow_reply_is_waited_for():
    with FakeNis(trickle(GOOD, 0.01)) as srv:
        d = driver(srv.port)
        d.initinfo()
        assert d.dstate.getinfo("ups.firmware.aux") == "ID=2"


@pytest.mark.parametrize("reply, debug", [
    (GOOD[:-2], "apcupsd communication error"),                 # closed before the end record
    (GOOD[:1], "apcupsd communication error"),                  # half a length
    (GOOD[:20], "apcupsd communication error"),                 # half a record
    (b"\xff\x00garbage", "apcupsd communication error"),         # a length far too long
    (status_reply(["MODEL\n"]), "apcupsd communication error"),  # a key without value
    (b"", "apcupsd communication error"),                       # closed at once
])
def test_bad_replies_make_the_data_stale_not_wrong(reply, debug, short_timeout, caplog):
    with FakeNis(GOOD) as srv:
        d = driver(srv.port)
        core = d.core
        d.initinfo()
        core.safe_update()
        before = {n.name: n.value for n in d.dstate.tree}
        srv.reply = reply
        with pytest.raises(DeviceError, match=debug):
            d.updateinfo()
        core.safe_update()                       # the core's view: stale, values untouched
        assert d.dstate.is_stale()
        assert {n.name: n.value for n in d.dstate.tree} == before
        assert "can't communicate with apcupsd!" in caplog.text
        # apcupsd answers again: one request brings the data back, fresh
        srv.reply = status_reply(["STATUS   : ONBATT \n"])
        n = len(srv.requests)
        core.safe_update()
        assert not d.dstate.is_stale() and d.dstate.getinfo("ups.status") == "OB"
        assert len(srv.requests) == n + 1 and core.last_error is None


def test_stalled_reply_times_out(short_timeout):
    hold = threading.Event()
    with FakeNis(GOOD) as srv:
        d = driver(srv.port)
        d.initinfo()
        srv.reply = stall_after(GOOD[:30], hold)
        try:
            with pytest.raises(DeviceError, match="unexpected connection close by apcupsd"):
                d.updateinfo()
        finally:
            hold.set()


def test_stopping_driver_is_not_held_by_a_silent_server(monkeypatch):
    """A driver asked to stop leaves a silent apcupsd at once instead of waiting out the record timeout."""
    monkeypatch.setattr(apcupsd_ups, "NIS_TIMEOUT", 60.0)
    hold = threading.Event()
    with FakeNis(stall_after(b"", hold)) as srv:
        d = driver(srv.port)
        timer = threading.Timer(0.3, d.core.stopping.set)
        timer.start()
        t0 = time.monotonic()
        try:
            with pytest.raises(Fatal, match="can't communicate with apcupsd!"):
                d.initinfo()
        finally:
            hold.set()
            timer.join()
        assert time.monotonic() - t0 < 30         # far below the 60 s the silence alone would cost


def test_start_up_errors():
    port = free_port()               # nobody listens there
    d = driver(port)
    with pytest.raises(Fatal, match="^can't communicate with apcupsd!$"):
        d.initinfo()
    d.core.device_path = "127.0.0.1:99999"
    d.initups()
    with pytest.raises(Fatal, match="^invalid host or port specified!$"):
        d.initinfo()
    with pytest.raises(Fatal, match="^shutdown not supported$"):
        d.shutdown()


# -- the program under our upsd ------------------------------------------------------------------
def test_stale_and_fresh_through_our_upsd(nut, procs):
    port = free_port()
    with FakeNis(GOOD) as srv:
        nut.write("ups.conf", f"[apc]\n  driver = apcupsd-ups\n  port = 127.0.0.1:{srv.port}\n  pollinterval = 1\n")
        nut.write("upsd.conf", f"LISTEN 127.0.0.1 {port}\n")
        nut.write("upsd.users", UPSD_USERS)
        procs.start([ours("apcupsd-ups"), "-a", "apc", "-u", "root", "-F"], env=nut.env)
        procs.start([ours("upsd"), "-F", "-u", "root"], env=nut.env)

        def upsc(var: str = "ups.status"):
            res = run([ours("upsc"), f"apc@127.0.0.1:{port}", var], env=nut.env, timeout=10)
            return res.stdout.strip() if res.returncode == 0 else res.stderr.strip()

        wait_for(lambda: upsc() == "OL", 20, what="OL through our upsd")
        assert upsc("ups.firmware.aux") == "ID=2"
        for bad in (b"\xff\x00garbage", GOOD[:-2]):
            srv.reply = bad
            wait_for(lambda: upsc() == "Error: Data stale", 10, what=f"stale on {bad[:12]!r}")
            assert upsc("battery.voltage") == "Error: Data stale"
            srv.reply = trickle(status_reply(REPORT[:3] + ["BATTV    : 26.0 Volts\n"]), 0.002)
            wait_for(lambda: upsc("battery.voltage") == "26.0", 10, what="fresh again")
            assert upsc("input.voltage") == "Error: Variable not supported by UPS"   # not in that report
            srv.reply = GOOD


def test_started_and_stopped_by_our_upsdrvctl(nut, procs):
    """upsdrvctl finds apcupsd-ups like any driver: it goes to the background with its PID file and socket."""
    with FakeNis(GOOD) as srv:
        nut.write("ups.conf", f"[apc]\n  driver = apcupsd-ups\n  port = 127.0.0.1:{srv.port}\n")
        res = run([ours("upsdrvctl"), "-u", "root", "start", "apc"], env=nut.env, timeout=30)
        assert res.returncode == 0, res.stderr
        pidfile = nut.state / "apcupsd-ups-apc.pid"
        procs.adopt_pidfile(pidfile)
        assert (nut.state / "apcupsd-ups-apc").exists()
        res = run([ours("upsdrvctl"), "-u", "root", "stop", "apc"], env=nut.env, timeout=30)
        assert res.returncode == 0, res.stderr
        wait_for(lambda: not pidfile.exists(), 10, what="the driver gone")
