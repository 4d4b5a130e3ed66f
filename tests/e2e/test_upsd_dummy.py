"""The all-pnut stack: our upsd serving our dummy-ups."""

from __future__ import annotations

import pytest

from tests.interop.test_upsd_harness import UPSD_USERS, driver_ready, run_session
from tests.procs import free_port, ours, wait_for

DEV = "ups.status: OL\nups.id: my ups\nbattery.charge: 100\n"


@pytest.fixture
def stack(nut, procs):
    try:
        drv = ours("dummy-ups")
    except FileNotFoundError:
        pytest.skip("our dummy-ups is not installed")
    port = free_port()
    nut.write("ups.conf", '[dummy]\n  driver = dummy-ups\n  port = dummy.dev\n  desc = "ours"\n')
    nut.write("dummy.dev", DEV)
    nut.write("upsd.conf", f"LISTEN 127.0.0.1 {port}\n")
    nut.write("upsd.users", UPSD_USERS)
    sock = nut.state / "dummy-ups-dummy"
    p = procs.start([drv, "-a", "dummy", "-u", "root", "-F"], env=nut.env)
    wait_for(lambda: driver_ready(str(sock)) or p.poll() is not None, 20, what="our dummy-ups")
    if p.poll() is not None:
        pytest.skip("our dummy-ups did not start: " + p.stderr.read().decode()[-500:])
    procs.start([ours("upsd"), "-F", "-u", "root"], env=nut.env)
    wait_for(lambda: _ask(port, b"GET VAR dummy ups.status\n") == b'VAR dummy ups.status "OL"\n', 15,
             what="upsd serving our dummy-ups")
    return port, drv, p


def _ask(port: int, data: bytes) -> bytes:
    try:
        return run_session(port, [data])
    except OSError:
        return b""


def test_our_upsd_serves_our_dummy_ups(stack, nut, procs):
    port, drv, p = stack
    out = _ask(port, b"LIST VAR dummy\n")
    assert out.startswith(b"BEGIN LIST VAR dummy\n") and out.endswith(b"END LIST VAR dummy\n")
    for line in (b'VAR dummy battery.charge "100"', b'VAR dummy device.model "Dummy UPS"',
                 b'VAR dummy driver.name "dummy-ups"', b'VAR dummy ups.id "my ups"'):
        assert line in out
    assert _ask(port, b"GET TYPE dummy ups.id\n") == b"TYPE dummy ups.id RW STRING:16\n"
    out = run_session(port, [b"USERNAME admin\nPASSWORD adminpw\nSET TRACKING ON\n",
                             b'SET VAR dummy ups.id "new id"\n'])
    tid = out.split()[-1]
    assert out.startswith(b"OK\nOK\nOK\nOK TRACKING ")

    def result():
        return run_session(port, [b"USERNAME a\nPASSWORD b\nSET TRACKING ON\n", b"GET TRACKING " + tid + b"\n"])
    wait_for(lambda: result().endswith(b"SUCCESS\n"), 10, what="SET tracked to SUCCESS")
    wait_for(lambda: _ask(port, b"GET VAR dummy ups.id\n") == b'VAR dummy ups.id "new id"\n', 10,
             what="new value broadcast")
    # the driver goes away and comes back: upsd notices and reconnects by itself
    p.terminate()
    p.wait(10)
    wait_for(lambda: _ask(port, b"GET VAR dummy ups.status\n") == b"ERR DRIVER-NOT-CONNECTED\n", 10,
             what="driver gone")
    procs.start([drv, "-a", "dummy", "-u", "root", "-F"], env=nut.env)
    wait_for(lambda: _ask(port, b"GET VAR dummy ups.status\n") == b'VAR dummy ups.status "OL"\n', 20,
             what="reconnected to the restarted driver")
