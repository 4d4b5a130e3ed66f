"""The simulator's pty runner, control channel and command line."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import termios
import tty

import pytest

from pnut.drivers.apcsmart_sim import SmartUPS
from pnut.drivers.apcsmart_sim_pty import SimulatorPty, control, handle_control, serve_control
from tests.procs import wait_for


def _talk(fd: int, data: bytes, until: bytes = b"\n", timeout: float = 5.0) -> bytes:
    os.write(fd, data)
    buf = b""
    while until not in buf:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            break
        buf += os.read(fd, 512)
    return buf


@pytest.fixture
def sim(tmp_path):
    with SimulatorPty(SmartUPS("smart-ups-1500"), link=str(tmp_path / "ttyUPS")) as s:
        yield s


def test_pty_serves_the_protocol(sim, tmp_path):
    assert os.path.realpath(tmp_path / "ttyUPS") == sim.path
    fd = os.open(tmp_path / "ttyUPS", os.O_RDWR | os.O_NOCTTY)
    try:
        tty.setraw(fd)
        termios.tcflush(fd, termios.TCIOFLUSH)
        assert _talk(fd, b"Y") == b"SM\r\n"
        assert _talk(fd, b"\x01") == b"Smart-UPS 1500\r\n"
        sim.call(sim.ups.power_fail)
        assert _talk(fd, b"Q") == b"!10\r\n"           # the alert arrives ahead of the next reply
    finally:
        os.close(fd)


def test_control_commands(sim, tmp_path):
    assert handle_control(sim, "fail") == {"ok": True}
    assert handle_control(sim, "status")["status"] == "10"
    assert handle_control(sim, "runtime 1")["ok"]
    assert handle_control(sim, "status")["status"] == "50"
    assert handle_control(sim, "lb off")["ok"]
    assert handle_control(sim, "status")["status"] == "10"
    assert handle_control(sim, "restore")["ok"]
    assert handle_control(sim, "charge x") == {"error": "bad argument: could not convert string to float: 'x'"}
    assert "error" in handle_control(sim, "explode")
    server = serve_control(sim, str(tmp_path / "ctl"))
    try:
        assert control(str(tmp_path / "ctl"), "status")["status"] == "08"
        assert control(str(tmp_path / "ctl"), "shutdowns") == {"shutdowns": []}
        assert control(str(tmp_path / "ctl"), "events")["events"][0]["kind"] == "power-fail"
    finally:
        server.shutdown()
        server.server_close()


def test_command_line(tmp_path):
    ctl = tmp_path / "ctl"
    p = subprocess.Popen([sys.executable, "-m", "pnut.drivers.apcsmart_sim", "--model=smart-ups-1250-old",
                          f"--control={ctl}", f"--link={tmp_path / 'tty'}"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        path = p.stdout.readline().strip()
        assert path.startswith("/dev/pts/")
        wait_for(ctl.exists, 10, what="control socket")
        assert control(str(ctl), "status")["model"] == "smart-ups-1250-old"
    finally:
        p.terminate()
        assert p.wait(10) == 0
        p.stdout.close()
        p.stderr.close()
    assert not ctl.exists() and not (tmp_path / "tty").exists()


def test_command_line_rejects_unknown_model():
    res = subprocess.run([sys.executable, "-m", "pnut.drivers.apcsmart_sim", "--model=nope"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 1 and "unknown model 'nope'" in res.stdout


def test_tcp_transport_through_pyserial():
    serial = pytest.importorskip("serial")
    from pnut.drivers.apcsmart_sim_pty import SimulatorTcp

    with SimulatorTcp(SmartUPS("smart-ups-1500")) as sim:
        port = serial.serial_for_url(sim.url, timeout=5)
        try:
            port.write(b"Y")
            assert port.read_until(b"\n") == b"SM\r\n"
            port.write(b"b")
            assert port.read_until(b"\n") == b"601.3.I\r\n"
            sim.call(sim.ups.power_fail)
            port.write(b"Q")
            assert port.read_until(b"\n") == b"!10\r\n"
        finally:
            port.close()
