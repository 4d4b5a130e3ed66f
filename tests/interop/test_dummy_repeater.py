"""dummy-ups repeater mode (port = ups@host:port): ours and NUT 2.8.0's copy the same variables from a
real upsd, and ours marks its copy stale while the other upsd is gone (where 2.8.0 keeps serving it)."""

from __future__ import annotations

import subprocess

import pytest

from tests.procs import NutDirs, free_port, ours, real_nut, run, wait_for

DEV = """\
ups.status: OB DISCHRG
battery.charge: 57
battery.runtime: 900
ups.mfr: "Upstream \\"Power\\" Co"
ups.model: Repeated 1500
input.voltage: 0
"""


def _upstream(nut: NutDirs, procs) -> int:
    port = free_port()
    nut.write("up.dev", DEV)
    nut.write("ups.conf", "[up]\n\tdriver = dummy-ups\n\tport = up.dev\n")
    nut.write("upsd.conf", f"LISTEN 127.0.0.1 {port}\n")
    nut.write("upsd.users", "[admin]\n\tpassword = x\n")
    procs.start([real_nut("dummy-ups"), "-a", "up", "-u", "root", "-F"], env=nut.env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: (nut.state / "dummy-ups-up").exists(), what="upstream driver socket")
    return port


def _start_upsd(nut: NutDirs, procs, port: int) -> subprocess.Popen:
    p = procs.start([real_nut("upsd"), "-u", "root", "-F"], env=nut.env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: run([real_nut("upsc"), f"up@127.0.0.1:{port}", "ups.status"], env=nut.env).stdout
             .strip() == "OB DISCHRG", what="upstream upsd")
    return p


def _dump(driver: str, local: NutDirs) -> subprocess.CompletedProcess:
    return run([driver, "-a", "rep", "-u", "root", "-d", "1"], env=local.env, timeout=30)


def test_repeater_dump_matches_nut(tmp_path, procs):
    up = NutDirs(tmp_path / "up")
    port = _upstream(up, procs)
    _start_upsd(up, procs, port)
    local = NutDirs(tmp_path / "local")
    local.write("ups.conf", f"[rep]\n\tdriver = dummy-ups\n\tport = up@127.0.0.1:{port}\n")
    real = _dump(real_nut("dummy-ups"), local)
    mine = _dump(ours("dummy-ups"), local)
    assert real.returncode == 0, real.stderr
    assert mine.returncode == real.returncode, mine.stderr
    assert "battery.charge: 57" in mine.stdout
    assert "driver.parameter.mode: repeater" in mine.stdout
    assert mine.stdout == real.stdout


@pytest.mark.parametrize("port", ["up@127.0.0.1:{dead}", "up@127.0.0.1:notaport", "up@127.0.0.1:"])
def test_repeater_errors_match_nut(tmp_path, port):
    local = NutDirs(tmp_path / "local")
    port = port.format(dead=free_port())
    local.write("ups.conf", f"[rep]\n\tdriver = dummy-ups\n\tport = {port}\n")
    real = _dump(real_nut("dummy-ups"), local)
    mine = _dump(ours("dummy-ups"), local)
    assert real.returncode == mine.returncode == 1
    assert "Error: " in mine.stderr
    assert mine.stderr == real.stderr


def test_repeater_goes_stale_and_recovers(tmp_path, procs):
    up = NutDirs(tmp_path / "up")
    port = _upstream(up, procs)
    upsd = _start_upsd(up, procs, port)
    local = NutDirs(tmp_path / "local")
    local.write("ups.conf", f"[rep]\n\tdriver = dummy-ups\n\tport = up@127.0.0.1:{port}\n")
    lport = free_port()
    local.write("upsd.conf", f"LISTEN 127.0.0.1 {lport}\n")
    local.write("upsd.users", "[admin]\n\tpassword = x\n")
    procs.start([ours("dummy-ups"), "-a", "rep", "-u", "root", "-F"], env=local.env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: (local.state / "dummy-ups-rep").exists(), what="repeater socket")
    procs.start([ours("upsd"), "-u", "root", "-F"], env=local.env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = f"rep@127.0.0.1:{lport}"

    def status() -> str:
        r = run([real_nut("upsc"), target, "ups.status"], env=local.env)
        return r.stdout.strip() if r.returncode == 0 else r.stderr.strip()

    wait_for(lambda: status() == "OB DISCHRG", timeout=20, what="repeated status")
    upsd.terminate()
    upsd.wait(10)
    wait_for(lambda: "Data stale" in status(), timeout=20, what="stale copy once the upstream upsd is gone")
    _start_upsd(up, procs, port)
    wait_for(lambda: status() == "OB DISCHRG", timeout=20, what="fresh copy after the upstream upsd returns")
