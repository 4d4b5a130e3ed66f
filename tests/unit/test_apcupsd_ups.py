"""apcupsd-ups, the pure parts: NIS framing, record splitting, C's atof, the STATUS words and NUT 2.8.0's table."""

from __future__ import annotations

import math

import pytest

from pnut.drivers import apcupsd_ups as a
from pnut.drivers import registry


def test_request_and_frames():
    assert a.STATUS_REQUEST == a.frame(b"status") == b"\x00\x06status"
    assert a.frame(b"") == b"\x00\x00"
    assert a.record_length(b"\x03\xff") == 1023
    for head in (b"\x04\x00", b"\xff\xff"):
        with pytest.raises(a.NisError, match="apcupsd communication error"):
            a.record_length(head)


@pytest.mark.parametrize("body, want", [
    (b"STATUS   : ONLINE \n", ("STATUS", "ONLINE ")),             # the trailing blank stays
    (b"STATUS   : \n", ("STATUS", "")),
    (b"STARTTIME: 2026-11-24 02:05:29 +0000  \n", ("STARTTIME", "2026-11-24 02:05:29 +0000  ")),
    (b"END APC  : 2026-11-24\n", ("END", "APC  : 2026-11-24")),
    (b"LINEV:230", ("LINEV", "230")),
    (b"\t:SERIALNO\t:: \t abc def \r\nmore", ("SERIALNO", "abc def ")),
    (b"MODEL    : Smart\0UPS\n", ("MODEL", "Smart")),                # C strings end at NUL
    (b"MODEL    : Caf\xe9\n", ("MODEL", "Caf\xe9")),
    (b"K \r\n\r\nvalue\n", ("K", "value")),                          # line ends before the value are skipped
])
def test_parse_record(body, want):
    assert a.parse_record(body) == want


@pytest.mark.parametrize("body", [b"", b"\n", b" :\t\r\n", b"SERIALNO", b"SERIALNO\n", b"SERIALNO \n\r\n",
                                  b"\0MODEL : x\n"])
def test_parse_record_errors(body):
    with pytest.raises(a.NisError, match="apcupsd communication error"):
        a.parse_record(body)


@pytest.mark.parametrize("text, want", [
    ("236.1 Volts", 236.1), ("  -3.25 Percent", -3.25), ("N/A", 0.0), ("", 0.0), ("12abc", 12.0),
    (".5", 0.5), ("5.", 5.0), ("1e3x", 1000.0), ("1e", 1.0), ("2.5e1 Minutes", 25.0), ("+7", 7.0),
    ("0x1A", 26.0), ("0x", 0.0), ("0x1.8p1", 3.0), ("inf", math.inf), ("-Infinity", -math.inf),
    ("\t\n 42", 42.0), ("- 4", 0.0),
])
def test_atof(text, want):
    assert a.atof(text) == want


def test_atof_nan():
    assert math.isnan(a.atof("nan")) and math.isnan(a.atof("NAN(123)"))


@pytest.mark.parametrize("value, words", [
    ("ONLINE ", ["OL"]),
    ("ONBATT ", ["OB"]),
    ("ONBATT LOWBATT ", ["OB", "LB"]),
    ("ONLINE REPLACEBATT ", ["OL", "RB"]),
    ("CAL TRIM BOOST ONLINE ONBATT OVERLOAD LOWBATT REPLACEBATT NOBATT SLAVE SLAVEDOWN",
     ["CAL", "TRIM", "BOOST", "OL", "OB", "OVER", "LB", "RB", "BYPASS"]),
    ("COMMLOST", ["OFF"]), ("NETWORK ERROR", ["OFF"]), ("ERROR", ["OFF"]), ("SELFTEST", ["OB"]),
    ("COMMLOST ", []),            # apcupsd's own spelling has a trailing blank: NUT 2.8.0 finds no word
    ("SHUTTING DOWN", []),        # split before it could match
    ("", []), ("ONLINE\tX", []), ("online", []), ("ONLINE  ONLINE", ["OL", "OL"]),
])
def test_status_words(value, words):
    assert a.status_tokens(value) == words


def _item(var):
    return next(i for i in a.NUT_DATA if i.var == var)


