"""upsmon.conf reader and notification texts."""

from __future__ import annotations

import pytest

from pnut.conf.common import Fatal
from pnut.upsmon.config import parse_upsmon_conf
from pnut.upsmon.notify import Flag, Notifier, NotifyType, format_message, shell_argv


def test_every_keyword():
    c = parse_upsmon_conf("""
MONITOR myups@bigserver:3494 1 monuser pass primary
MONITOR su700@192.168.0.2 2 monuser "pa ss" slave
MONITOR x@h 1 u p master
MINSUPPLIES 2
POLLFREQ 3
POLLFREQALERT 1
HOSTSYNC 20
DEADTIME 25
FINALDELAY 0
NOCOMMWARNTIME 60
RBWARNTIME 600
SHUTDOWNCMD "/sbin/shutdown -h +0"
NOTIFYCMD "/usr/sbin/upssched"
POWERDOWNFLAG /etc/killpower
RUN_AS_USER nutmon
CERTPATH /etc/ssl/certs
CERTVERIFY 1
FORCESSL 1
CERTIDENT "my id" secret
CERTHOST bigserver "cert name" 1 0
NOTIFYMSG onbatt "On battery: %s"
NOTIFYFLAG ONLINE SYSLOG+WALL+EXEC
NOTIFYFLAG LOWBATT IGNORE
debug_min 2
OFFDURATION 10
""")
    assert c.warnings == []
    a, b, x = c.monitors
    assert (a.upsname, a.host, a.port, a.powervalue, a.primary) == ("myups", "bigserver", 3494, 1, True)
    assert (b.sys, b.password, b.primary, b.powervalue) == ("su700@192.168.0.2", "pa ss", False, 2)
    assert x.primary
    assert (c.minsupplies, c.pollfreq, c.pollfreqalert, c.hostsync, c.deadtime, c.finaldelay) == (2, 3, 1, 20, 25, 0)
    assert (c.nocommwarntime, c.rbwarntime, c.run_as_user) == (60, 600, "nutmon")
    assert c.shutdowncmd == "/sbin/shutdown -h +0" and c.powerdownflag == "/etc/killpower"
    assert (c.certpath, c.certverify, c.forcessl, c.certident) == ("/etc/ssl/certs", 1, 1, ("my id", "secret"))
    assert c.certhosts["bigserver"] == ("cert name", 1, 0)
    assert c.notifymsg[NotifyType.ONBATT] == "On battery: %s"
    assert c.notifyflag[NotifyType.ONLINE] == Flag.SYSLOG | Flag.WALL | Flag.EXEC
    assert c.debug_min == 2 and c.offduration == 10
    assert c.total_power == 4


def test_warnings_in_nut_words():
    c = parse_upsmon_conf("MONITOR a@h -1 u p primary\nMONITOR b@h 1 u p primary\nMONITOR b@h 1 u p primary\n"
                          "NOTIFYFLAG BOGUS SYSLOG\nNOTIFYFLAG ONLINE SYSLOG+LOUD\nNOTIFYMSG nope x\nFOO 1\n",
                          "upsmon.conf")
    assert c.warnings == [
        "UPS [a@h]: ignoring invalid power value [-1]",
        "Warning: ignoring duplicate UPS [b@h]",
        "Warning: invalid notify type [BOGUS]",
        "Invalid notify flag: [LOUD]",
        "'nope' is not a valid notify event name",
        "upsmon.conf line 7: invalid directive FOO 1",
    ]
    assert [m.sys for m in c.monitors] == ["b@h"]


def test_old_style_monitor_is_fatal():
    with pytest.raises(Fatal, match="old-style MONITOR"):
        parse_upsmon_conf("MONITOR ups@h 1 pass primary\n")


def test_stock_messages_and_substitution():
    assert format_message(NotifyType.ONBATT.value, "ups@h") == "UPS ups@h on battery"
    assert format_message("100%% sure %s and %s", "u") == "100% sure u and "
    n = Notifier(dry_run=True)
    assert n.flags_for(NotifyType.CAL) == Flag.SYSLOG
    assert n.flags_for(NotifyType.LOWBATT) == Flag.SYSLOG | Flag.WALL
    notice = n.notify(NotifyType.SHUTDOWN, "ups@h")
    assert (notice.upsname, notice.message) == ("", "Auto logout and shutdown proceeding")


def test_messages_never_reach_the_shell(tmp_path):
    """NUT pasted the message into a shell line; pnut passes it as an argument the shell does not re-read."""
    import subprocess
    out = tmp_path / "out"
    argv = shell_argv(f"printf '%s|' one >{out}; printf '%s' ", 'UPS $(touch pwned) `id` "q" on battery')
    subprocess.run(argv, cwd=tmp_path, check=True, stdout=open(tmp_path / "arg", "w"))
    assert (tmp_path / "arg").read_text() == 'UPS $(touch pwned) `id` "q" on battery'
    assert not (tmp_path / "pwned").exists()


def test_notifycmd_environment(tmp_path):
    script = tmp_path / "n.sh"
    script.write_text('#!/bin/sh\nprintf "%s|%s|%s" "$NOTIFYTYPE" "$UPSNAME" "$1" > "$OUT"\n')
    script.chmod(0o755)
    import os
    import time
    os.environ["OUT"] = str(tmp_path / "o")
    try:
        n = Notifier(notifycmd=f"{script}", flags={NotifyType.ONBATT: Flag.EXEC})
        n.notify(NotifyType.ONBATT, "ups@host:3493")
        deadline = time.monotonic() + 10
        while not (tmp_path / "o").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        for p in n.children:
            p.wait(10)
        assert (tmp_path / "o").read_text() == "ONBATT|ups@host:3493|UPS ups@host:3493 on battery"
    finally:
        del os.environ["OUT"]


def test_sample_files_load_cleanly():
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "conf"
    c = parse_upsmon_conf((root / "upsmon.conf.sample").read_text())
    assert c.warnings == [] and c.shutdowncmd == "/sbin/shutdown -h +0" and c.powerdownflag == "/etc/killpower"
    from pnut.conf.parseconf import iter_lines
    words = [ln.words for ln in iter_lines((root / "upssched.conf.sample").read_text()) if ln.words]
    assert [w[0] for w in words] == ["CMDSCRIPT", "PIPEFN", "LOCKFN"]
