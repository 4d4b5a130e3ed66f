"""An outage as upsmon sees it: our dummy-ups (a .seq on battery) served at once by real NUT 2.8.0 upsd and by
ours; the driver is killed with SIGKILL and restarted, and /bin/upsc and raw protocol answers must be the same
from both servers at every step (data, "Driver not connected", the FSD latch surviving the reconnect)."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from tests.interop.test_upsd_harness import driver_ready
from tests.procs import NutDirs, Procs, free_port, ours, real_nut, run, wait_for

SEQ = """\
ups.status: OB DISCHRG
battery.charge: 80
battery.runtime: 600
TIMER 600
"""

UPSD_USERS = """\
[mon]
  password = monpw
  upsmon primary
"""

UPSC = "/bin/upsc"
MAXAGE = 5


def _ask(port: int, lines: list[bytes]) -> list[str]:
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rb")
        for line in lines:
            s.sendall(line)
            out.append(f.readline().decode())
    return out


def _upsc(port: int) -> tuple[int, str, str]:
    r = run([UPSC, f"dev@127.0.0.1:{port}", "ups.status"], timeout=10)
    err = "".join(x for x in r.stderr.splitlines(True) if not x.startswith("Init SSL"))
    return r.returncode, r.stdout, err


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if real_nut("upsd") is None or not os.path.exists(UPSC) or os.geteuid() != 0:
        pytest.skip("needs real NUT 2.8.0 upsd and upsc, run as root")
    root = tmp_path_factory.mktemp("outage")
    procs = Procs()
    state = root / "run"
    state.mkdir()
    dirs, ports = [], []
    for name in ("real", "ours"):
        d = NutDirs(root / name)
        d.state = state
        port = free_port()
        d.write("ups.conf", "[dev]\n  driver = dummy-ups\n  port = outage.seq\n")
        d.write("outage.seq", SEQ)
        d.write("upsd.conf", f"LISTEN 127.0.0.1 {port}\nMAXAGE {MAXAGE}\n")
        d.write("upsd.users", UPSD_USERS)
        dirs.append(d)
        ports.append(port)
    env = dirs[1].env
    sock = str(state / "dummy-ups-dev")

    def start_driver():
        p = procs.start([ours("dummy-ups"), "-a", "dev", "-u", "root", "-F"], env=env)
        wait_for(lambda: driver_ready(sock), 15, what="dummy-ups ready")
        return p

    drv = start_driver()
    procs.start([real_nut("upsd"), "-F", "-u", "root"], env=dirs[0].env)
    procs.start([ours("upsd"), "-F", "-u", "root"], env=env)
    for port in ports:
        wait_for(lambda p=port: _upsc(p)[1] == "OB DISCHRG\n", 15, what=f"upsd on {port} serving dev")
    try:
        yield ports, drv, start_driver
    finally:
        procs.stop_all()


def test_hung_driver_goes_stale_then_recovers(stack):
    """A driver that stops talking (SIGSTOP): PINGs go unanswered and after MAXAGE both servers say the data
    is stale; once it runs again both serve the data again.  Before that, a silent but healthy driver (the
    .seq changes nothing for 600 s) must stay fresh on PING/PONG alone."""
    ports, drv, _ = stack
    real, mine = ports
    time.sleep(MAXAGE + 2)
    assert _upsc(real) == _upsc(mine) == (0, "OB DISCHRG\n", "")
    os.kill(drv.pid, signal.SIGSTOP)
    try:
        for port in ports:
            wait_for(lambda p=port: _upsc(p)[0] != 0, 4 * MAXAGE, what=f"upsd on {port} declaring stale data")
        stale = _upsc(real)
        assert stale == _upsc(mine) and stale[2] == "Error: Data stale\n"
        q = [b"GET VAR dev ups.status\n", b"LIST VAR dev\n", b"GET NUMLOGINS dev\n"]
        assert _ask(real, q) == _ask(mine, q)
    finally:
        os.kill(drv.pid, signal.SIGCONT)
    for port in ports:
        wait_for(lambda p=port: _upsc(p)[0] == 0, 4 * MAXAGE, what=f"upsd on {port} fresh again")
    assert _upsc(real) == _upsc(mine) == (0, "OB DISCHRG\n", "")


def test_kill_driver_while_on_battery(stack):
    ports, drv, start_driver = stack
    real, mine = ports
    login = [b"USERNAME mon\n", b"PASSWORD monpw\n", b"LOGIN dev\n", b"FSD dev\n",
             b"GET VAR dev ups.status\n", b"GET NUMLOGINS dev\n"]
    assert _ask(real, login) == _ask(mine, login)
    assert _ask(mine, [b"GET VAR dev ups.status\n"]) == ['VAR dev ups.status "FSD OB DISCHRG"\n']
    assert _upsc(real) == _upsc(mine) == (0, "FSD OB DISCHRG\n", "")

    os.kill(drv.pid, signal.SIGKILL)
    drv.wait(10)
    for port in ports:
        wait_for(lambda p=port: _upsc(p)[0] != 0, 15, what=f"upsd on {port} noticing the driver is gone")
    gone = _upsc(real)
    assert gone == _upsc(mine)
    assert gone[0] == 1 and gone[2] == "Error: Driver not connected\n"
    q = [b"GET VAR dev ups.status\n", b"LIST VAR dev\n", b"GET NUMLOGINS dev\n", b"LIST UPS\n"]
    assert _ask(real, q) == _ask(mine, q)

    # a new driver: fresh data, and the FSD latch still set (NUT clears it only when upsd forgets the UPS)
    start_driver()
    for port in ports:
        wait_for(lambda p=port: _upsc(p)[0] == 0, 15, what=f"upsd on {port} reconnected")
    assert _upsc(real) == _upsc(mine) == (0, "FSD OB DISCHRG\n", "")
