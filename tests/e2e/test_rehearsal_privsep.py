"""Rehearsal of the privilege split: the monitor runs as RUN_AS_USER, only the root parent runs
SHUTDOWNCMD and writes POWERDOWNFLAG."""

from __future__ import annotations

import os
import pwd

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
    st.launch(h)
    st.wait_logins("ups1", 1)
    assert _uid(h.proc.pid) == 0
    assert _uid(h.child_pid) == nut_user.pw_uid
    h.wait_shutdown(30)
    assert os.stat(h.marker).st_uid == 0         # SHUTDOWNCMD ran as root, in the parent
    assert os.stat(h.flag).st_uid == 0
    # (NOTIFYCMD runs as nut too, but pytest's private temp dirs are closed to other users)
    assert "Auto logout and shutdown proceeding" in (h.dir / "upsmon.log").read_text()
    h.proc.wait(10)
    assert h.proc.returncode == 0
