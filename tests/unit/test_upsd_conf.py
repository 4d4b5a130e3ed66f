"""upsd.conf and upsd.users readers (conf/upsdconf.py), with NUT's messages and quirks."""

from __future__ import annotations

import logging

from pnut.conf.upsdconf import atoi, env_boolean, parse_upsd_conf, parse_upsd_users


def test_upsd_conf_keys(caplog):
    conf = parse_upsd_conf(
        "LISTEN 127.0.0.1 3493\nLISTEN ::1\nLISTEN 0.0.0.0 1234\nMAXAGE 25\nTRACKINGDELAY 10\nMAXCONN 100\n"
        "STATEPATH /run/x\nDATAPATH /usr/share/x\nCERTFILE /etc/nut/c.pem\nDISABLE_WEAK_SSL yes\n"
        "ALLOW_NO_DEVICE on\ndebug_min 3\nCERTIDENT name pass\nCERTREQUEST 2\nCERTPATH /etc/db\n")
    assert conf.listen == [("127.0.0.1", "3493"), ("::1", "3493"), ("0.0.0.0", "1234")]
    assert (conf.maxage, conf.trackingdelay, conf.maxconn) == (25, 10, 100)
    assert (conf.statepath, conf.datapath, conf.certfile) == ("/run/x", "/usr/share/x", "/etc/nut/c.pem")
    assert conf.disable_weak_ssl is True and conf.allow_no_device is True and conf.debug_min == 3
    assert conf.certident == ("name", "pass") and conf.certrequest == 2 and conf.certpath == "/etc/db"


def test_upsd_conf_bad_values(caplog):
    caplog.set_level(logging.INFO, logger="pnut.upsd")
    conf = parse_upsd_conf("MAXAGE abc\nALLOW_NO_DEVICE maybe\nmaxage 5\nFOO bar baz\nLISTEN\nACCEPT x\n"
                           'MAXAGE "1x"\nALLOW_NO_DEVICE 0\nMAXCONN -5\nDISABLE_WEAK_SSL 2\n')
    msgs = [r.getMessage() for r in caplog.records]
    assert "MAXAGE has non numeric value (abc)!" in msgs
    assert "upsd.conf: invalid directive MAXAGE abc" in msgs
    assert "ALLOW_NO_DEVICE has non numeric and non boolean value (maybe)!" in msgs
    assert "upsd.conf: invalid directive maxage 5" in msgs          # names are case-sensitive
    assert "upsd.conf: invalid directive FOO bar baz" in msgs
    assert "upsd.conf: invalid directive LISTEN" in msgs
    assert "ACCEPT in upsd.conf is no longer supported - switch to LISTEN" in msgs
    assert "MAXCONN has non numeric value (-5)!" in msgs
    assert "DISABLE_WEAK_SSL has non boolean value (2)!" in msgs
    assert conf.maxage == 1                  # atoi of "1x"
    assert conf.allow_no_device is False


def test_atoi_and_env_boolean():
    assert [atoi(x) for x in ("12", " 7x", "-3", "x", "", "+4")] == [12, 7, -3, 0, 0, 4]
    assert [env_boolean(x) for x in ("TRUE", "y", "on", "1", "f", "No", "0", "what")] == \
        [True, True, True, True, False, False, False, None]


def test_users(caplog):
    caplog.set_level(logging.INFO, logger="pnut.upsd")
    users = parse_upsd_users(
        "password = orphan\n"
        "[admin]\n password = pw\n password = other\n actions = SET fsd\n instcmds = ALL\n"
        "[mon]\n password = m\n upsmon primary\n"
        "[sec]\n password = s\n upsmon = secondary\n"
        "[admin]\n password = shadow\n actions = login\n"
        "[odd]\n allowfrom = localhost\n upsmon weird\n colour = red\n")
    assert set(users) == {"admin", "mon", "sec", "odd"}
    admin = users["admin"]
    assert admin.password == "pw"
    assert admin.actions == {"set", "fsd"} and admin.instcmds == {"all"}
    assert users["mon"].actions == {"login", "master", "fsd"}
    # a duplicate section is ignored, but its lines still land on the user read before it (NUT's quirk)
    assert users["sec"].actions == {"login"} and users["sec"].password == "s"
    msgs = [r.getMessage() for r in caplog.records]
    assert "Ignoring duplicate password for admin" in msgs
    assert "Ignoring duplicate user admin" in msgs
    assert "Ignoring duplicate password for sec" in msgs
    assert "allowfrom in upsd.users is no longer used" in msgs
    assert "Unknown upsmon type weird" in msgs
    assert "Unrecognized user setting colour" in msgs


def test_samples_read_cleanly(caplog):
    from pathlib import Path
    caplog.set_level(logging.INFO, logger="pnut.upsd")
    conf_dir = Path(__file__).resolve().parents[2] / "conf"
    conf = parse_upsd_conf((conf_dir / "upsd.conf.sample").read_text())
    users = parse_upsd_users((conf_dir / "upsd.users.sample").read_text())
    assert conf.listen == [] and users == {}            # everything in the samples is commented out
    # and with the examples uncommented, every line is understood
    def uncomment(text: str) -> str:
        import re
        return "\n".join(re.sub(r"^# (?=\[|    |[A-Z_]+ )", "", line) for line in text.splitlines())
    conf = parse_upsd_conf(uncomment((conf_dir / "upsd.conf.sample").read_text()))
    assert ("0.0.0.0", "3493") in conf.listen and conf.certfile == "/etc/nut/upsd.pem"
    users = parse_upsd_users(uncomment((conf_dir / "upsd.users.sample").read_text()))
    assert users["admin"].password == "change me" and users["monsecondary"].actions == {"login"}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
