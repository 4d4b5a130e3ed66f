"""Replies a stock upsd + dummy-ups cannot produce (ENUM and RANGE variables, an old upsd, malformed or short
replies, TRACKING results, a server that hangs up mid-list): a scripted server answers Debian's real client
and then ours with the same lines, and the outputs and exit codes must be identical.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.procs import ours
from tests.unit.test_libupsclient import ScriptedServer

NSS_NOTICE = "Init SSL without certificate database\n"
TID = "0123456789abcdef0123456789abcdef0123"          # 36 characters, as upsd's UUIDs

BASE = {
    "STARTTLS": ["ERR FEATURE-NOT-CONFIGURED"],
    "USERNAME admin": ["OK"],
    "PASSWORD secret": ["OK"],
}

RW = {
    **BASE,
    "LIST RW ups": ["BEGIN LIST RW ups", *(f'RW ups {v} "x"' for v in (
        "in.range", "in.enum.num", "in.enum.str", "in.str", "in.num", "in.odd", "in.oldenum", "in.notype",
        "in.nodesc")), "END LIST RW ups"],
    "GET DESC ups in.range": ['DESC ups in.range "High transfer (V)"'],
    "GET TYPE ups in.range": ["TYPE ups in.range RW RANGE NUMBER"],
    "GET VAR ups in.range": ['VAR ups in.range "142"'],
    "LIST RANGE ups in.range": ['BEGIN LIST RANGE ups in.range', 'RANGE ups in.range "120" "135"',
                                'RANGE ups in.range "140" "150"', "END LIST RANGE ups in.range"],
    "GET DESC ups in.enum.num": ['DESC ups in.enum.num "Low transfer"'],
    "GET TYPE ups in.enum.num": ["TYPE ups in.enum.num RW ENUM NUMBER"],
    "GET VAR ups in.enum.num": ['VAR ups in.enum.num "100"'],
    "LIST ENUM ups in.enum.num": ["BEGIN LIST ENUM ups in.enum.num", 'ENUM ups in.enum.num "100"',
                                  'ENUM ups in.enum.num "95"', "END LIST ENUM ups in.enum.num"],
    "GET DESC ups in.enum.str": ["ERR INVALID-ARGUMENT"],
    "GET TYPE ups in.enum.str": ["TYPE ups in.enum.str RW ENUM STRING:4"],
    "GET VAR ups in.enum.str": ['VAR ups in.enum.str "10"'],
    "LIST ENUM ups in.enum.str": ["BEGIN LIST ENUM ups in.enum.str", 'ENUM ups in.enum.str "10"',
                                  'ENUM ups in.enum.str "a \\"b\\""', "END LIST ENUM ups in.enum.str"],
    "GET DESC ups in.str": ['DESC ups in.str "UPS system identifier"'],
    "GET TYPE ups in.str": ["TYPE ups in.str RW STRING:8"],
    "GET VAR ups in.str": ['VAR ups in.str "fake \\"id\\""'],
    "GET DESC ups in.num": ['DESC ups in.num "A number"'],
    "GET TYPE ups in.num": ["TYPE ups in.num NUMBER RW"],
    "GET VAR ups in.num": ['VAR ups in.num "12.5"'],
    "GET DESC ups in.odd": ['DESC ups in.odd "Odd"'],
    "GET TYPE ups in.odd": ["TYPE ups in.odd RW FANCY OTHER NUMBER"],
    "GET VAR ups in.odd": ['VAR ups in.odd "1"'],
    "GET DESC ups in.oldenum": ['DESC ups in.oldenum "Old"'],
    "GET TYPE ups in.oldenum": ["TYPE ups in.oldenum ENUM"],
    "GET VAR ups in.oldenum": ['VAR ups in.oldenum "b"'],
    "LIST ENUM ups in.oldenum": ["BEGIN LIST ENUM ups in.oldenum", 'ENUM ups in.oldenum "a"',
                                 'ENUM ups in.oldenum "b"', "END LIST ENUM ups in.oldenum"],
    "GET DESC ups in.notype": ['DESC ups in.notype "No type"'],
    "GET TYPE ups in.notype": ["ERR VAR-NOT-SUPPORTED"],
    "GET DESC ups in.nodesc": ["ERR UNKNOWN-COMMAND"],
    "GET TYPE ups in.nodesc": ["TYPE ups in.nodesc RW STRING:3"],
    "GET VAR ups in.nodesc": ["ERR DATA-STALE"],
}

OLD = {
    **BASE,
    "LIST VAR ups": ["ERR UNKNOWN-COMMAND"],
    "GET VAR ups ups.status": ["ERR UNKNOWN-COMMAND"],
    "LIST UPS": ["ERR UNKNOWN-COMMAND"],
    "LIST CMD ups": ["ERR UNKNOWN-COMMAND"],
    "LIST RW ups": ["ERR UNKNOWN-COMMAND"],
    "LIST CLIENT ups": ["ERR UNKNOWN-COMMAND"],
}

ODD = {
    **BASE,
    "LIST VAR ups": ["BEGIN LIST VAR ups", 'VAR ups a.b "1"', "VAR ups c.d", 'VAR ups e.f "3"', "END LIST VAR ups"],
    "LIST VAR cut": ["BEGIN LIST VAR cut", 'VAR cut a.b "1"', "<close>"],
    "LIST VAR other": ["BEGIN LIST VAR someone"],
    "LIST VAR weird": ["ERR SOMETHING-NEW"],
    "LIST VAR parse": ['BEGIN LIST VAR parse', 'VAR parse a.b "x # y"', "END LIST VAR parse"],
    "LIST UPS": ["BEGIN LIST UPS", 'UPS one "First"', "UPS two", "END LIST UPS"],
    "GET VAR ups a.b": ['VAR other a.b "1"'],
    "GET VAR ups c.d": ["VAR ups c.d"],
    "GET VAR ups e.f": ['VAR UPS E.F "case-insensitive echo"'],
    "GET VAR ups g.h": ["ERR INVALID-ARGUMENT"],
    "GET VAR ups i.j": ['GET "# unbalanced'],
    "GET VAR silent i.j": ["<close>"],
    "LIST CLIENT ups": ["BEGIN LIST CLIENT ups", "CLIENT ups 127.0.0.1", "CLIENT ups ::1", "END LIST CLIENT ups"],
    "LIST CMD ups": ["BEGIN LIST CMD ups", "CMD ups load.off", "CMD ups test.x", "END LIST CMD ups"],
    "GET CMDDESC ups load.off": ['CMDDESC ups load.off "Turn off the load immediately"'],
    "GET CMDDESC ups test.x": ["ERR CMD-NOT-SUPPORTED"],
}

TRACK = {
    **BASE,
    "SET TRACKING ON": ["OK"],
    "INSTCMD ups load.off": [f"OK TRACKING {TID}"],
    "INSTCMD ups load.bad": [f"OK TRACKING {TID}"],
    "INSTCMD ups load.short": ["OK TRACKING abc"],
    "INSTCMD ups load.weird": ["WHAT"],
    f"GET TRACKING {TID}": ["SUCCESS"],
    'SET VAR ups ups.id "new value"': [f"OK TRACKING {TID}"],
}
TRACK_FAIL = {**TRACK, f"GET TRACKING {TID}": ["ERR FAILED"]}
TRACK_OFF = {**TRACK, "SET TRACKING ON": ["ERR FEATURE-NOT-SUPPORTED"]}
TRACK_SLOW = {**TRACK, f"GET TRACKING {TID}": ["<silence>"]}

UP = ["-u", "admin", "-p", "secret"]

CASES: list[tuple[str, dict, str, list[str]]] = [
    ("rw-listing", RW, "upsrw", ["ups@S"]),
    ("old-list-var", OLD, "upsc", ["ups@S"]),
    ("old-get-var", OLD, "upsc", ["ups@S", "ups.status"]),
    ("old-list-ups", OLD, "upsc", ["-L", "S"]),
    ("old-clients", OLD, "upsc", ["-c", "ups@S"]),
    ("old-cmds", OLD, "upscmd", ["-l", "ups@S"]),
    ("old-rw", OLD, "upsrw", ["ups@S"]),
    ("short-var", ODD, "upsc", ["ups@S"]),
    ("cut-mid-list", ODD, "upsc", ["cut@S"]),
    ("wrong-list-echo", ODD, "upsc", ["other@S"]),
    ("unknown-err", ODD, "upsc", ["weird@S"]),
    ("parse-error-in-list", ODD, "upsc", ["parse@S"]),
    ("short-ups", ODD, "upsc", ["-L", "S"]),
    ("wrong-get-echo", ODD, "upsc", ["ups@S", "a.b"]),
    ("case-insensitive-echo", ODD, "upsc", ["ups@S", "e.f"]),
    ("unknown-err-get", ODD, "upsc", ["ups@S", "g.h"]),
    ("parse-error-get", ODD, "upsc", ["ups@S", "i.j"]),
    ("hang-up-get", ODD, "upsc", ["silent@S", "i.j"]),
    ("clients", ODD, "upsc", ["-c", "ups@S"]),
    ("cmddesc-missing", ODD, "upscmd", ["-l", "ups@S"]),
    ("track-success", TRACK, "upscmd", [*UP, "-w", "ups@S", "load.off"]),
    ("track-failed", TRACK_FAIL, "upscmd", [*UP, "-w", "ups@S", "load.bad"]),
    ("track-short-id", TRACK, "upscmd", [*UP, "-w", "ups@S", "load.short"]),
    ("track-not-ok", TRACK, "upscmd", [*UP, "-w", "ups@S", "load.weird"]),
    ("track-refused", TRACK_OFF, "upscmd", [*UP, "-w", "ups@S", "load.off"]),
    ("track-refused-rw", TRACK_OFF, "upsrw", [*UP, "-w", "-s", "ups.id=new value", "ups@S"]),
    ("track-rw", TRACK, "upsrw", [*UP, "-w", "-s", "ups.id=new value", "ups@S"]),
    ("track-timeout", TRACK_SLOW, "upscmd", [*UP, "-w", "-t", "1", "ups@S", "load.off"]),
]


def _real(prog: str) -> str:
    return f"/bin/{prog}"


@pytest.mark.parametrize("script, prog, args", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_same_as_nut_on_scripted_replies(nut, script, prog, args):
    results = []
    for path in (_real(prog), ours(prog)):
        server = ScriptedServer(script)
        try:
            argv = [a.replace("@S", f"@127.0.0.1:{server.port}") if a.endswith("@S") else
                    (f"127.0.0.1:{server.port}" if a == "S" else a) for a in args]
            p = subprocess.run([f"./{prog}", *argv], cwd=os.path.dirname(path), env=nut.env, input=b"",
                               capture_output=True, timeout=30, start_new_session=True, check=False)
        finally:
            server.close()
        results.append(p)
    real, mine = results
    assert mine.stdout.decode("latin-1") == real.stdout.decode("latin-1")
    assert mine.stderr.decode("latin-1") == real.stderr.decode("latin-1").replace(NSS_NOTICE, "", 1)
    assert mine.returncode == real.returncode
