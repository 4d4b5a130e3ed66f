"""Safety review of upsmon against NUT 2.8.0 clients/upsmon.c: the shutdown must never be lost to a fault in
pnut's own code, and the decision rules must match 2.8.0's (no shutdown NUT would not make either)."""

from __future__ import annotations

import socket

import pytest

from pnut.upsmon import upsmon as upsmon_mod
from pnut.upsmon.config import parse_upsmon_conf
from pnut.upsmon.monitor import Decider
from pnut.upsmon.notify import NotifyType as N
from pnut.upsmon.push import Watch

PRIMARY = "MONITOR ups@h 1 u p primary\nHOSTSYNC 15\nDEADTIME 15\n"
SECONDARY = "MONITOR ups@h 1 u p secondary\nHOSTSYNC 15\nDEADTIME 15\n"


def make(text: str):
    conf = parse_upsmon_conf(text)
    seen: list[N] = []
    d = Decider(conf, lambda t, s, x=None: seen.append(t))
    return d, seen


def broken_emit(*args: object) -> None:
    raise ValueError("embedded null byte")     # what subprocess raises for a NUL in NOTIFYCMD


# --- a notifier that fails must not cost the shutdown -------------------------------------------------
# In 2.8.0 do_notify() cannot abort parse_status(): the flags are set whatever the notifier does.

def test_failing_notifier_does_not_hide_ob_lb():
    d, _ = make(PRIMARY)
    d.emit = broken_emit
    u = d.upses[0]
    d.status(u, "OL", 100)
    d.status(u, "OB LB", 105)               # ONBATT and LOWBATT notices both fail
    assert u.onbatt and u.lowbatt
    assert d.must_shutdown(105)


def test_failing_notifier_does_not_hide_fsd():
    d, _ = make(SECONDARY)
    d.emit = broken_emit
    u = d.upses[0]
    d.status(u, "OL", 100)
    d.status(u, "FSD OL", 105)
    assert d.must_shutdown(105)


def test_failing_notifier_on_lost_comm_still_promotes_after_deadtime():
    d, _ = make(PRIMARY)
    u = d.upses[0]
    d.status(u, "OB", 100)
    d.emit = broken_emit
    d.gone(u, 105)                          # COMMBAD fails
    d.gone(u, 110)
    assert not d.must_shutdown(115)         # exactly DEADTIME: not yet (2.8.0 uses `>`)
    d.gone(u, 116)
    assert d.must_shutdown(116)


# --- rules that already match 2.8.0 (kept pinned) -------------------------------------------------------

def test_ob_without_lb_never_shuts_down():
    d, seen = make(PRIMARY)
    u = d.upses[0]
    for t in range(100, 1000, 5):
        d.status(u, "OB DISCHRG", t)
        assert not d.must_shutdown(t)
    assert seen == [N.ONBATT]


def test_brief_and_long_comm_loss_while_online_never_shuts_down():
    d, seen = make(SECONDARY)
    u = d.upses[0]
    d.status(u, "OL", 100)
    for t in range(105, 2000, 5):
        d.gone(u, t)
        assert not d.must_shutdown(t)
    d.status(u, "OL", 2005)
    assert seen[0] == N.COMMBAD and seen[-1] == N.COMMOK and N.NOCOMM in seen


def test_never_reached_ups_counts_as_supplying_power():
    # recalc(): "a UPS we've never heard from is assumed OL"
    d, seen = make(PRIMARY)
    u = d.upses[0]
    for t in range(100, 1000, 5):
        d.gone(u, t)
        assert not d.must_shutdown(t)
    assert seen[:2] == [N.COMMBAD, N.NOCOMM]


def test_data_stale_after_ob_is_critical_after_deadtime_for_a_secondary():
    d, _ = make(SECONDARY)
    u = d.upses[0]
    d.status(u, "OB", 100)
    d.gone(u, 105)                          # ERR DATA-STALE: a failed poll, connection kept
    assert not d.must_shutdown(115)
    assert d.must_shutdown(116)             # promoted to OB LB, and lastnoncrit is 16 s old (> HOSTSYNC)


def test_fsd_set_by_upsd_while_online_is_critical_for_a_secondary_at_once():
    d, seen = make(SECONDARY)
    u = d.upses[0]
    d.status(u, "OL", 100)
    d.status(u, "OL FSD", 101)
    assert seen == [N.FSD]
    assert d.must_shutdown(101)


