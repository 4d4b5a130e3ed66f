"""Our apcupsd-ups beside Debian's (NUT 2.8.0) on the same NIS replies: a recorded apcupsd report and hand-made
odd ones served by an in-test NIS server.  Both run in dump mode (`-d 1`); stdout, exit status and the
error message must match."""

from __future__ import annotations

import subprocess

import pytest

from tests.apcupsd import FakeNis, status_reply
from tests.interop.test_upsd_harness import UPSD_USERS
from tests.procs import free_port, ours, real_nut, run, wait_for

# what Debian's apcupsd 3.14.14 sent for the simulated Smart-UPS 1500 (recorded over NIS)
SMART_UPS = """\
APC      : 001,048,1084
DATE     : 2026-11-24 02:05:30 +0000  
HOSTNAME : vm
VERSION  : 3.14.14 (31 May 2016) debian
UPSNAME  : sim
CABLE    : Custom Cable Smart
DRIVER   : APC Smart UPS (any)
UPSMODE  : Stand Alone
STARTTIME: 2026-11-24 02:05:29 +0000  
MODEL    : Smart-UPS 1500
STATUS   : ONLINE 
LINEV    : 236.1 Volts
LOADPCT  : 4.5 Percent
BCHARGE  : 100.0 Percent
TIMELEFT : 62.0 Minutes
MBATTCHG : 5 Percent
MINTIMEL : 3 Minutes
MAXTIME  : 0 Seconds
MAXLINEV : 236.1 Volts
MINLINEV : 236.1 Volts
OUTPUTV  : 236.1 Volts
SENSE    : High
DWAKE    : 0 Seconds
DSHUTD   : 90 Seconds
DLOWBATT : 2 Minutes
LOTRANS  : 208.0 Volts
HITRANS  : 253.0 Volts
RETPCT   : 0.0 Percent
ITEMP    : 31.0 C
ALARMDEL : 5 Seconds
BATTV    : 27.4 Volts
LINEFREQ : 50.0 Hz
LASTXFER : No transfers since turnon
NUMXFERS : 0
TONBATT  : 0 Seconds
CUMONBATT: 0 Seconds
XOFFBATT : N/A
SELFTEST : NO
STESTI   : 336
STATFLAG : 0x05000008
DIPSW    : 0x0F
MANDATE  : 09/06/05
SERIALNO : AS0537230534
BATTDATE : 09/06/05
NOMOUTV  : 230 Volts
NOMBATTV : 24.0 Volts
EXTBATTS : 0
FIRMWARE : 601.3.I
END APC  : 2026-11-24 02:05:30 +0000  
"""

# a USB Back-UPS style report: the power fields, a firmware with a '/', long strings
BACK_UPS = """\
APC      : 001,036,0870
DATE     : 2024-05-19 21:15:19 +0200  
MODEL    : Back-UPS RS 1500MS2 with a much longer model name than fits
STATUS   : ONLINE REPLACEBATT 
LINEV    : 230.0 Volts
LOADPCT  : 9.0 Percent
BCHARGE  : 87.5 Percent
TIMELEFT : 2.5e1 Minutes
NOMINV   : 230 Volts
NOMPOWER : 900 Watts
NOMAPNT  : 1500 VA
LOAD_W   : 81.0 Watts
LOAD_VA  : 135.3 VA
LOADAPNT : 9.1 Percent
OUTCURNT : 0.375 Amps
SENSE    : Medium
LASTXFER : Automatic or explicit self test with an overly long description
SELFTEST : Battery OK and a lot more text
UPSNAME  : a-rather-long-ups-name-here
FIRMWARE : 0.1.1  /  ID=1000 
BATTDATE : 2023-01-15
END APC  : 2024-05-19 21:15:21 +0200  
"""

