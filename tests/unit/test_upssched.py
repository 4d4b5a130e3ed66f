"""upssched's timer daemon on a fake clock, and its refusal to run outside upsmon."""

from __future__ import annotations

import subprocess

from pnut.upsmon import upssched
from pnut.upsmon.upssched import Settings, TimerDaemon
from tests.procs import ours


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_start_fire_cancel(monkeypatch):
    ran: list[tuple[str, str]] = []
    monkeypatch.setattr(upssched, "run_cmdscript", lambda script, words: ran.append((script, words)))
    clock = Clock()
    d = TimerDaemon(Settings("/x/cmd", "/x/pipe", "/x/lock"), clock=clock)
    assert d.handle(["START", "onbatt", "30"]) == "OK\n"
    assert d.handle(["START", "neg", "-1"]) == "OK\n"           # bogus offset: ignored, still OK
    assert [t.name for t in d.timers] == ["onbatt"]
    clock.t += 29
    d.check_timers()
    assert ran == []
    clock.t += 1
    d.check_timers()
    assert ran == [("/x/cmd", "onbatt")] and d.timers == []
    d.handle(["START", "t", "5"])
    assert d.handle(["CANCEL", "t", "never-run"]) == "OK\n"   # a timer was cancelled: no command
    assert d.handle(["CANCEL", "t", "instead"]) == "OK\n"     # none left: the cancel command runs
    assert ran[-1] == ("/x/cmd", "instead")
    assert d.handle(["CANCEL", "t"]) == "OK\n"
    assert d.handle(["BOGUS"]) == "ERR UNKNOWN\n"


def test_daemon_leaves_after_fifteen_quiet_passes():
    d = TimerDaemon(Settings("c", "p", "l"), clock=Clock())
    assert all(d.check_timers() for _ in range(14))
    assert d.check_timers() is False


def test_needs_upsmon_environment():
    env = {"PATH": "/usr/bin:/bin"}
    r = subprocess.run([ours("upssched")], env=env, capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert r.stdout == "Error: UPSNAME and NOTIFYTYPE must be set.\nThis program should only be run from upsmon.\n"


def test_at_before_settings_is_fatal(tmp_path):
    (tmp_path / "upssched.conf").write_text("CMDSCRIPT /bin/true\nAT ONBATT * START-TIMER a 1\n")
    env = {"PATH": "/usr/bin:/bin", "NUT_CONFPATH": str(tmp_path), "UPSNAME": "u", "NOTIFYTYPE": "ONBATT"}
    r = subprocess.run([ours("upssched")], env=env, capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert r.stdout == "PIPEFN must be set before any ATs in the config file!\n"
