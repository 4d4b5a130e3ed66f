"""Interop rehearsals: NUT 2.8.0's upsmon as a secondary of our upsd and our primary upsmon, and our
upsmon as a secondary of NUT's upsd and NUT's primary upsmon.  Both shut down in NUT's order."""

from __future__ import annotations

import pytest

from tests.e2e.rehearsal_harness import Stack, seq
from tests.procs import real_nut

pytestmark = pytest.mark.skipif(real_nut("upsmon") is None, reason="NUT's upsmon is not installed")

OUTAGE = seq(("OL", 6), ("OB DISCHRG", 2), ("OB DISCHRG LB", 3600))


def _check(primary, secondaries, hostsync):
    t_p = primary.wait_shutdown(40)
    for s in secondaries:
        t_s = s.wait_shutdown(10)
        assert t_s < t_p, (s.name, t_s, t_p)
        assert "FSD" in s.types() and "SHUTDOWN" in s.types(), (s.name, s.types())
        assert s.types().index("ONBATT") < s.types().index("SHUTDOWN")
    t_fsd = min(s.first("FSD") for s in secondaries)
    assert t_p - t_fsd <= hostsync + 3
    assert primary.flag.read_text() == "upsmon-shutdown-file"


def test_real_upsmon_secondary_of_our_primary(nut, procs):
    st = Stack(nut, procs, impl="ours")
    st.configure({"ups1": OUTAGE})
    st.start()
    p, real_s, our_s = st.launch_all([
        st.host("p", st.monitor_line("ups1", True), hostsync=5),
        st.host("real-s", st.monitor_line("ups1", False), impl="real", hostsync=5),
        st.host("our-s", st.monitor_line("ups1", False), hostsync=5)])
    st.wait_logins("ups1", 3)
    _check(p, [real_s, our_s], 5)
    # NUT's notifier saw the same events in the same words
    assert [n[3] for n in real_s.notices() if n[1] == "ONBATT"] == [n[3] for n in our_s.notices() if n[1] == "ONBATT"]


def test_our_upsmon_secondary_of_real_primary(nut, procs):
    st = Stack(nut, procs, impl="real")
    st.configure({"ups1": OUTAGE})
    st.start()
    p, our_s = st.launch_all([st.host("real-p", st.monitor_line("ups1", True), impl="real", hostsync=5),
                              st.host("our-s", st.monitor_line("ups1", False), hostsync=5)])
    st.wait_logins("ups1", 2)
    _check(p, [our_s], 5)
