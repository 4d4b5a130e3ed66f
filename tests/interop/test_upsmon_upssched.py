"""upssched beside NUT 2.8.0's: the same upssched.conf and the same notifications give the same
CMDSCRIPT calls (timers fired, cancelled, cancel commands, EXECUTE's word splitting)."""

from __future__ import annotations

import os
import time

import pytest

from tests.procs import ours, real_nut, run, wait_for

CMD_SH = """#!/bin/sh
echo "$# $*" >> "$0.log"
"""


def _setup(root, name):
    d = root / name
    d.mkdir()
    (d / "cmd.sh").write_text(CMD_SH)
    os.chmod(d / "cmd.sh", 0o755)
    (d / "upssched.conf").write_text(
        f"CMDSCRIPT {d / 'cmd.sh'}\nPIPEFN {d / 'upssched.pipe'}\nLOCKFN {d / 'upssched.lock'}\n"
        "AT ONBATT * START-TIMER onbatt 1\n"
        "AT ONLINE * CANCEL-TIMER onbatt online-before-timer\n"
        "AT LOWBATT ups@h EXECUTE \"low now\"\n"
        "AT LOWBATT other@h EXECUTE wrong-ups\n"
        "AT COMMBAD * START-TIMER commbad 30\n"
        "AT COMMOK * CANCEL-TIMER commbad\n")
    return d


def _call(prog, d, typ, ups="ups@h"):
    env = dict(os.environ, NUT_CONFPATH=str(d), UPSNAME=ups, NOTIFYTYPE=typ)
    r = run([prog, "the message"], env=env, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_same_calls_as_nut(tmp_path):
    real = real_nut("upssched") or ("/sbin/upssched" if os.path.exists("/sbin/upssched") else None)
    if real is None:
        pytest.skip("NUT's upssched is not installed")
    logs = {}
    dirs = {"ours": _setup(tmp_path, "ours"), "real": _setup(tmp_path, "real")}
    progs = {"ours": ours("upssched"), "real": real}
    for impl in dirs:                       # both run side by side; each has its own daemon
        _call(progs[impl], dirs[impl], "LOWBATT")
        _call(progs[impl], dirs[impl], "onbatt")             # type names match case-insensitively
        _call(progs[impl], dirs[impl], "COMMBAD")
        _call(progs[impl], dirs[impl], "COMMOK")             # cancelled silently
    for impl, d in dirs.items():
        wait_for(lambda d=d: "onbatt" in (d / "cmd.sh.log").read_text(), 10, what=f"{impl}: timer fired")
    for impl in dirs:
        _call(progs[impl], dirs[impl], "ONBATT")
        _call(progs[impl], dirs[impl], "ONLINE")             # timer running: cancelled, nothing runs
        _call(progs[impl], dirs[impl], "ONLINE")             # no timer: the cancel command runs
    time.sleep(1.5)                          # past the (cancelled) timer: it must not fire
    for impl, d in dirs.items():
        logs[impl] = (d / "cmd.sh.log").read_text().splitlines()
    assert logs["ours"] == logs["real"] == ["2 low now", "1 onbatt", "1 online-before-timer"]