ODD_NUMBERS = """\
STATUS   : ONBATT LOWBATT 
LINEV    : N/A
LOADPCT  : -3.25 Percent
BCHARGE  : 0x1A
TIMELEFT :  inf
MINTIMEL : 1e-1 Minutes
ITEMP    : 12abc
DWAKE    : 2.5
DSHUTD   : 3.5
RETPCT   : .5
DATE     : 2024-05-19
FIRMWARE : /slash first
"""

CASES = {
    "smart-ups": status_reply(SMART_UPS.splitlines(keepends=True)),
    "back-ups": status_reply(BACK_UPS.splitlines(keepends=True)),
    "odd-numbers": status_reply(ODD_NUMBERS.splitlines(keepends=True)),
    "crlf": status_reply([line + "\r\n" for line in SMART_UPS.splitlines()[9:14]]),
    "no-line-ends": status_reply(SMART_UPS.splitlines()[9:14]),
    "commlost": status_reply(["MODEL    : x\n", "STATUS   : COMMLOST \n"]),
    "commlost-bare": status_reply(["STATUS   : COMMLOST\n"]),
    "network-error": status_reply(["STATUS:NETWORK ERROR"]),
    "selftest": status_reply(["STATUS   : SELFTEST\n"]),
    "shutting-down": status_reply(["STATUS   : SHUTTING DOWN\n"]),
    "all-flags": status_reply([("STATUS : CAL TRIM BOOST ONLINE ONBATT OVERLOAD LOWBATT REPLACEBATT NOBATT"
                                " SLAVE\tX ONLINE\n")]),
    "empty-status": status_reply(["STATUS   : \n"]),
    "two-status": status_reply(["STATUS   : ONBATT \n", "BCHARGE : 50\n", "STATUS   : ONLINE \n"]),
    "empty-report": status_reply([]),
    "nul-inside": status_reply([b"MODEL    : Smart\0UPS\n", b"SERIALNO : 12\n"]),
    "tabs-and-colons": status_reply(["\t:SERIALNO\t:: \t abc def \n", "  LINEV:230\n"]),
    "latin1": status_reply([b"MODEL    : Caf\xe9 UPS\n"]),
    # communication errors: fatal at start-up in both
    "key-only": status_reply(["MODEL    : x\n", "SERIALNO\n"]),
    "no-value": status_reply(["SERIALNO :\n"]),
    "blank-record": status_reply(["\n"]),
    "too-long": status_reply(["MODEL    : " + "x" * 1100 + "\n"]),
    "closed-early": status_reply(["MODEL    : x\n"])[:-2],
    "half-head": status_reply(["MODEL    : x\n"])[:-1],
    "garbage": b"\xff\x00garbage that is not NIS at all",
    "nothing": b"",
}


@pytest.fixture(scope="module")
def real_driver():
    path = real_nut("apcupsd-ups")
    if path is None:
        pytest.skip("Debian's apcupsd-ups is not installed")
    return path


def dump(prog: str, port: int, nut, *extra: str):
    res = subprocess.run([prog, "-s", "x", "-x", f"port=127.0.0.1:{port}", "-d", "1", "-u", "root", *extra],
                         env=nut.env, timeout=60, capture_output=True, check=False)
    out = res.stdout.decode("latin-1")        # bytes as sent: apcupsd's text is not always UTF-8
    return res.returncode, out, res.stderr.decode("latin-1").strip().splitlines()[-1:] if res.returncode else []


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_dump_as_nut(case, real_driver, nut):
    with FakeNis(CASES[case]) as srv:
        theirs = dump(real_driver, srv.port, nut)
        mine = dump(ours("apcupsd-ups"), srv.port, nut)
        assert srv.requests and set(srv.requests) == {b"\x00\x06status"}
    assert mine == theirs


def test_poll_interval_ceiling_as_nut(real_driver, nut):
    """2.8.0 brings a longer poll interval down to 10 s (its POLL_INTERVAL_MIN); shorter ones stay."""
    with FakeNis(CASES["smart-ups"]) as srv:
        for interval in ("3", "30"):
            theirs = dump(real_driver, srv.port, nut, "-i", interval)
            mine = dump(ours("apcupsd-ups"), srv.port, nut, "-i", interval)
            assert mine == theirs
            assert f"driver.parameter.pollinterval: {min(int(interval), 10)}\n" in mine[1]