@pytest.mark.parametrize("var, value, want", [
    ("ups.date", "2026-11-24 02:05:30 +0000  ", "2026-11-24"),
    ("ups.time", "2026-11-24 02:05:30 +0000  ", "02:05:30"),
    ("ups.time", "2026-11-24 02:05:30", "02:05:30"),
    ("ups.time", "2026-11-24", None),
    ("battery.date", "09/06/05", "09/06/05"),
    ("ups.firmware", "601.3.I", "601.3.I"),
    ("ups.firmware", "0.1.1  /  ID=1000 ", "0.1.1"),
    ("ups.firmware", "0.1.1/ID", "0.1.1/ID"),            # no blank before '/': the whole text (sic)
    ("ups.firmware", "  / x", ""),
    ("ups.firmware.aux", "0.1.1  /  ID=1000 ", "ID=1000 "),
    ("ups.firmware.aux", "601.3.I", None),
    ("ups.firmware.aux", "x /   ", None),
    ("input.sensitivity", "High", "H"),
    ("ups.model", "x" * 40, "x" * 32),
    ("ups.id", "a-rather-long-ups-name-here", "a-rather-long-up"),
    ("battery.runtime", "62.0 Minutes", "3720.0"),
    ("battery.runtime.low", "3 Minutes", "180"),
    ("ups.delay.shutdown", "90 Seconds", "90"),
    ("ups.delay.start", "2.5", "2"),                      # printf rounds half to even
    ("ups.delay.start", "3.5", "4"),
    ("output.current", "0.375 Amps", "0.38"),
    ("input.voltage", "N/A", "0.0"),
    ("ups.test.interval", "336", "336"),                  # not converted to seconds
])
def test_convert(var, value, want):
    assert a.convert(_item(var), value) == want


RECORDED = [
    ("APC", "001,048,1084"), ("DATE", "2026-11-24 02:05:30 +0000  "), ("MODEL", "Smart-UPS 1500"),
    ("STATUS", "ONLINE "), ("LINEV", "236.1 Volts"), ("LOADPCT", "4.5 Percent"), ("BCHARGE", "100.0 Percent"),
    ("TIMELEFT", "62.0 Minutes"), ("MBATTCHG", "5 Percent"), ("MINTIMEL", "3 Minutes"), ("SENSE", "High"),
    ("LINEFREQ", "50.0 Hz"), ("SELFTEST", "NO"), ("STESTI", "336"), ("SERIALNO", "AS0537230534"),
    ("FIRMWARE", "601.3.I"), ("NOMPOWER", "865 Watts"), ("XOFFBATT", "N/A"),
]


def test_translate_a_report():
    assert a.translate(RECORDED) == {
        "ups.mfr": "APC", "ups.date": "2026-11-24", "ups.time": "02:05:30", "ups.model": "Smart-UPS 1500",
        "ups.status": "OL", "input.voltage": "236.1", "ups.load": "4.5", "battery.charge": "100.0",
        "battery.runtime": "3720.0", "battery.charge.low": "5", "battery.runtime.low": "180",
        "input.sensitivity": "H", "input.frequency": "50.0", "output.frequency": "50.0",
        "ups.test.result": "NO", "ups.test.interval": "336", "ups.serial": "AS0537230534",
        "ups.firmware": "601.3.I", "ups.realpower.nominal": "865.0"}


def test_process_order_and_fixed_maker():
    # every record publishes ups.mfr first (a table row without apcupsd key), then its rows in table order
    assert a.process("LINEFREQ", "60") == [("ups.mfr", "APC"), ("input.frequency", "60.0"),
                                           ("output.frequency", "60.0")]
    assert a.process("DATE", "2024-05-19 21:15:19") == [("ups.mfr", "APC"), ("ups.time", "21:15:19"),
                                                         ("ups.date", "2024-05-19")]
    assert a.process("STATUS", "ONBATT LOWBATT ") == [("ups.mfr", "APC"), ("ups.status", ("OB", "LB"))]
    assert a.process("UNKNOWN", "x") == [("ups.mfr", "APC")]
    assert a.translate([]) == {}


def test_kept_and_deleted_variables():
    kept = {"ups.mfr", "ups.model", "ups.status", "battery.charge", "battery.runtime", "ups.realpower.nominal",
            "ups.power.nominal"}
    assert set(a.DELETABLE) == {i.var for i in a.NUT_DATA} - kept
    assert len(a.DELETABLE) == len(set(a.DELETABLE))


@pytest.mark.parametrize("port, want", [
    ("", ("localhost", 3551)), ("myhost", ("myhost", 3551)), ("127.0.0.1:3552", ("127.0.0.1", 3552)),
    ("h:65535", ("h", 65535)), ("h:65536", ("h", 0)), ("h:0", ("h", 0)), ("h:", ("h", 0)), ("h:x", ("h", 0)),
    ("h: 77x", ("h", 77)), (":3551", ("", 3551)), ("h:1:2", ("h", 1)), ("::1", ("", 0)),
])
def test_parse_port(port, want):
    assert a.parse_port(port) == want


def test_registry_and_identity():
    assert registry.lookup("apcupsd-ups") is a.ApcupsdUps
    assert (a.ApcupsdUps.progname, a.ApcupsdUps.name, a.ApcupsdUps.version) == (
        "apcupsd-ups", "apcupsd network client UPS driver", "0.6")
    assert a.POLL_INTERVAL_MIN == 10
