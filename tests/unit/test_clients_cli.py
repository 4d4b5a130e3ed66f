"""The client programs' shared command-line layer and upslog's format engine, in-process.

Why the programs parse their flags themselves.  Measured here (median of 40 runs, wall clock, against a real
upsd on localhost):

                                   no .pyc cache (PYTHONDONTWRITEBYTECODE=1)   with .pyc cache
    python -c pass                 24.6 ms                                      27.7 ms
    python -c "import docopt"      30.0 ms                                      30.3 ms
    upsc ups@localhost ups.status  34.3 ms  (1.4x)                              30.3 ms  (1.1x)
    Debian's /bin/upsc              2.8 ms                                       2.7 ms

docopt would add its 3-5 ms and still fit the 2x budget, but it cannot reproduce getopt's '+' semantics,
clustered flags, glibc's messages or NUT's "unknown option -> help, exit 0".  The docopt usage strings stay in
each module as the documented interface and are checked here to accept the same command lines.
"""

from __future__ import annotations

import docopt
import pytest

from pnut.clients import cli, upsc, upscmd, upslog, upsrw

# --- getopt ---------------------------------------------------------------------------------------------

def test_getopt_stops_at_the_first_operand(capsys):
    assert cli.getopt(["-l", "host", "-c"], "hlLcV", "upsc") == ([("l", None)], ["host", "-c"])
    assert cli.getopt(["-lL"], "hlLcV", "upsc") == ([("l", None), ("L", None)], [])
    assert cli.getopt(["--", "-l"], "hlLcV", "upsc") == ([], ["-l"])
    assert cli.getopt(["-uadmin", "-p", "pw", "ups"], "lhu:p:t:wV", "upscmd") == (
        [("u", "admin"), ("p", "pw")], ["ups"])
    assert capsys.readouterr().err == ""


def test_getopt_speaks_glibc(capsys):
    assert cli.getopt(["-x"], "hlLcV", "./upsc") == ([("?", None)], [])
    assert cli.getopt(["-u"], "lhu:p:", "upscmd") == ([("?", None)], [])
    assert capsys.readouterr().err == ("./upsc: invalid option -- 'x'\n"
                                       "upscmd: option requires an argument -- 'u'\n")


@pytest.mark.parametrize("text, value", [("0", 0), ("10", 10), ("4294967295", 4294967295)])
def test_str_to_uint(text, value):
    assert cli.str_to_uint(text) == value


@pytest.mark.parametrize("text, message", [("", "Invalid argument"), ("-1", "Invalid argument"),
                                           ("+1", "Invalid argument"), (" 1", "Invalid argument"),
                                           ("1x", "Invalid argument"),
                                           ("4294967296", "Numerical result out of range")])
def test_str_to_uint_refuses(text, message):
    with pytest.raises(OSError) as info:
        cli.str_to_uint(text)
    assert str(cli.fatal_with_errno("X", info.value)) == f"X: {message}"


# --- the docopt usage strings describe the same command lines -------------------------------------------

@pytest.mark.parametrize("module, argv, expect", [
    (upsc, ["ups@host"], {"<ups>": "ups@host"}),
    (upsc, ["ups@host", "ups.status"], {"<variable>": "ups.status"}),
    (upsc, ["-l", "host:1234"], {"-l": True, "<host>": "host:1234"}),
    (upsc, ["-L"], {"-L": True}),
    (upsc, ["-c", "ups"], {"-c": True}),
    (upscmd, ["-l", "ups"], {"-l": True}),
    (upscmd, ["-u", "a", "-p", "b", "-w", "-t", "5", "ups", "load.off", "3"],
     {"-u": "a", "-p": "b", "-w": True, "-t": "5", "<value>": "3"}),
    (upsrw, ["ups"], {"<ups>": "ups"}),
    (upsrw, ["-s", "x.y=1", "-u", "a", "-p", "b", "ups"], {"-s": "x.y=1", "-u": "a"}),
    (upslog, ["-s", "ups", "-l", "-", "-i", "5", "-f", "%VAR x.y%", "-F"], {"-s": "ups", "-i": "5", "-F": True}),
    (upslog, ["ups", "file", "30", "%VAR", "x.y%"], {"<ups>": "ups", "<interval>": "30"}),
])
def test_docopt_usage_matches(module, argv, expect):
    parsed = docopt.docopt(module.__doc__, argv, default_help=False)
    for key, value in expect.items():
        assert parsed[key] == value
    opts, _args = cli.getopt(argv, {"upsc": "hlLcV", "upscmd": "lhu:p:t:wV", "upsrw": "hls:p:t:u:wV",
                                    "upslog": "hs:l:i:f:u:Vp:FB"}[module.__name__.rsplit(".", 1)[1]], "x")
    for opt, val in opts:
        assert parsed["-" + opt] == (val if val is not None else True)


# --- the programs in-process ----------------------------------------------------------------------------

def test_help_and_version_in_process(capsys, monkeypatch):
    monkeypatch.setattr("sys.argv", ["upsc"])
    assert upsc.main(["-h"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Network UPS Tools upsc 2.8.0\n\nusage: upsc -l | -L [<hostname>[:port]]\n")
    assert upsc.main(["-V"]) == 0
    assert capsys.readouterr().err == "Network UPS Tools upscmd 2.8.0\n"        # sic, as NUT 2.8.0
    monkeypatch.setattr("sys.argv", ["upsrw"])
    assert upsrw.main(["-V"]) == 0
    assert capsys.readouterr().out == "Network UPS Tools upsrw 2.8.0\n"
    assert upsc.main([]) == 1
    assert capsys.readouterr().err == "Error: invalid UPS definition.\nRequired format: upsname[@hostname[:port]]\n"
    assert upscmd.main(["-t", "x", "ups", "a.b"]) == 1
    assert "to unsigned int: Invalid argument" in capsys.readouterr().err


# --- upslog's format ------------------------------------------------------------------------------------

def test_upslog_format_rendering():
    pieces = upslog.compile_format("%VAR ups.status% [%var ups.load%] %VAR nodot% %VAR% %FOO% 100%% "
                                   "%UPSHOST% %VARIABLE ups.x% %broken")
    values = {"ups.status": "OL", "ups.load": None, "ups.x": "7"}
    line = upslog.render(pieces, values.get, "myups@host")
    assert line == "OL [NA] INVALID INVALID INVALID 100% myups@host 7 INVALIDbroken"


def test_upslog_time_and_defaults():
    assert upslog.render(upslog.compile_format("%TIME @Y%"), lambda v: None, "u").isdigit()
    assert upslog.render(upslog.compile_format("%ETIME%"), lambda v: None, "u").isdigit()
    line = upslog.render(upslog.compile_format(upslog.DEFAULT_LOGFORMAT), lambda v: "1", "u")
    assert line.endswith(" 1 1 1 [1] 1 1")
