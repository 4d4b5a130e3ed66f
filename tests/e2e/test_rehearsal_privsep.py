"""Rehearsal of the privilege split: the monitor runs as RUN_AS_USER, only the root parent runs
SHUTDOWNCMD and writes POWERDOWNFLAG."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.e2e.rehearsal_harness import Stack, seq


def _uid(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("Uid:"):
            return int(line.split()[2])        # effective uid
    raise AssertionError("no Uid line")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")
def test_monitor_unprivileged_parent_shuts_down(nut, procs):
    try:
        nut_user = pwd.getpwnam("nut")
    except KeyError:
        pytest.skip("no 'nut' user")
    st = Stack(nut, procs)
    st.configure({"ups1": seq(("OL", 6), ("OB DISCHRG LB", 3600))})
    st.start()
    h = st.host("p", st.monitor_line("ups1", True), hostsync=2)
    h.conf.write_text(h.conf.read_text().replace("RUN_AS_USER root\n", "RUN_AS_USER nut\n"))
    # pytest's temp dirs are closed to other users: the file upsmon reads again on reload lives elsewhere
    public = Path(tempfile.mkdtemp(prefix="pnut-privsep-"))
    os.chmod(public, 0o755)
    shutil.copy(h.conf, public / "upsmon.conf")
    os.chmod(public / "upsmon.conf", 0o644)
    try:
        _run(st, h, nut_user, public / "upsmon.conf")
    finally:
        shutil.rmtree(public, ignore_errors=True)


def _run(st, h, nut_user, conf):
    st.launch(h, args=("-f", str(conf)))
    st.wait_logins("ups1", 1)
    assert _uid(h.proc.pid) == 0
    assert _uid(h.child_pid) == nut_user.pw_uid
    # a reload as nut: the file must be readable by it (as in NUT), and nothing it needs is out of reach
    os.kill(h.child_pid, 1)
    h.wait_shutdown(30)
    assert os.stat(h.marker).st_uid == 0         # SHUTDOWNCMD ran as root, in the parent
    assert os.stat(h.flag).st_uid == 0
    # (NOTIFYCMD runs as nut too, but pytest's private temp dirs are closed to other users)
    log = (h.dir / "upsmon.log").read_text()
    assert "Auto logout and shutdown proceeding" in log
    assert "Reloading configuration" in log and "Reload failed" not in log and "internal error" not in log
    h.proc.wait(10)
    assert h.proc.returncode == 0