def test_secondary_ob_lb_first_seen_waits_hostsync():
    d, _ = make(SECONDARY)
    u = d.upses[0]
    d.status(u, "OB LB", 100)               # lastnoncrit is taken at the OB word, before LB is parsed
    assert not d.must_shutdown(115)
    d.status(u, "OB LB", 116)
    assert d.must_shutdown(116)


def test_lb_cleared_by_a_later_status_without_it():
    d, _ = make(SECONDARY)
    u = d.upses[0]
    d.status(u, "OB LB", 100)
    d.status(u, "OB", 110)
    for t in range(110, 300, 5):
        d.status(u, "OB", t)
        assert not d.must_shutdown(t)


def test_calibration_clears_and_then_ob_lb_is_critical():
    d, seen = make(PRIMARY)
    u = d.upses[0]
    d.status(u, "OL CAL", 100)
    d.status(u, "OB LB CAL", 101)
    assert not d.must_shutdown(101)        # 2.8.0: calibrating is never critical
    d.status(u, "OB LB", 102)
    assert N.NOTCAL in seen
    assert d.must_shutdown(102)


def test_minsupplies_with_two_upses():
    d, _ = make("MONITOR a@h 1 u p secondary\nMONITOR b@h 1 u p secondary\nMINSUPPLIES 2\n")
    a, b = d.upses
    d.status(a, "OL", 100)
    d.status(b, "OL", 100)
    d.status(b, "FSD OB LB", 101)
    assert d.must_shutdown(101)
    d2, _ = make("MONITOR a@h 1 u p secondary\nMONITOR b@h 1 u p secondary\nMINSUPPLIES 1\n")
    a, b = d2.upses
    d2.status(a, "OL", 100)
    d2.status(b, "FSD OB LB", 101)
    assert not d2.must_shutdown(101)


# --- the pushed WATCH path only wakes the loop ----------------------------------------------------------

def test_pushed_lines_never_reach_the_decider():
    d, seen = make(SECONDARY)
    u = d.upses[0]
    d.status(u, "OL", 100)
    w = Watch(u.mon)
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    w.sock = ours
    from pnut.libupsclient import core
    w._buf = core.LineBuffer()
    theirs.sendall(b"STATUS ups \"FSD OB LB\"\n")
    assert w.drain() is True
    assert not u.fsd and not u.onbatt and seen == []
    assert not d.must_shutdown(101)
    w.stop()
    theirs.close()


# --- the process around the rules ---------------------------------------------------------------------

def _monitor(tmp_path, extra: str = ""):
    flag = tmp_path / "shutdown-ran"
    conf = parse_upsmon_conf(PRIMARY + f"FINALDELAY 0\nSHUTDOWNCMD \"touch {flag}\"\n" + extra)
    mon = upsmon_mod.Upsmon(conf, str(tmp_path / "upsmon.conf"), parent=None, push=False)
    return mon, flag


def test_shutdown_runs_even_if_wall_and_notifier_fail(tmp_path, monkeypatch):
    mon, flag = _monitor(tmp_path)

    def boom(*a: object, **k: object) -> None:
        raise ValueError("embedded null byte")

    monkeypatch.setattr(mon.notifier, "_spawn", boom)
    monkeypatch.setattr(mon.notifier, "notify", boom)
    with pytest.raises(upsmon_mod.ShutdownDone):
        mon.doshutdown()
    assert flag.exists()


def test_a_bug_in_reload_does_not_stop_monitoring(tmp_path, monkeypatch):
    mon, _ = _monitor(tmp_path)
    polled: list[str] = []

    def bad_reload() -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(mon, "reload", bad_reload)
    monkeypatch.setattr(mon, "pollups", lambda ups: polled.append(ups.sys))
    passes = iter(range(3))

    def fake_sleep(seconds: float) -> None:
        if next(passes) == 1:
            mon.reload_flag = True
        if len(polled) >= 3:
            mon.exit_signal = 15

    monkeypatch.setattr(mon, "sleep", fake_sleep)
    mon.reload_flag = True
    assert mon.run() == 0
    assert len(polled) >= 3


def test_a_bug_in_one_pass_does_not_end_the_loop(tmp_path, monkeypatch):
    mon, _ = _monitor(tmp_path)
    calls: list[int] = []

    def flaky_check_parent() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("bug")

    monkeypatch.setattr(mon, "check_parent", flaky_check_parent)
    monkeypatch.setattr(mon, "pollups", lambda ups: None)

    def fake_sleep(seconds: float) -> None:
        if len(calls) >= 2:
            mon.exit_signal = 15

    monkeypatch.setattr(mon, "sleep", fake_sleep)
    assert mon.run() == 0
    assert len(calls) == 2


