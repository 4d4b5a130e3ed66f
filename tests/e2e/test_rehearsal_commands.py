"""Rehearsal of the manual commands on a running stack: `upsmon -c reload`, `-c fsd`, `-c stop`."""

from __future__ import annotations

import os

from tests.e2e.rehearsal_harness import Stack, seq
from tests.procs import ours, run, wait_for


def _ctl(h, nut, *args):
    env = dict(nut.env, NUT_PIDPATH=str(h.dir))
    return run([ours("upsmon"), *args], env=env)


def test_reload_fsd_and_stop(nut, procs):
    st = Stack(nut, procs)
    st.configure({"ups1": seq(("OL", 3600))})
    st.start()
    p = st.launch(st.host("p", st.monitor_line("ups1", True), hostsync=4))
    s = st.launch(st.host("s", st.monitor_line("ups1", False)))
    other = st.launch(st.host("other", st.monitor_line("ups1", False)))
    orphan = st.launch(st.host("orphan", st.monitor_line("ups1", False)))
    st.wait_logins("ups1", 4)

    # the privileged parent dies: the monitor carries on but says it can no longer shut down
    orphan.proc.kill()
    orphan.proc.wait(5)
    orphan.wait_notice("NOPARENT", 10)
    assert "Parent died - shutdown impossible" in (orphan.dir / "upsmon.log").read_text()
    # and if it must shut down now, it still tries SHUTDOWNCMD itself (NUT 2.8.0 would give up)
    r = _ctl(orphan, nut, "-c", "fsd")
    assert r.returncode == 0, r.stderr
    orphan.wait_shutdown(15)
    st.wait_logins("ups1", 3)

    # reload: a new NOTIFYMSG takes effect without a restart
    p.conf.write_text(p.conf.read_text() + 'NOTIFYMSG SHUTDOWN "custom shutdown text"\n')
    r = _ctl(p, nut, "-c", "reload")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: "Reloading configuration" in (p.dir / "upsmon.log").read_text(), 10, what="reload")

    # stop: the process says goodbye and leaves; its login is released
    r = _ctl(other, nut, "-c", "stop")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: other.proc.poll() is not None, 10, what="upsmon -c stop")
    assert "Signal 15: exiting" in (other.dir / "upsmon.log").read_text()
    assert other.shutdown_time() is None
    st.wait_logins("ups1", 2)
    assert not os.path.exists(other.marker)

    # fsd on the primary: FSD is raised, the secondary goes first, then the primary
    r = _ctl(p, nut, "-c", "fsd")
    assert r.returncode == 0, r.stderr
    t_p = p.wait_shutdown(20)
    t_s = s.wait_shutdown(5)
    assert t_s < t_p
    assert "FSD" in s.types()
    assert "User requested FSD" in (p.dir / "upsmon.log").read_text()
    assert "custom shutdown text" in (p.dir / "notify.sh.log").read_text()
    assert st.ups_status("ups1").startswith("FSD")
