"""upsmon's command line: help, -K, -c, and the start-up checks (in-process, no network)."""

from __future__ import annotations

from pnut.upsmon import upsmon


def _conf(tmp_path, text):
    p = tmp_path / "upsmon.conf"
    p.write_text(text)
    return p


def test_help_exits_zero(capsys):
    assert upsmon.main(["-h"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Network UPS Tools upsmon 2.8.0\nMonitors UPS servers")
    assert "-K\t\tchecks POWERDOWNFLAG, sets exit code to 0 if set" in out


def test_unknown_option_shows_help(capsys):
    assert upsmon.main(["-Z"]) == 0
    captured = capsys.readouterr()
    assert "invalid option -- 'Z'" in captured.err
    assert "usage: upsmon [OPTIONS]" in captured.out


def test_k_checks_the_magic_string(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("NUT_PIDPATH", str(tmp_path))
    flag = tmp_path / "killpower"
    conf = _conf(tmp_path, f"MONITOR u@localhost 1 a b primary\nPOWERDOWNFLAG {flag}\n")
    assert upsmon.main(["-K", "-f", str(conf)]) == 1
    flag.write_text("junk")
    assert upsmon.main(["-K", "-f", str(conf)]) == 1
    flag.write_text("upsmon-shutdown-file")
    assert upsmon.main(["-K", "-f", str(conf)]) == 0
    noflag = _conf(tmp_path, "MONITOR u@localhost 1 a b primary\n")
    assert upsmon.main(["-K", "-f", str(noflag)]) == 1


def test_insufficient_power(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NUT_PIDPATH", str(tmp_path))
    conf = _conf(tmp_path, "MONITOR u@localhost 0 a b primary\nSHUTDOWNCMD true\n")
    assert upsmon.main(["-F", "-f", str(conf)]) == 1
    assert ("\nFatal error: insufficient power configured!\n\nSum of power values........: 0\n"
            "Minimum value (MINSUPPLIES): 1\n\nEdit your upsmon.conf and change the values.\n") in capsys.readouterr().out


def test_missing_config_is_fatal(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NUT_PIDPATH", str(tmp_path))
    assert upsmon.main(["-F", "-f", str(tmp_path / "none.conf")]) == 1
    assert f"Can't open {tmp_path / 'none.conf'}: No such file or directory" in capsys.readouterr().err


def test_signal_command_without_process(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NUT_PIDPATH", str(tmp_path))
    assert upsmon.main(["-c", "stop"]) == 1
    assert upsmon.main(["-c", "stop", "-P", "1"]) == 1      # NUT refuses pid numbers below 2
    assert upsmon.main(["-c", "nonsense"]) == 0             # unknown command: help, status 0


def test_stale_powerdownflag_is_cleared(tmp_path):
    from pnut.upsmon.config import parse_upsmon_conf
    flag = tmp_path / "killpower"
    flag.write_text("upsmon-shutdown-file")
    conf = parse_upsmon_conf(f"POWERDOWNFLAG {flag}\n")
    upsmon.clear_stale_pdflag(conf)
    assert not flag.exists() and conf.powerdownflag == str(flag)
    flag.write_text("precious data")
    upsmon.clear_stale_pdflag(conf)
    assert flag.exists() and conf.powerdownflag is None


def test_reload_keeps_state_and_follows_the_file(tmp_path, caplog):
    import logging
    import socket as _socket

    from pnut.upsmon.config import read_upsmon_conf
    conf = _conf(tmp_path, "MONITOR a@h 1 u p primary\nMONITOR b@h 1 u p secondary\nSHUTDOWNCMD \"x\"\n"
                           "NOTIFYMSG ONBATT \"custom %s\"\n")
    parent, child = _socket.socketpair()
    try:
        mon = upsmon.Upsmon(read_upsmon_conf(str(conf)), str(conf), parent=child)
        a = mon.decider.upses[0]
        a.onbatt = True
        conf.write_text("MONITOR a@h 2 u p secondary\nMONITOR c@h 1 u p secondary\nSHUTDOWNCMD \"y\"\n")
        with caplog.at_level(logging.INFO, logger="pnut.upsmon"):
            mon.reload()
        assert [u.sys for u in mon.decider.upses] == ["a@h", "c@h"]
        assert mon.decider.upses[0] is a and a.onbatt            # what upsmon knew is kept
        assert a.mon.powervalue == 2 and not a.mon.primary
        assert mon.conf.shutdowncmd == "x"                      # the parent keeps the old one
        assert mon.notifier.message_for(upsmon.NotifyType.ONBATT, "a@h") == "custom a@h"
        text = caplog.text
        for line in ("Reloading configuration", "UPS [a@h]: redefined power value to 2",
                     "UPS [a@h]: redefined as a secondary", "No longer monitoring UPS [b@h]",
                     "Warning: SHUTDOWNCMD redefined in split-process mode!"):
            assert line in text
    finally:
        parent.close()
        child.close()
