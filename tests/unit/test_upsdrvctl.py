"""upsdrvctl's pure parts: ups.conf interpretation, driver lookup, option parsing, and -t (test mode) runs
in-process, which execute nothing."""

from __future__ import annotations

import os
import re
import signal

import pytest

from pnut.conf.getopt import GetOpt
from pnut.conf.upsconf import parse_upsconf
from pnut.drivers import upsdrvctl
from pnut.drivers.upsdrvctl import Settings, UpsEntry, atoi, driver_path, load_table

_TS = re.compile(r"^ *\d+\.\d{6}\t", re.MULTILINE)


@pytest.mark.parametrize("text,value", [
    ("12", 12), ("  7x", 7), ("-3", -3), ("+4", 4), ("abc", 0), ("", 0), (None, 0), ("-", 0), ("0012", 12),
])
def test_atoi(text, value):
    assert atoi(text) == value


def test_load_table_globals_and_sections():
    conf = parse_upsconf(
        "maxstartdelay = 10\nmaxretry = 3\nretrydelay = 1\ndriverpath = /opt/drv\nnowait\npollinterval = 5\n"
        "[a]\n driver = x\n port = /dev/a\n sdorder = 2\n maxstartdelay = 4\n maxretry = 5\n retrydelay = 0\n"
        "[empty]\n"
        "[b]\n desc = \"only a description\"\n"
        "[a2]\n sdorder = 1\n driver = y\n")
    st, table = load_table(conf)
    assert st == Settings(maxstartdelay=10, maxretry=3, retrydelay=1, driverpath="/opt/drv", nowait=True)
    assert table == [
        UpsEntry("a", "x", "/dev/a", 2, 4, 5, 0),
        UpsEntry("b"),                              # a section is a UPS once it has any directive
        UpsEntry("a2", "y", None, 1),               # sdorder on the first line counts (2.8.0 drops it)
    ]


def test_load_table_defaults_and_bad_numbers():
    st, table = load_table(parse_upsconf("maxretry = lots\n[u]\ndriver = d\nsdorder = first\n"))
    assert (st.maxstartdelay, st.maxretry, st.retrydelay, st.driverpath, st.nowait) == (45, 0, 5, None, False)
    assert table[0].sdorder == 0


def test_nut_ignore_nowait(monkeypatch):
    monkeypatch.setenv("NUT_IGNORE_NOWAIT", "true")
    st, _ = load_table(parse_upsconf("nowait\n[u]\ndriver = d\n"))
    assert st.nowait is False


def test_driver_path_with_driverpath():
    st = Settings(driverpath="/lib/nut")
    assert driver_path(st, "dummy-ups") == "/lib/nut/dummy-ups"
    assert driver_path(Settings(driverpath="/lib/nut/"), "x") == "/lib/nut//x"      # as NUT formats it
    assert driver_path(st, None) == "/lib/nut/(null)"


def test_driver_path_defaults_to_our_scripts(tmp_path, monkeypatch):
    own = tmp_path / "venvbin"
    other = tmp_path / "elsewhere"
    own.mkdir()
    other.mkdir()
    for d, name in ((own, "dummy-ups"), (other, "onpath-ups")):
        (d / name).write_text("#!/bin/sh\n")
        (d / name).chmod(0o755)
    monkeypatch.setattr(upsdrvctl, "own_driver_dir", lambda: str(own))
    monkeypatch.setenv("PATH", str(other))
    st = Settings()
    assert driver_path(st, "dummy-ups") == f"{own}/dummy-ups"
    assert driver_path(st, "onpath-ups") == f"{other}/onpath-ups"
    assert driver_path(st, "nowhere") == os.path.join(str(own), "nowhere")     # named in "Can't start ..."


def test_own_driver_dir_is_beside_the_interpreter():
    import sys
    assert upsdrvctl.own_driver_dir() == os.path.dirname(sys.executable)


def _getopt(args):
    g = GetOpt("prog", args, upsdrvctl.OPTSTRING)
    return list(g), g.rest


def test_getopt_posix_rules(capsys):
    assert _getopt(["-tDD", "-uroot", "-r", "/x", "start", "-t"]) == (
        [("t", None), ("D", None), ("D", None), ("u", "root"), ("r", "/x")], ["start", "-t"])
    assert _getopt(["--", "-t"]) == ([], ["-t"])
    assert _getopt(["-", "x"]) == ([], ["-", "x"])
    assert _getopt(["-c", "reload", "a"]) == ([("c", "reload")], ["a"])
    assert capsys.readouterr().err == ""
    assert _getopt(["-x"])[0] == [("?", None)]
    assert _getopt(["-u"])[0] == [("?", None)]
    assert capsys.readouterr().err == "prog: invalid option -- 'x'\nprog: option requires an argument -- 'u'\n"


@pytest.mark.parametrize("text,name", [
    ("reload", "reload"), ("reload-or-exit", "reload-or-exit"), ("reload-or-ex", "reload-or-exit"),
    ("r", "reload-or-error"), ("reload-or-", "reload-or-error"), ("", "reload-or-error"), ("d", "dump"),
    ("data", "data-dump"), ("e", "exit"), ("bogus", None),
])
def test_signal_command_names(text, name):
    found = upsdrvctl._parse_signal_command(text)
    assert (found[0] if found else None) == name


def test_signal_numbers():
    table = dict(upsdrvctl.SIGNAL_COMMANDS)
    assert table["reload"] == signal.SIGHUP and table["reload-or-exit"] == signal.SIGUSR1
    assert table["dump"] == table["data-dump"] == signal.SIGURG
    assert table["reload-or-error"] is None and table["exit"] is None


# -- in-process runs in test mode ------------------------------------------------------------------