class FakeLink:
    def __init__(self, logins: list[int | None], fsd_raises: bool = False) -> None:
        self.logins = logins
        self.fsd_raises = fsd_raises
        self.calls: list[str] = []

    def set_fsd(self) -> bool:
        self.calls.append("FSD")
        if self.fsd_raises:
            raise RuntimeError("bug")
        return True

    def numlogins(self) -> int | None:
        self.calls.append("NUMLOGINS")
        return self.logins.pop(0) if len(self.logins) > 1 else self.logins[0]

    def close(self) -> None:
        pass


def _shutdown_sequence(tmp_path, monkeypatch, link: FakeLink, hostsync: int = 15):
    mon, flag = _monitor(tmp_path, f"HOSTSYNC {hostsync}\n")
    mon.links["ups@h"] = link                       # type: ignore[assignment]
    monkeypatch.setattr(upsmon_mod.time, "sleep", lambda s: None)
    monkeypatch.setattr(mon.notifier, "_spawn", lambda *a, **k: None)
    with pytest.raises(upsmon_mod.ShutdownDone):
        mon.forceshutdown()
    return flag


def test_primary_sets_fsd_then_waits_for_secondaries_to_log_out(tmp_path, monkeypatch):
    link = FakeLink([3, 2, 2, 1])
    flag = _shutdown_sequence(tmp_path, monkeypatch, link)
    assert link.calls == ["FSD", "NUMLOGINS", "NUMLOGINS", "NUMLOGINS", "NUMLOGINS"]
    assert flag.exists()


def test_primary_gives_up_on_stuck_secondaries_after_hostsync(tmp_path, monkeypatch):
    clock = iter(range(0, 10_000))
    link = FakeLink([2])

    mon, flag = _monitor(tmp_path, "HOSTSYNC 3\n")
    mon.clock = lambda: float(next(clock))          # one second per reading
    mon.links["ups@h"] = link                       # type: ignore[assignment]
    monkeypatch.setattr(upsmon_mod.time, "sleep", lambda s: None)
    monkeypatch.setattr(mon.notifier, "_spawn", lambda *a, **k: None)
    with pytest.raises(upsmon_mod.ShutdownDone):
        mon.forceshutdown()
    assert flag.exists()
    assert 2 <= link.calls.count("NUMLOGINS") <= 6


def test_primary_without_an_answer_to_numlogins_shuts_down_at_once(tmp_path, monkeypatch):
    link = FakeLink([None])
    flag = _shutdown_sequence(tmp_path, monkeypatch, link)
    assert link.calls == ["FSD", "NUMLOGINS"] and flag.exists()


def test_a_bug_while_raising_fsd_still_shuts_down(tmp_path, monkeypatch):
    link = FakeLink([1], fsd_raises=True)
    flag = _shutdown_sequence(tmp_path, monkeypatch, link)
    assert flag.exists()


class PollingLink(FakeLink):
    connected = True

    def __init__(self, status: str) -> None:
        super().__init__([1])
        self.status = status

    def poll(self) -> str:
        return self.status

    def alarm(self) -> str | None:
        raise RuntimeError("bug in the ups.alarm query")


def test_a_failing_ups_alarm_query_does_not_hide_ob_lb(tmp_path):
    # 2.8.0 only reads ups.status; the extra ups.alarm read of later releases must not be able to lose it
    mon, _ = _monitor(tmp_path)
    mon.links["ups@h"] = PollingLink("ALARM OB LB")  # type: ignore[assignment]
    ups = mon.decider.upses[0]
    mon.pollups(ups)
    assert ups.onbatt and ups.lowbatt and ups.alarm
    assert mon.decider.must_shutdown(mon.now())


def test_fsd_reconnect_is_short_and_falls_through_to_the_shutdown(monkeypatch):
    # pnut's one extra reconnect before FSD (not in 2.8.0) must not hold the shutdown up for NET_TIMEOUT
    from pnut.upsmon import link as link_mod
    conf = parse_upsmon_conf(PRIMARY)
    lk = link_mod.Link(conf.monitors[0], conf)
    seen: list[float] = []

    def fake_connect() -> bool:
        seen.append(lk.timeout)
        return False

    monkeypatch.setattr(lk, "connect", fake_connect)
    assert lk.set_fsd() is False
    assert seen == [link_mod.FSD_RECONNECT_TIMEOUT] and lk.timeout == link_mod.NET_TIMEOUT
    assert lk.numlogins() is None
