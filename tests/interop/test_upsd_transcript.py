"""The strongest check on upsd: the same scripted sessions against NUT 2.8.0's upsd and ours, serving the
same drivers, must produce byte-identical replies (and send the same lines to the driver)."""

from __future__ import annotations

import pytest

from tests.interop.test_upsd_harness import run_session, start_stack

LONG = b"x" * 600

SESSIONS: dict[str, list] = {
    "misc": [b"VER\n", b"NETVER\n", b"PROTVER\n", b"HELP\n", b"HELP x\n", b"VER x\n", b"NETVER 1\n",
             b"STARTTLS\n", b"FOO\n", b"\n", b"# just a comment\n", b"   \t \n", b"ver\n", b"hElP\n",
             b"LOGOUTX\n", b"LISTX UPS\n"],
    "get": [b"GET\n", b"GET VAR\n", b"GET VAR dummy\n", b"GET VAR dummy ups.status\n",
            b"get var DUMMY UPS.STATUS\n", b"GET VAR dummy ups.bogus\n", b"GET VAR bogus ups.status\n",
            b"GET VAR bogus server.info\n", b"GET VAR x server.version\n", b"GET VAR x SERVER.VERSION\n",
            b"GET VAR x server.foo\n", b"GET VAR nodrv ups.status\n", b"GET VAR fake ups.delay\n",
            b"GET VAR fake device.model\n", b"GET VAR fake ups.path\n",
            b"GET TYPE dummy ups.id\n", b"GET TYPE dummy battery.charge\n", b"GET TYPE dummy driver.name\n",
            b"GET TYPE fake ups.delay\n", b"GET TYPE fake input.transfer.low\n",
            b"GET TYPE fake input.transfer.high\n", b"GET TYPE fake ups.noaux\n", b"GET TYPE fake nope\n",
            b"GET TYPE nodrv ups.status\n", b"GET DESC dummy ups.status\n", b"GET DESC dummy foo.bar\n",
            b"GET DESC dummy BATTERY.CHARGE\n", b"GET DESC nodrv ups.status\n",
            b"GET CMDDESC dummy load.off\n", b"GET CMDDESC dummy nope.nope\n", b"GET UPSDESC dummy\n",
            b"GET UPSDESC nodrv\n", b"GET UPSDESC bogus\n", b"GET UPSDESC fake\n", b"GET NUMLOGINS dummy\n",
            b"GET NUMLOGINS nodrv\n", b"GET NUMLOGINS bogus\n", b"GET TRACKING\n", b"GET TRACKING abc\n",
            b"GET FOO dummy x\n", b"GET FOO\n", b"GET VAR dummy ups.status extra args\n",
            b"GET NUMLOGINS\n", b"GET UPSDESC\n", b"GET TYPE dummy\n"],
    "list": [b"LIST\n", b"LIST UPS\n", b"list ups extra\n", b"LIST VAR\n", b"LIST VAR dummy\n",
             b"LIST VAR fake\n", b"LIST RW fake\n", b"LIST RW dummy\n", b"LIST CMD fake\n",
             b"LIST CMD dummy\n", b"LIST VAR nodrv\n", b"LIST VAR bogus\n", b"LIST ENUM fake ups.delay\n",
             b"LIST ENUM fake input.transfer.low\n", b"LIST ENUM fake ups.status\n",
             b"LIST ENUM fake nope\n", b"LIST RANGE fake input.transfer.high\n",
             b"LIST RANGE fake ups.id\n", b"LIST ENUM fake\n", b"LIST RANGE\n", b"LIST CLIENT dummy\n",
             b"LIST CLIENT nodrv\n", b"LIST CLIENT bogus\n", b"LIST CLIENTS dummy\n", b"LIST FOO dummy x\n",
             b"list var Fake\n"],
    "parse": [b"GET\tVAR  dummy\tups.status\r\n", b'GET VAR "dummy" "ups.status"\n',
              b"GET VAR dum\\my ups.status\n", b"GET VAR dummy ups.status # comment\n",
              (b'GET VAR dummy "ups#status"\n', 0), b"VER\n", b"GET VAR dummy=ups.status\n",
              b"USERNAME a=b\n", (b"GET VAR dummy ups.status\\\nVER\n", 1),
              (b'GET VAR dummy "ups.st\natus"\n', 1), b'GET VAR dummy ""\n', b'""\n',
              b"GET VAR dummy ups.stat\xc3\xa9us\n", b"GET VAR dummy ups.st\x01atus\n",
              b"GET VAR dummy ups.status\x7f\n", b"GET VAR " + LONG + b" ups.status\n",
              (b"GET DESC dummy " + LONG + b"\n", 0),      # the reply is cut at 512 bytes: no newline
              b"LIST VAR dummy " + b" ".join([b"a"] * 40) + b"\n",
              b"GET" + b" x" * 40 + b"\n", (b'GET VAR "dummy ups.status\n', 0),
              (b'"\n', 1), (b"\\\n", 0), b"VER\n", b"GET VAR dummy 'ups.status'\n",
              (b"VER\nVER\n#\nHELP\n", 4), (b"GET VAR dummy \"a#b\" \nVER\n", 0), b"NETVER\n",
              b"GET VAR dummy ups.status" + b" " * 700 + b"\n"],
    "auth": [b"LOGIN dummy\n", b"INSTCMD\n", b"SET\n", b"FSD\n", b"PRIMARY\n", b"MASTER dummy\n",
             b"PASSWORD early\n", b"LOGIN dummy\n", b"USERNAME\n", b"USERNAME a b\n", b"USERNAME admin\n",
             b"USERNAME admin\n", b"PASSWORD again\n", b"LOGIN dummy\n", b"PRIMARY dummy\n", b"FSD dummy\n",
             b"SET VAR fake ups.id x\n", b"INSTCMD fake load.off\n", b"SET TRACKING ON\n",
             b"GET TRACKING\n", b"GET TRACKING nothing\n", b"LOGOUT\n"],
    "upsmon": [b"USERNAME mon\n", b"PASSWORD monpw\n", b"LOGIN\n", b"LOGIN a b\n", b"LOGIN bogus\n",
               b"LOGIN Dummy\n", b"LOGIN nodrv\n", b"LOGIN bogus\n", b"GET NUMLOGINS dummy\n",
               b"LIST CLIENT DUMMY\n", b"PRIMARY dummy\n", b"MASTER dummy\n", b"PRIMARY bogus\n",
               b"PRIMARY\n", b"MASTER a b\n", b"SET VAR fake ups.id x\n", b"INSTCMD fake load.off\n",
               b"FSD bogus\n", b"FSD nodrv\n", b"FSD\n"],
    "secondary": [b"PASSWORD secpw\n", b"USERNAME sec\n", b"LOGIN fake\n", b"PRIMARY fake\n", b"MASTER fake\n",
                  b"FSD fake\n", b"GET NUMLOGINS fake\n", b"LIST CLIENT fake\n", b"LOGOUT\n"],
    "badpass": [b"USERNAME admin\n", b"PASSWORD wrong\n", b"SET VAR fake ups.id x\n",
                b"INSTCMD fake load.off\n", b"INSTCMD fake nope\n", b"FSD fake\n", b"LOGIN fake\n"],
    "nopass": [b"USERNAME nopass\n", b"PASSWORD \n", b'PASSWORD ""\n', b"SET VAR fake ups.id x\n"],
    "spacepw": [b"USERNAME tester\n", b"PASSWORD pass words\n", b'PASSWORD "pass words"\n',
                b"INSTCMD fake test.battery.start\n", b"INSTCMD fake load.off\n", b"SET VAR fake ups.id y\n"],
    "admin": [b"USERNAME admin\n", b"PASSWORD adminpw\n", b"INSTCMD fake load.off\n",
              b"INSTCMD fake LOAD.OFF\n", b"INSTCMD fake foo.bar\n", b"INSTCMD fake load.off 10\n",
              b'INSTCMD fake load.off "param with space"\n', b"INSTCMD fake load.off a b\n",
              b"INSTCMD fake\n", b"INSTCMD bogus load.off\n", b"INSTCMD nodrv load.off\n",
              b"INSTCMD dummy load.off\n",
              b'SET VAR fake ups.id "new id"\n', b'SET VAR fake ups.id "12345678901234567"\n',
              b"SET VAR fake ups.id 1234567890123456\n", b"SET VAR fake bogus.var 1\n",
              b"SET VAR fake device.model x\n", b"SET VAR fake input.transfer.low 97\n",
              b"SET VAR fake input.transfer.low 95\n", b"SET VAR fake input.transfer.low 095\n",
              b"SET VAR fake input.transfer.high 119\n", b"SET VAR fake input.transfer.high 145.9x\n",
              b"SET VAR fake input.transfer.high 136\n", b"SET VAR fake input.transfer.high -1\n",
              b"SET VAR fake ups.delay 30\n", b'SET VAR fake ups.delay "a\\"b"\n',
              b'SET VAR fake ups.delay "a\\\\\\"b"\n', b"SET VAR fake ups.delay 31\n",
              b"SET VAR fake ups.noaux x\n", (b'SET VAR fake ups.id "a\\"b\\\\c#"\n', 0), b"SET VAR fake ups.id\n",
              b"SET VAR fake\n", b"SET FOO bar\n", b"SET VAR bogus x y\n", b"SET VAR nodrv x y\n",
              b"SET TRACKING\n", b"SET TRACKING maybe\n", b"SET TRACKING on\n", b"GET TRACKING\n",
              b"SET VAR fake ups.id tracked\n", 0.3, b"INSTCMD fake beeper.toggle\n",
              b"INSTCMD fake test.battery.start\n", b"INSTCMD fake load.off\n", b"INSTCMD fake nope\n",
              b"SET VAR fake bogus.var 1\n", 0.3],
    "logout": [(b"LOGOUT\nVER\n", 2), b"HELP\n", b"LOGOUT x\n"],
    "logout2": [b"LOGOUT\n", (b"VER\n", 0)],
    "fsd": [b"USERNAME admin\n", b"PASSWORD adminpw\n", b"FSD fake\n", b"GET VAR fake ups.status\n",
            b"get var fake UPS.STATUS\n", b"LIST VAR fake\n", b"LIST RW fake\n", b"FSD fake\n",
            b"FSD dummy\n", b"GET VAR dummy ups.status\n"],
}