@pytest.mark.parametrize("port", [":3551", "127.0.0.1:70000", "127.0.0.1:0", "127.0.0.1:", "127.0.0.1:x"])
def test_bad_port_as_nut(port, real_driver, nut):
    for prog in (real_driver, ours("apcupsd-ups")):
        res = run([prog, "-s", "x", "-x", f"port={port}", "-d", "1", "-u", "root"], env=nut.env, timeout=30)
        assert (res.returncode, res.stderr.strip().splitlines()[-1]) == (1, "invalid host or port specified!")


def test_kill_power_and_help_as_nut(real_driver, nut):
    """`-k`: apcupsd-ups cannot shut a UPS down; `-h` lists no driver variables."""
    with FakeNis(CASES["smart-ups"]) as srv:
        for args in (["-k"], ["-h"]):
            got = []
            for prog in (real_driver, ours("apcupsd-ups")):
                res = subprocess.run([prog, "-s", "x", "-x", f"port=127.0.0.1:{srv.port}", "-u", "root", *args],
                                     env=nut.env, timeout=30, capture_output=True, text=True, check=False)
                got.append((res.returncode, res.stdout, res.stderr.strip().splitlines()[-1:]))
            assert got[0] == got[1]
            if args == ["-k"]:
                assert got[0][0] == 1 and got[0][2] == ["shutdown not supported"]
            else:
                assert got[0][0] == 0 and "-x <var>=<val>" in got[0][1]


def test_under_nut_upsd_beside_nuts_driver(real_driver, nut, procs):
    """Both drivers on one NIS server under Debian's upsd, read with Debian's upsc: the same table; a bad
    reply makes ours stale in NUT's own upsd (NUT 2.8.0's driver instead drops its values and stays fresh)."""
    upsd, upsc = real_nut("upsd"), real_nut("upsc")
    port = free_port()
    with FakeNis(CASES["back-ups"]) as srv:
        nut.write("ups.conf", "pollinterval = 1\n" + "".join(
            f"[{n}]\n  driver = apcupsd-ups\n  port = 127.0.0.1:{srv.port}\n" for n in ("ours", "theirs")))
        nut.write("upsd.conf", f"LISTEN 127.0.0.1 {port}\n")
        nut.write("upsd.users", UPSD_USERS)
        procs.start([ours("apcupsd-ups"), "-a", "ours", "-u", "root", "-F"], env=nut.env)
        procs.start([real_driver, "-a", "theirs", "-u", "root", "-F"], env=nut.env)
        procs.start([upsd, "-F", "-u", "root"], env=nut.env)

        def table(ups: str) -> tuple[int, dict[str, str], str]:
            res = run([upsc, f"{ups}@127.0.0.1:{port}"], env=nut.env, timeout=10)
            rows = dict(line.split(": ", 1) for line in res.stdout.splitlines() if ": " in line)
            return res.returncode, rows, (res.stderr.strip().splitlines() or [""])[-1]

        wait_for(lambda: table("ours")[1].get("ups.status") == "OL RB" and table("theirs")[1].get("ups.status"),
                 20, what="both drivers under NUT's upsd")
        assert table("ours") == table("theirs")
        assert table("ours")[1]["ups.firmware.aux"] == "ID=1000 "

        srv.reply = b"\xff\x00garbage"
        wait_for(lambda: table("ours")[::2] == (1, "Error: Data stale"), 15, what="ours stale in NUT's upsd")
        wait_for(lambda: "input.voltage" not in table("theirs")[1], 15, what="NUT's driver dropping values")
        assert table("theirs")[0] == 0
        srv.reply = CASES["back-ups"]
        wait_for(lambda: table("ours")[0] == 0 and table("ours") == table("theirs"), 15, what="fresh again")
