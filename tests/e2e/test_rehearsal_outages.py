"""Rehearsals on one shared stack (one upsd, one dummy-ups per scenario, separate upsmon hosts):
power returning before LB, a driver dying on battery, and two UPSes feeding one host (MINSUPPLIES)."""

from __future__ import annotations

import pytest

from tests.e2e.rehearsal_harness import Stack, seq, settle
from tests.procs import NutDirs, Procs, ours, wait_for


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    procs = Procs()
    st = Stack(NutDirs(tmp_path_factory.mktemp("outages")), procs)
    st.configure({
        "ret": seq(("OL", 8), ("OB DISCHRG", 3), ("OL CHRG", 3600)),
        "dies": seq(("OL", 8), ("OB DISCHRG", 3600)),
        "left": seq(("OL", 8), ("OB DISCHRG LB", 3600)),
        "right": seq(("OL", 3600)),
    })
    sched = st.nut.root / "sched"
    sched.mkdir()
    (sched / "cmd.sh").write_text('#!/bin/sh\necho "$*" >> "$0.log"\n')
    (sched / "cmd.sh").chmod(0o755)
    st.nut.write("upssched.conf", f"CMDSCRIPT {sched / 'cmd.sh'}\nPIPEFN {sched / 'pipe'}\nLOCKFN {sched / 'lock'}\n"
                 "AT ONBATT * START-TIMER onbatt 1\nAT ONLINE * CANCEL-TIMER onbatt back-online\n")
    st.sched_log = sched / "cmd.sh.log"
    try:
        st.start()
        hosts = []
        for name, text, kw in (
            ("ret-p", st.monitor_line("ret", True), {}),
            ("ret-s", st.monitor_line("ret", False), {}),
            ("ret-sched", st.monitor_line("ret", False),
             {"extra": f"NOTIFYCMD {ours('upssched')}\nNOTIFYFLAG ONBATT EXEC\nNOTIFYFLAG ONLINE EXEC\n"}),
            ("dies-p", st.monitor_line("dies", True), {"deadtime": 4}),
            ("dies-s", st.monitor_line("dies", False), {"deadtime": 4, "hostsync": 3}),
            ("min1", st.monitor_line("left", False) + st.monitor_line("right", False), {"hostsync": 2}),
            ("min2", st.monitor_line("left", False) + st.monitor_line("right", False),
             {"hostsync": 2, "extra": "MINSUPPLIES 2\n"}),
        ):
            hosts.append(st.host(name, text, **kw))
        st.hosts_by_name = {h.name: h for h in st.launch_all(hosts)}
        st.wait_logins("ret", 2)
        st.wait_logins("dies", 2)
        st.wait_logins("left", 2)
        yield st
    finally:
        procs.stop_all()


def test_power_returns_before_low_battery(stack):
    for name in ("ret-p", "ret-s"):
        h = stack.hosts_by_name[name]
        h.wait_notice("ONLINE", 20)
        types = h.types()
        assert types.index("ONBATT") < types.index("ONLINE"), types
    settle(2)
    for name in ("ret-p", "ret-s"):
        h = stack.hosts_by_name[name]
        assert h.shutdown_time() is None
        assert "SHUTDOWN" not in h.types() and "LOWBATT" not in h.types()
        assert not h.flag.exists()


def test_upssched_timers_from_upsmon(stack):
    """upsmon runs upssched as NOTIFYCMD: the ONBATT timer fires during the outage, ONLINE afterwards
    finds no timer left and runs its cancel command."""
    wait_for(lambda: stack.sched_log.exists() and "back-online" in stack.sched_log.read_text(), 20,
             what="upssched commands")
    assert stack.sched_log.read_text().splitlines() == ["onbatt", "back-online"]


def test_driver_dies_on_battery(stack):
    p, s = stack.hosts_by_name["dies-p"], stack.hosts_by_name["dies-s"]
    p.wait_notice("ONBATT", 20)
    s.wait_notice("ONBATT", 5)
    stack.stop_driver("dies")
    t_p = p.wait_shutdown(30)
    t_s = s.wait_shutdown(30)
    for h, t in ((p, t_p), (s, t_s)):
        types = h.types()
        assert types.index("ONBATT") < types.index("COMMBAD") < types.index("NOCOMM") < types.index("SHUTDOWN"), types
        # the critical rule fires only once DEADTIME has passed since the last good poll
        assert t - h.first("COMMBAD") >= 4 - 1.5
    assert p.flag.exists()


def test_two_supplies_minsupplies(stack):
    two = stack.hosts_by_name["min2"]
    one = stack.hosts_by_name["min1"]
    two.wait_shutdown(30)
    assert "LOWBATT" in two.types()
    one.wait_notice("LOWBATT", 5)
    settle(3)
    assert one.shutdown_time() is None, "one supply still feeds a MINSUPPLIES 1 host"
    assert "SHUTDOWN" not in one.types()