# A session that reads tracking results needs the ids the "admin" session created: run in this order.
ORDER = ["misc", "get", "list", "parse", "auth", "upsmon", "secondary", "badpass", "nopass", "spacepw",
         "admin", "logout", "logout2", "fsd"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    st = start_stack(tmp_path_factory.mktemp("transcript"))
    yield st
    st.stop()


def _tracking_session(ids: list[bytes]) -> list:
    items: list = [b"SET TRACKING ON\n"]
    items += [b"GET TRACKING " + i + b"\n" for i in ids]
    items += [b"GET TRACKING " + ids[0].lower() + b"\n", b"SET TRACKING OFF\n", b"GET TRACKING\n",
              b"GET TRACKING " + ids[0] + b"\n"]
    return items


def test_transcripts_match_real_upsd(stack):
    diffs = []
    real_all, our_all = {}, {}
    for name in ORDER:
        items = SESSIONS[name]
        # the upsmon sessions stay logged in while the secondary looks at NUMLOGINS / LIST CLIENT
        real = run_session(stack.real_port, items)
        ours = run_session(stack.our_port, items)
        real_all[name], our_all[name] = real, ours
        if real != ours:
            diffs.append(f"--- session {name}\nreal: {real!r}\nours: {ours!r}")
    ids = [line.split()[-1] for line in real_all["admin"].split(b"\n") if line.startswith(b"OK TRACKING")]
    assert len(ids) >= 3, real_all["admin"]
    items = _tracking_session(ids)
    real = run_session(stack.real_port, items)
    ours = run_session(stack.our_port, items)
    if real != ours:
        diffs.append(f"--- session tracking\nreal: {real!r}\nours: {ours!r}")
    assert not diffs, "\n".join(diffs)


def test_driver_sees_the_same_lines(stack):
    """What each upsd wrote to the fake driver (after the transcripts above), PINGs aside."""
    sessions = [[x for x in s if x != "PING"] for s in stack.fake.sessions]
    assert len(sessions) >= 2
    # the first connection is whichever upsd connected first; compare as a pair
    a, b = sessions[0], sessions[1]
    assert a == b
    assert a[0] == "DUMPALL"
    assert 'SET ups.id "a\\"b\\\\c#"' in a or any(x.startswith("SET ups.id") for x in a)


def test_stale_driver_transcript(stack):
    """The driver declares its data stale: both servers gate the same requests the same way."""
    from tests.procs import wait_for
    items = [b"GET VAR fake ups.status\n", b"LIST VAR fake\n", b"LIST CMD fake\n", b"GET TYPE fake ups.id\n",
             b"GET DESC fake ups.id\n", b"GET CMDDESC fake load.off\n", b"GET NUMLOGINS fake\n",
             b"LIST ENUM fake ups.delay\n", b"LIST RANGE fake input.transfer.high\n", b"GET UPSDESC fake\n",
             b"LIST CLIENT fake\n", b"GET VAR fake server.info\n", b"USERNAME mon\nPASSWORD monpw\n",
             b"LOGIN fake\n", b"PRIMARY fake\n", b"INSTCMD fake load.off\n", b"SET VAR fake ups.id x\n",
             b"LIST UPS\n"]
    stack.fake.broadcast("DATASTALE\n")
    try:
        for port in (stack.real_port, stack.our_port):
            wait_for(lambda p=port: run_session(p, [b"GET VAR fake ups.status\n"]) == b"ERR DATA-STALE\n", 10,
                     what="stale data")
        real = run_session(stack.real_port, items)
        ours = run_session(stack.our_port, items)
        assert real == ours
        assert real.startswith(b"ERR DATA-STALE\n")
    finally:
        stack.fake.broadcast("DATAOK\n")
