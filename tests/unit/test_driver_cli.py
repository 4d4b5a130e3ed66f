"""The driver command line, byte for byte as Debian's dummy-ups 2.8.0 prints it (captured from the real binary)."""

from __future__ import annotations

import pytest

from pnut.drivers import dummy_ups
from pnut.drivers.main import getopt

BANNER = "Network UPS Tools - Device simulation and repeater driver 0.15 (2.8.0)\n"
HELP = "Network UPS Tools - Device simulation and repeater driver 0.15 (2.8.0)\n\nusage: dummy-ups (-a <id>|-s <id>) [OPTIONS]\n  -a <id>        - autoconfig using ups.conf section <id>\n                 - note: -x after -a overrides ups.conf settings\n\n  -s <id>        - configure directly from cmd line arguments\n                 - note: must specify all driver parameters with successive -x\n                 - note: at least 'port' variable should be set\n                 - note: to explore the current values on a device from an\n                   unprivileged user account (with sufficient media access in\n                   the OS - e.g. to query networked devices), you can specify\n                   '-d 1' argument and `export NUT_STATEPATH=/tmp` beforehand\n\n  -V             - print version, then exit\n  -L             - print parseable list of driver variables\n  -D             - raise debugging level (and stay foreground by default)\n  -d <count>     - dump data to stdout after 'count' updates loop and exit\n  -F             - stay foregrounded even if no debugging is enabled\n  -B             - stay backgrounded even if debugging is bumped\n  -q             - raise log level threshold\n  -h             - display this help\n  -k             - force shutdown\n  -i <int>       - poll interval\n  -r <dir>       - chroot to <dir>\n  -u <user>      - switch to <user> (if started as root)\n  -g <group>     - set pipe access to <group> (if started as root)\n  -x <var>=<val> - set driver variable <var> to <val>\n                 - example: -x cable=940-0095B\n\nAcceptable values for -x or ups.conf in this driver:\n\nSpecify mode instead of guessing it from port value (dummy = dummy-loop, dummy-once, repeater) : -x mode=<value>\n"
NOT_VALID = ("\nFatal error: '{var}' is not a valid {kind} for this driver.\n\n"
             "Look in the man page or call this driver with -h for a list of\n"
             "valid variable names and flags.\n")


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in ("NUT_CONFPATH", "NUT_STATEPATH", "NUT_ALTPIDPATH"):
        monkeypatch.setenv(name, str(tmp_path))
    return tmp_path


def call(capsys, *argv):
    rc = dummy_ups.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_help(env, capsys):
    assert call(capsys, "-h") == (0, HELP, "")


def test_version_and_list(env, capsys):
    assert call(capsys, "-V") == (0, BANNER, "")
    assert call(capsys, "-L") == (0, BANNER + 'VALUE mode "Specify mode instead of guessing it from port value '
                                  '(dummy = dummy-loop, dummy-once, repeater)"\n', "")


@pytest.mark.parametrize("argv, err", [
    ([], "Error: specifying '-a id' or '-s id' is now mandatory. Try -h for help.\n"),
    (["-s", "x"], ("Error: you must specify a port name in ups.conf or in '-x port=...' argument.\n"
                   "Try -h for help.\n")),
    (["-s", "x", "extra"], "Error: too many non-option arguments. Try -h for help.\n"),
    (["-s", "x", "-i", "0"], "Error: command-line: invalid pollinterval: 0\n"),
])
def test_errors(env, capsys, argv, err):
    assert call(capsys, *argv) == (1, BANNER, err)


def test_unknown_option(env, capsys):
    rc, out, err = call(capsys, "-Z")
    assert (rc, out) == (1, BANNER)
    assert err.endswith("invalid option -- 'Z'\nError: unknown option -?. Try -h for help.\n")


def test_missing_ups_conf(env, capsys):
    fn = env / "ups.conf"
    assert call(capsys, "-a", "x") == (1, BANNER, f"Can't open {fn}: Can't open {fn}: No such file or directory\n")


def test_unknown_variable_and_flag_exit_0_on_stdout(env, capsys):
    assert call(capsys, "-s", "x", "-x", "foo=bar") == (0, BANNER + NOT_VALID.format(var="foo", kind="variable name"), "")
    assert call(capsys, "-s", "x", "-x", "flagz") == (0, BANNER + NOT_VALID.format(var="flagz", kind="flag"), "")


def test_ups_conf_errors(env, capsys):
    (env / "ups.conf").write_text(
        "[b]\n driver = apcsmart\n port = t.dev\n"
        "[c]\n driver = dummy-ups\n port = t.dev\n bogus = 1\n"
        "[d]\n driver = dummy-ups\n port = t.dev\n pollinterval = 0\n"
        "[e]\n driver = dummy-ups\n port = t.dev\n maxstartdelay = 3\n maxretry = 2\n retrydelay = 1\n")
    assert call(capsys, "-a", "zz") == (1, BANNER, "Error: Section zz not found in ups.conf\n")
    assert call(capsys, "-a", "b") == (1, BANNER, "Error: UPS [b] is for driver apcsmart, but I'm dummy-ups!\n\n")
    assert call(capsys, "-a", "c") == (0, BANNER + NOT_VALID.format(var="bogus", kind="variable name"), "")
    assert call(capsys, "-a", "d") == (1, BANNER, "Error: UPS [d]: invalid pollinterval: 0\n")
    # accepted since NUT 2.8.1 (2.8.0 refused them as unknown variables): -x after -a still reaches the driver
    assert call(capsys, "-a", "e", "-x", "nope=1")[1].endswith(NOT_VALID.format(var="nope", kind="variable name"))


def test_dump_mode(env, capsys):
    (env / "t.dev").write_text("ups.status: OL CHRG\nbattery.charge: 95.5\ndevice.serial:\n"
                               'ups.mfr: "ACME  Corp"  # c\nups.model: a=b c#d\ndriver.version: 9\n')
    rc, out, _ = call(capsys, "-u", "root", "-s", "x", "-x", "port=t.dev", "-x", "override.ups.model=OVR",
                        "-x", "nolock", "-d", "1")
    assert rc == 0
    assert out == BANNER + """battery.charge: 95.5
device.mfr: ACME  Corp
device.model: OVR
device.serial: 95.5
device.type: ups
driver.flag.nolock: enabled
driver.name: dummy-ups
driver.parameter.mode: dummy-once
driver.parameter.pollinterval: 2
driver.parameter.port: t.dev
driver.parameter.synchronous: auto
driver.version: 2.8.0
driver.version.internal: 0.15
ups.mfr: ACME  Corp
ups.model: OVR
ups.status: OL CHRG
"""


def test_getopt_order_and_glued_arguments():
    got = list(getopt(["-DDa", "ups", "-xport=p", "-d1", "rest", "-F"], "+a:Dx:d:F", "prog"))
    assert got == [("D", None), ("D", None), ("a", "ups"), ("x", "port=p"), ("d", "1"), (None, ["rest", "-F"])]
