"""Rehearsal: one primary and several secondaries on one UPS; the mains fail, the battery runs low."""

from __future__ import annotations

from tests.e2e.rehearsal_harness import Stack, prog, seq
from tests.procs import ours, run

SECONDARIES = 3


def test_primary_and_secondaries_shut_down_in_order(nut, procs):
    st = Stack(nut, procs)
    st.configure({"ups1": seq(("OL", 6), ("OB DISCHRG", 2), ("OB DISCHRG LB", 3600))})
    st.start()
    hostsync = 5
    primary = st.host("primary", st.monitor_line("ups1", True), hostsync=hostsync)
    secs = [st.host(f"sec{i}", st.monitor_line("ups1", False), hostsync=hostsync) for i in range(SECONDARIES)]
    st.launch_all([primary, *secs])
    st.wait_logins("ups1", 1 + SECONDARIES)
    t_primary = primary.wait_shutdown(40)
    t_secs = [s.wait_shutdown(10) for s in secs]
    for s in secs:
        assert "ONBATT" in s.types() and "SHUTDOWN" in s.types(), s.types()
        assert "FSD" in s.types(), s.types()
    assert all(t < t_primary for t in t_secs), (t_secs, t_primary)
    t_fsd = min(s.first("FSD") for s in secs)
    # the primary waits at most HOSTSYNC (+ FINALDELAY, + polling slack) after raising FSD
    assert t_primary - t_fsd <= hostsync + 1 + 2
    assert primary.flag.read_text() == "upsmon-shutdown-file"
    assert [t for t in primary.types() if t in ("ONBATT", "LOWBATT", "SHUTDOWN")] == ["ONBATT", "LOWBATT", "SHUTDOWN"]
    assert st.ups_status("ups1").startswith("FSD")
    # what the halt script does next: `upsmon -K` finds the flag, then `upsdrvctl shutdown` tells the
    # driver to power the UPS off.  dummy-ups has no UPS to send that to: like NUT's, it answers
    # "shutdown not supported", which at least shows the driver was run in shutdown mode.
    k = run([ours("upsmon"), "-K", "-f", str(primary.conf)], env=nut.env)
    assert k.returncode == 0, k.stdout + k.stderr
    assert "Power down flag is set" in k.stderr
    sd = run([prog("upsdrvctl", st.impl), "-u", "root", "shutdown"], env=nut.env, timeout=60)
    assert "Initiating UPS shutdown" in sd.stderr, sd.stderr
    assert "shutdown not supported" in sd.stderr, sd.stderr
