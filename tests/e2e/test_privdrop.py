"""Started as root without -u, our driver and upsd drop to the `nut` account as NUT's do, and keep serving:
whatever they import after that is loaded before the switch (here the interpreter may live where `nut`
cannot read, e.g. a pyenv under /root)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.procs import NutDirs, free_port, ours, run, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")


@pytest.fixture
def world_dir():
    """A directory `nut` can enter (pytest's tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="pnut-privdrop-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_driver_and_upsd_serve_after_dropping_to_nut(world_dir, procs):
    try:
        nut_pw = pwd.getpwnam("nut")
    except KeyError:
        pytest.skip("no 'nut' account (Debian's nut-client creates it)")
    nut = NutDirs(world_dir)
    os.chmod(nut.conf, 0o755)
    os.chmod(nut.state, 0o770)
    os.chown(nut.state, 0, nut_pw.pw_gid)
    port = free_port()
    nut.write("ups.conf", "[d]\n\tdriver = dummy-ups\n\tport = d.seq\n", mode=0o644)
    nut.write("d.seq", "ups.status: OL\nbattery.charge: 90\nTIMER 1\nups.status: OB DISCHRG\nTIMER 1\n", mode=0o644)
    nut.write("upsd.conf", f"LISTEN 127.0.0.1 {port}\n", mode=0o644)
    nut.write("upsd.users", "[admin]\n\tpassword = x\n\tactions = SET\n", mode=0o644)
    drv = procs.start([ours("dummy-ups"), "-a", "d", "-F"], env=nut.env,
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for(lambda: (nut.state / "dummy-ups-d").exists() or drv.poll() is not None, 20, what="driver socket")
    upsd = procs.start([ours("upsd"), "-F"], env=nut.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    target = f"d@127.0.0.1:{port}"

    def statuses() -> set[str]:
        seen = set()
        for _ in range(2):
            r = run([ours("upsc"), target, "ups.status"], env=nut.env)
            if r.returncode == 0:
                seen.add(r.stdout.strip())
        return seen

    seen: set[str] = set()
    wait_for(lambda: seen.update(statuses()) or {"OL", "OB DISCHRG"} <= seen or drv.poll() is not None
             or upsd.poll() is not None, 30, what="both statuses of the sequence")
    assert drv.poll() is None, drv.stderr.read().decode() if drv.stderr else ""
    assert upsd.poll() is None, upsd.stderr.read().decode() if upsd.stderr else ""
    assert {"OL", "OB DISCHRG"} <= seen
    for p in (drv, upsd):
        status = Path(f"/proc/{p.pid}/status").read_text()
        uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
        assert int(uid) == nut_pw.pw_uid
