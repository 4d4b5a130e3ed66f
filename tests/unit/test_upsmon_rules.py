"""upsmon's decision rules on a fake clock (monitor.Decider): notifications, criticality, power accounting."""

from __future__ import annotations

from pnut.upsmon.config import parse_upsmon_conf
from pnut.upsmon.monitor import Decider
from pnut.upsmon.notify import NotifyType as N


def make(text: str):
    conf = parse_upsmon_conf(text)
    seen: list[tuple[N, str]] = []
    d = Decider(conf, lambda t, s: seen.append((t, s)))
    return d, seen


PRIMARY = "MONITOR ups@h 1 u p primary\nHOSTSYNC 15\nDEADTIME 15\n"
SECONDARY = "MONITOR ups@h 1 u p secondary\nHOSTSYNC 15\nDEADTIME 15\n"


def types(seen):
    return [t for t, _ in seen]


def test_first_online_and_first_commok_are_silent():
    d, seen = make(PRIMARY)
    u = d.upses[0]
    d.status(u, "OL", 100)
    assert seen == []
    d.status(u, "OB DISCHRG", 101)
    d.status(u, "OL CHRG", 102)
    assert types(seen) == [N.ONBATT, N.ONLINE]
    assert seen[0][1] == "ups@h"


def test_onbatt_at_startup_is_notified():
    d, seen = make(PRIMARY)
    d.status(d.upses[0], "OB", 100)
    assert types(seen) == [N.ONBATT]


def test_primary_ob_lb_is_critical_at_once():
    d, seen = make(PRIMARY)
    u = d.upses[0]
    d.status(u, "OL", 100)
    assert not d.must_shutdown(100)
    d.status(u, "OB LB", 101)
    assert types(seen) == [N.ONBATT, N.LOWBATT]
    assert d.must_shutdown(101)


def test_secondary_waits_hostsync_for_fsd():
    d, seen = make(SECONDARY)
    u = d.upses[0]
    d.status(u, "OB", 100)
    d.status(u, "OB LB", 101)
    assert not d.must_shutdown(110)
    d.status(u, "OB LB", 116)
    assert d.must_shutdown(116.5)          # more than HOSTSYNC since the last non-critical status


def test_fsd_is_critical_for_everyone():
    d, seen = make(SECONDARY)
    u = d.upses[0]
    d.status(u, "OL", 100)
    d.status(u, "FSD OL", 101)
    assert types(seen) == [N.FSD]
    assert d.must_shutdown(101)


def test_lost_comm_on_battery_is_critical_after_deadtime():
    d, seen = make(PRIMARY + "NOCOMMWARNTIME 5\n")
    u = d.upses[0]
    d.status(u, "OB", 100)
    d.gone(u, 101)
    d.gone(u, 103)
    assert not d.must_shutdown(110)
    d.gone(u, 106)
    assert types(seen) == [N.ONBATT, N.COMMBAD, N.NOCOMM]
    assert d.must_shutdown(115.5)
    assert u.lowbatt


def test_lost_comm_on_line_never_shuts_down():
    d, seen = make(PRIMARY)
    u = d.upses[0]
    d.status(u, "OL", 100)
    d.gone(u, 101)
    assert not d.must_shutdown(1000)


def test_never_reached_ups_gets_commbad_then_nocomm():
    d, seen = make(PRIMARY)
    u = d.upses[0]
    d.gone(u, 100)
    d.gone(u, 105)
    d.gone(u, 110)
    assert types(seen) == [N.COMMBAD, N.NOCOMM]
    d.status(u, "OL", 111)
    assert types(seen) == [N.COMMBAD, N.NOCOMM, N.COMMOK]
    assert not d.must_shutdown(111)           # never-contacted UPSes count as healthy


def test_replbatt_repeats_every_rbwarntime():
    d, seen = make(PRIMARY + "RBWARNTIME 100\n")
    u = d.upses[0]
    d.status(u, "OL RB", 100)
    d.status(u, "OL RB", 150)
    d.status(u, "OL RB", 201)
    assert types(seen) == [N.REPLBATT, N.REPLBATT]


def test_calibration_does_not_block_a_later_shutdown():
    """NUT 2.8.0 kept CAL set forever, so OB LB after a calibration never shut down; later NUT clears it."""
    d, seen = make(PRIMARY)
    u = d.upses[0]
    d.status(u, "OL", 99)
    d.status(u, "OB CAL", 100)
    d.status(u, "OB CAL LB", 101)
    assert not d.must_shutdown(101)           # calibrating: OB LB is expected
    d.status(u, "OL", 102)
    d.status(u, "OB LB", 200)
    assert N.CAL in types(seen) and N.NOTCAL in types(seen)
    assert d.must_shutdown(200)


def test_minsupplies_and_power_values():
    two = "MONITOR a@h 1 u p secondary\nMONITOR b@h 1 u p secondary\nHOSTSYNC 0\n"
    for minsup, expect in ((1, False), (2, True)):
        d, _ = make(two + f"MINSUPPLIES {minsup}\n")
        a, b = d.upses
        d.status(a, "OB LB", 100)
        d.status(b, "OL", 100)
        assert d.must_shutdown(101) is expect
    d, _ = make("MONITOR a@h 0 u p primary\nMONITOR b@h 1 u p secondary\n")
    d.status(d.upses[0], "OB LB", 100)
    d.status(d.upses[1], "OL", 100)
    assert not d.must_shutdown(100)           # power value 0: monitoring only
    d, _ = make("MONITOR a@h 1 u p primary\nMINSUPPLIES 0\n")
    d.status(d.upses[0], "FSD OB LB", 100)
    assert not d.must_shutdown(100)           # MINSUPPLIES 0 disables shutdowns


def test_sleep_interval_follows_line_state():
    d, _ = make(PRIMARY + "POLLFREQ 7\nPOLLFREQALERT 2\n")
    u = d.upses[0]
    assert d.sleepval == 5
    d.status(u, "OB", 100)
    assert d.sleepval == 2
    d.status(u, "OL", 101)
    assert d.sleepval == 7


def test_off_and_bypass_notices():
    d, seen = make(PRIMARY)
    u = d.upses[0]
    d.status(u, "OL", 100)
    d.status(u, "OL BYPASS", 101)
    d.status(u, "OFF", 102)
    d.status(u, "OL", 103)
    assert types(seen) == [N.BYPASS, N.NOTBYPASS, N.OFF, N.NOTOFF]
    assert not d.must_shutdown(103)


def test_notifications_follow_word_order():
    d, seen = make(PRIMARY)
    u = d.upses[0]
    d.status(u, "OB", 100)
    d.status(u, "OL RB", 101)
    assert types(seen) == [N.ONBATT, N.ONLINE, N.REPLBATT]
