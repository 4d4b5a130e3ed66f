"""Rehearsal: upsd restarts in the middle of an outage; upsmon reconnects and the shutdown still happens."""

from __future__ import annotations

from tests.e2e.rehearsal_harness import Stack, seq


def test_upsd_restart_mid_outage(nut, procs):
    st = Stack(nut, procs)
    st.configure({"ups1": seq(("OL", 5), ("OB DISCHRG", 7), ("OB DISCHRG LB", 3600))})
    st.start()
    p = st.launch(st.host("p", st.monitor_line("ups1", True), deadtime=15))
    s = st.launch(st.host("s", st.monitor_line("ups1", False), deadtime=15))
    st.wait_logins("ups1", 2)
    p.wait_notice("ONBATT", 20)
    s.wait_notice("ONBATT", 5)
    st.stop_upsd()
    p.wait_notice("COMMBAD", 10)
    s.wait_notice("COMMBAD", 10)
    st.start_upsd()
    t_p = p.wait_shutdown(40)
    t_s = s.wait_shutdown(10)
    assert t_s < t_p
    for h in (p, s):
        types = h.types()
        assert types.index("ONBATT") < types.index("COMMBAD") < types.index("COMMOK") < types.index("LOWBATT"), types
    assert "FSD" in s.types()
    assert p.flag.exists()