@pytest.fixture
def confdir(tmp_path, monkeypatch):
    monkeypatch.setenv("NUT_CONFPATH", str(tmp_path))
    monkeypatch.setenv("NUT_STATEPATH", str(tmp_path))
    monkeypatch.setenv("NUT_ALTPIDPATH", str(tmp_path))
    return tmp_path


def _run(args, capsys):
    rc = upsdrvctl.main(args, prog="upsdrvctl")
    out, err = capsys.readouterr()
    return rc, out, _TS.sub("", err)


def test_help_and_version(confdir, capsys):
    rc, out, err = _run(["-h"], capsys)
    assert rc == 0 and err == ""
    assert out.startswith(upsdrvctl.BANNER + "Starts and stops UPS drivers via ups.conf.\n\n"
                          "usage: upsdrvctl [OPTIONS] (start | stop | shutdown) [<ups>]\n")
    assert _run([], capsys)[1] == out
    assert _run(["-V"], capsys) == (0, upsdrvctl.BANNER, "")


def test_unknown_command_and_missing_conf(confdir, capsys):
    assert _run(["restart"], capsys) == (1, upsdrvctl.BANNER, "Error: unrecognized command [restart]\n")
    path = confdir / "ups.conf"
    assert _run(["start"], capsys) == (
        1, upsdrvctl.BANNER, f"Can't open {path}: Can't open {path}: No such file or directory\n")


def test_test_mode_shutdown_order(confdir, capsys):
    (confdir / "ups.conf").write_text(
        "driverpath = /d\n[c]\ndriver = x\nsdorder = 2\n[n]\ndriver = x\nsdorder = -1\n"
        "[a]\ndriver = x\n[b]\ndriver = y\nsdorder = 1\n[z]\ndriver = x\n")
    rc, out, err = _run(["-t", "-d", "-u", "nut", "shutdown"], capsys)
    assert rc == 0
    assert out == upsdrvctl.BANNER + upsdrvctl.TESTMODE_NOTE
    assert [l for l in err.splitlines() if "exec:" in l] == [
        "[D2] exec:  /d/x -a a -k -u nut", "[D2] exec:  /d/x -a z -k -u nut",
        "[D2] exec:  /d/y -a b -k -u nut", "[D2] exec:  /d/x -a c -k -u nut"]


def _driver(confdir, name="x"):
    (confdir / name).write_text("#!/bin/sh\nexit 9\n")      # even test mode checks that the program exists


def test_test_mode_start_lines(confdir, capsys):
    _driver(confdir)
    (confdir / "ups.conf").write_text(f"driverpath = {confdir}\nmaxretry = 2\n[a]\ndriver = x\n[b]\ndriver = x\n"
                                      "maxretry = 1\n")
    rc, _out, err = _run(["-t", "-F", "-r", "/c", "start"], capsys)
    assert rc == 0
    d = confdir
    lines = [l for l in err.splitlines() if l.startswith("[D")]
    assert lines == ["[D2] ", "[D1] Starting UPS: a", "[D2] 2 remaining attempts", f"[D2] exec:  {d}/x -F -a a -r /c",
                     "[D1] Starting UPS: b", "[D2] 1 remaining attempts", f"[D2] exec:  {d}/x -F -a b -r /c"]
    assert 'Starting "all" drivers but requested the foreground mode!' in err


def test_test_mode_explanation_is_skipped_with_d(confdir, capsys):
    _driver(confdir)
    (confdir / "ups.conf").write_text(f"driverpath = {confdir}\n[a]\ndriver = x\n")
    assert "If you're not a NUT core developer" in _run(["-t", "start"], capsys)[2]
    _rc, _out, err = _run(["-t", "-d", "start"], capsys)
    assert "NUT core developer" not in err
    assert f"[D2] exec:  {confdir}/x -DD -a a\n" in err


def test_unknown_and_empty(confdir, capsys):
    (confdir / "ups.conf").write_text("driverpath = /d\n[a]\ndriver = x\n")
    assert _run(["stop", "zz"], capsys) == (1, upsdrvctl.BANNER, "UPS zz not found in ups.conf\n")
    (confdir / "ups.conf").write_text("maxretry = 1\n[only-a-header]\n")
    assert _run(["stop"], capsys)[2] == "Error: no UPS definitions found in ups.conf\n"
    assert _run(["stop", "x"], capsys)[2] == "Error: no UPS definitions found in ups.conf!\n\n"


def test_missing_driver_program(confdir, capsys):
    (confdir / "ups.conf").write_text(f"driverpath = {confdir}\n[a]\ndriver = nothere\n")
    assert _run(["start"], capsys) == (
        1, upsdrvctl.BANNER, f"Can't start {confdir}/nothere: No such file or directory\n")


def test_test_mode_stop_reports_missing_pid_files(confdir, capsys):
    (confdir / "ups.conf").write_text("[a]\ndriver = x\nport = /dev/ttyS0\n[b]\ndriver = x\n")
    (confdir / "x-b.pid").write_text("123\n")
    rc, _out, err = _run(["-t", "stop"], capsys)
    assert rc == 1
    assert f"Can't open {confdir}/x-a.pid: No such file or directory\n" in err
    assert f"Can't open {confdir}/x-ttyS0.pid either: No such file or directory\n" in err
    assert f"[D2] Sending signal to {confdir}/x-b.pid\n" in err


def test_garbage_never_tracebacks(confdir, capsys):
    (confdir / "ups.conf").write_bytes(b"\xff\xfe[\x00]\n maxretry\n[a]\ndriver\nport = \"\n")
    for args in (["-t", "start"], ["-t", "shutdown"], ["-t", "stop"], ["-c", "", "a"], ["-t", "-c", "dump"]):
        rc, _, err = _run(args, capsys)
        assert rc in (0, 1)
        assert "Traceback" not in err
