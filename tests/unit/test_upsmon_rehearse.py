"""pnut-rehearse offline (-n): the walk through OB and LB on the daemon's own rules."""

from __future__ import annotations

from pnut.upsmon import rehearse


def _run(tmp_path, capsys, text, *args):
    conf = tmp_path / "upsmon.conf"
    conf.write_text(text)
    (tmp_path / "bin").mkdir(exist_ok=True)
    rc = rehearse.main(["-n", "-f", str(conf), *args])
    return rc, capsys.readouterr().out


BASE = 'SHUTDOWNCMD "/bin/true now"\nPOWERDOWNFLAG {d}/killpower\nFINALDELAY 5\nHOSTSYNC 15\n'


def test_primary_timeline(tmp_path, capsys):
    rc, out = _run(tmp_path, capsys, "MONITOR ups@h 1 u p primary\n" + BASE.format(d=tmp_path), "-l", "100")
    assert rc == 0, out
    lines = [ln.strip() for ln in out.splitlines()]
    assert 't=+   0.0  ONBATT: "UPS ups@h on battery" -> syslog, wall' in lines
    assert 't=+ 100.0  LOWBATT: "UPS ups@h battery is low" -> syslog, wall' in lines
    assert "t=+ 100.0  would send FSD ups to h:3493" in lines
    assert "t=+ 120.0  would run SHUTDOWNCMD: /bin/true now" in lines      # LB + HOSTSYNC + FINALDELAY
    assert f"t=+ 120.0  after FINALDELAY 5 s: would write POWERDOWNFLAG {tmp_path}/killpower" in lines


def test_secondary_waits_for_fsd_or_hostsync(tmp_path, capsys):
    text = "MONITOR ups@h 1 u p secondary\nPOLLFREQALERT 5\n" + BASE.format(d=tmp_path)
    _, out = _run(tmp_path, capsys, text, "-l", "60")
    assert "t=+  65.0  the primary raises FSD on ups@h" in out
    assert "t=+  70.0  would run SHUTDOWNCMD" in out
    _, out = _run(tmp_path, capsys, text, "-l", "60", "-s")
    assert "raises FSD" not in out
    assert "t=+  85.0  would run SHUTDOWNCMD" in out                       # HOSTSYNC 15 ran out first


def test_two_supplies(tmp_path, capsys):
    text = "MONITOR a@h 1 u p secondary\nMONITOR b@h 1 u p secondary\n" + BASE.format(d=tmp_path)
    _, out = _run(tmp_path, capsys, text, "-u", "a@h")
    assert "no shutdown: the remaining power value 1 is not below MINSUPPLIES 1" in out
    _, out = _run(tmp_path, capsys, text + "MINSUPPLIES 2\n", "-u", "a@h")
    assert "would run SHUTDOWNCMD" in out


def test_problems_are_reported(tmp_path, capsys):
    rc, out = _run(tmp_path, capsys, "MONITOR ups@h 1 u p primary\n")
    assert rc == 1
    assert "FAIL  no SHUTDOWNCMD: nothing would shut this host down" in out
    assert "would run SHUTDOWNCMD: (none defined!)" in out


def test_upssched_timers(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NUT_CONFPATH", str(tmp_path))
    (tmp_path / "upssched.conf").write_text("CMDSCRIPT /x/cmd\nPIPEFN /x/p\nLOCKFN /x/l\n"
                                            "AT ONBATT * START-TIMER early 30\nAT ONBATT * START-TIMER late 500\n")
    text = ("MONITOR ups@h 1 u p primary\nNOTIFYCMD /usr/sbin/upssched\nNOTIFYFLAG ONBATT SYSLOG+EXEC\n"
            + BASE.format(d=tmp_path))
    _, out = _run(tmp_path, capsys, text)
    assert 'upssched: timer "early" started (30 s)' in out
    assert 't=+  30.0  upssched timer "early" expires: would run /x/cmd early' in out
    assert "timers still pending when the host goes down: late (at +500s)" in out
