"""upsdrvctl against Debian's /sbin/upsdrvctl 2.8.0: the same argv and ups.conf must give the same stdout,
stderr and exit status, byte for byte (only the elapsed-time prefix of debug lines and argv[0] differ); and
our upsdrvctl must drive NUT's real drivers (/lib/nut/dummy-ups) as NUT's does."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from pnut.drivers import upsdrvctl
from tests.procs import NutDirs, ours, real_nut, run, wait_for

REAL = "/sbin/upsdrvctl"
NUT_DRIVERS = "/lib/nut"

pytestmark = pytest.mark.skipif(not (os.path.exists(REAL) and real_nut("dummy-ups")),
                                reason="Debian's upsdrvctl/dummy-ups 2.8.0 are not installed")

_TS = re.compile(r"^ *\d+\.\d{6}\t", re.MULTILINE)
_TSB = re.compile(rb"^ *\d+\.\d{6}\t", re.MULTILINE)

MIXED_CONF = f"""\
maxretry = 2
retrydelay = 0
driverpath = {NUT_DRIVERS}
[a]
 driver = dummy-ups
 port = a.dev
 sdorder = 1
[b]
 driver = dummy-ups
 port = /x/y/b.dev
 sdorder = -1
[c]
 driver = nosuch
 port = c.dev
 sdorder = 2
[d]
 port = x
[empty]
"""


def _norm(text: str, prog: str) -> str:
    # NUT's tokenizer also complains on stderr about each control character it drops from a quoted word
    # ("addchar: discarding invalid character"); pnut's shared tokenizer drops them silently.
    text = "".join(l for l in text.splitlines(True) if not l.startswith("addchar: discarding"))
    return _TS.sub("TS\t", text.replace(prog, "PROG"))


def both(nut: NutDirs, args: list[str], merged: bool = False) -> tuple[tuple, tuple]:
    """Run NUT's and our upsdrvctl with the same arguments; (rc, stdout, stderr) of each, normalised."""
    results = []
    for prog in (REAL, ours("upsdrvctl")):
        if merged:
            p = subprocess.run([prog, *args], env=nut.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False,
                               text=True, timeout=60)
            results.append((p.returncode, _norm(p.stdout, prog), ""))
        else:
            p = run([prog, *args], env=nut.env, timeout=60)
            results.append((p.returncode, _norm(p.stdout, prog), _norm(p.stderr, prog)))
    return results[0], results[1]


CASES = [
    "-h", "", "-V", "bogus", "-x start", "--help", "-u", "-V -x", "-tV", "-- -t",
    "-t start", "-t stop", "-t shutdown", "-t -d -D -u root -r /tmp start a", "-t -d start a",
    "-DDD -t stop a", "start zz", "-t start zz", "-t shutdown b", "-t shutdown c", "-t shutdown d",
    "stop", "stop b", "-D stop", "start d", "-t start a b",
]


@pytest.mark.parametrize("args", CASES)
def test_same_output_as_nut(nut, args):
    nut.write("ups.conf", MIXED_CONF)
    real, mine = both(nut, args.split())
    assert mine == real


@pytest.mark.parametrize("conf,args", [
    (None, "start"), (None, "-t start"), ("", "start"), ("", "stop a"), ("[a]\n[b]\n", "shutdown"),
    ('driverpath = /lib/nut\nnowait\n[a]\ndriver = "dummy-ups\nport = #foo\n', "-t start"),
    ("driverpath = /lib/nut/\n[x]\ndriver = dummy-ups\nport = p\n", "-t start"),
    ("driverpath = /lib/nut\n[x]\nsdorder = 2\ndriver = dummy-ups\nport = p\n[y]\ndriver = dummy-ups\nport = q\n", "-t start"),
])
def test_conf_edge_cases(nut, conf, args):
    if conf is not None:
        nut.write("ups.conf", conf)
    real, mine = both(nut, args.split())
    assert mine == real


def _fake_drivers(dirpath: Path) -> None:
    dirpath.mkdir(exist_ok=True)
    scripts = {"failer": 'echo "fail $*"; exit 3', "killer": "kill -9 $$"}
    for name, body in scripts.items():
        p = dirpath / name
        p.write_text(f"#!/bin/sh\n{body}\n")
        p.chmod(0o755)
    (dirpath / "noexec").write_text("not a program\n")


@pytest.mark.parametrize("args", ["start", "-D start f", "shutdown", "start n", "shutdown k"])
@pytest.mark.parametrize("merged", [False, True])
def test_failing_drivers_same_as_nut(nut, args, merged):
    """Exit statuses, signals and failed execs; merged output also pins where the banner lands."""
    bindir = nut.root / "bin"
    _fake_drivers(bindir)
    nut.write("ups.conf", f"retrydelay = 0\nmaxretry = 2\ndriverpath = {bindir}\n"
                          "[f]\ndriver = failer\nport = x\n[k]\ndriver = killer\nport = y\n"
                          "[n]\ndriver = noexec\nport = z\n")
    real, mine = both(nut, args.split(), merged=merged)
    assert mine == real


@pytest.mark.parametrize("content", ["999999\n", "", "1\n", "abc\n"])
def test_stale_pid_files_same_as_nut(nut, content):
    nut.write("ups.conf", MIXED_CONF)
    (nut.state / "dummy-ups-a.pid").write_text(content)         # found under the UPS name
    (nut.state / "dummy-ups-b.dev.pid").write_text(content)     # found only under the port's basename
    real, mine = both(nut, ["stop"])
    assert mine == real


# -- driving NUT's real driver ---------------------------------------------------------------------

def _dummy_conf(nut: NutDirs, names=("a", "b"), driverpath: str | None = NUT_DRIVERS) -> None:
    text = f"driverpath = {driverpath}\n" if driverpath else ""
    for n in names:
        nut.write(f"{n}.dev", "ups.status: OL\nbattery.charge: 100\n")
        text += f"[{n}]\n driver = dummy-ups\n port = {n}.dev\n desc = \"unit {n}\"\n"
    nut.write("ups.conf", text)


def _alive(pid: int) -> bool:
    """Running; a zombie left for init to reap counts as gone."""
    return not upsdrvctl._gone(pid)


def _pids(nut: NutDirs, names) -> dict[str, int]:
    """The drivers' PIDs once their PID files name a live process (a driver may rewrite the file just after
    its parent, which upsdrvctl waited for, has exited)."""
    def live(n: str) -> int | None:
        text = (nut.state / f"dummy-ups-{n}.pid").read_text().strip()
        return int(text) if text and _alive(int(text)) else None
    return {n: wait_for(lambda n=n: live(n), 10, what=f"driver {n} PID file") for n in names}


def _cleanup(pids) -> None:
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)


@pytest.mark.parametrize("starter,stopper", [("real", "ours"), ("ours", "real")])
def test_start_and_stop_real_dummy_ups(nut, starter, stopper):
    _dummy_conf(nut)
    prog = {"ours": ours("upsdrvctl"), "real": REAL}
    p = run([prog[starter], "-u", "root", "start"], env=nut.env)
    pids = {}
    try:
        assert p.returncode == 0, p.stderr
        assert p.stdout.endswith("Network UPS Tools - UPS driver controller 2.8.0\n")
        pids = _pids(nut, "ab")
        assert all(_alive(pid) for pid in pids.values())
        assert (nut.state / "dummy-ups-a").exists() and (nut.state / "dummy-ups-b").exists()
        p = run([prog[stopper], "stop", "a"], env=nut.env)
        assert (p.returncode, p.stderr) == (0, "")
        if stopper == "ours":
            # NUT 2.8.0 returns right after SIGTERM; pnut (like later NUT) once the driver is gone
            assert not _alive(pids["a"])
        wait_for(lambda: not _alive(pids["a"]), 10, what="driver a to exit")
        assert _alive(pids["b"])
        p = run([prog[stopper], "stop"], env=nut.env)
        wait_for(lambda: not _alive(pids["b"]), 10, what="driver b to exit")
        # a's PID file is gone, so stopping "all" reports it, as NUT does
        assert p.returncode == 1
        assert f"Can't open {nut.state}/dummy-ups-a.pid: No such file or directory\n" in p.stderr
    finally:
        _cleanup(pids.values())


@pytest.mark.parametrize("section,status", [
    ("port = missing.dev\n", 1),                        # the driver exits 1: retried, counted as failure
    ("", 1),                                            # no port at all
    ("port = a.dev\n nosuchflag\n", 0),                # NUT drivers exit 0 on an unknown flag (sic)
])
def test_start_failure_of_real_driver(nut, section, status):
    """A real driver that refuses to start: same messages and status from both."""
    nut.write("a.dev", "ups.status: OL\n")
    nut.write("ups.conf", f"driverpath = {NUT_DRIVERS}\nmaxretry = 2\nretrydelay = 0\n"
                          f"[bad]\n driver = dummy-ups\n {section}")
    real, mine = both(nut, ["-u", "root", "start"])
    assert mine == real
    assert mine[0] == status
    assert mine[2].count("Driver failed to start (exit status=1)") == (2 if status else 0)


def test_shutdown_with_real_dummy_ups(nut):
    """`shutdown` runs `dummy-ups -a <ups> -k`, which 2.8.0 answers with "shutdown not supported"."""
    _dummy_conf(nut, names="a")
    real, mine = both(nut, ["-u", "root", "shutdown"], merged=True)
    assert mine == real
    assert mine[0] == 1
    assert "Initiating UPS shutdown\nshutdown not supported\n" in mine[1]
    assert "Driver failed to start (exit status=1)\n" in mine[1]


def test_our_dummy_ups_via_default_lookup(nut):
    """Without driverpath, our upsdrvctl runs pnut's own dummy-ups console script."""
    try:
        ours("dummy-ups")
    except FileNotFoundError:
        pytest.skip("pnut's dummy-ups is not installed")
    _dummy_conf(nut, names="a", driverpath=None)
    p = run([ours("upsdrvctl"), "-t", "start"], env=nut.env)
    assert f"exec:  {ours('dummy-ups')} -a a\n" in p.stderr
    p = run([ours("upsdrvctl"), "-u", "root", "start"], env=nut.env)
    pid = 0
    try:
        assert p.returncode == 0, p.stderr
        pid = _pids(nut, "a")["a"]
        assert _alive(pid)
        # NUT's upsdrvctl stops pnut's driver through the same PID file
        p = run([REAL, "stop"], env=nut.env)
        assert p.returncode == 0
        wait_for(lambda: not _alive(pid), 10, what="pnut dummy-ups to exit")
    finally:
        _cleanup([pid] if pid else [])


@pytest.mark.parametrize("alt,state", [("set", "set"), ("", "set"), (None, "set"), ("set", None),
                                       ("", ""), (None, None)])
def test_pid_file_directory_rules_same_as_nut(nut, alt, state):
    """NUT_ALTPIDPATH, else NUT_STATEPATH (an empty value counts as unset), else /run/nut."""
    nut.write("ups.conf", MIXED_CONF)
    env = dict(nut.env)
    for var, how, value in (("NUT_ALTPIDPATH", alt, str(nut.root / "alt")),
                            ("NUT_STATEPATH", state, str(nut.state))):
        if how is None:
            env.pop(var, None)
        else:
            env[var] = value if how == "set" else ""
    results = []
    for prog in (REAL, ours("upsdrvctl")):
        p = run([prog, "-t", "stop", "a"], env=env)
        results.append((p.returncode, _norm(p.stdout, prog), _norm(p.stderr, prog)))
    assert results[1] == results[0]


def test_empty_confpath_same_as_nut(nut):
    env = dict(nut.env, NUT_CONFPATH="")
    results = []
    for prog in (REAL, ours("upsdrvctl")):
        p = run([prog, "start"], env=env)
        results.append((p.returncode, _norm(p.stdout, prog), _norm(p.stderr, prog)))
    assert results[1] == results[0]


@pytest.mark.parametrize("args", [[b"\xff"], [b"-t", b"stop", b"caf\xe9"], [b"-u", b"\xfe", b"-t", b"start", b"a"]])
def test_undecodable_arguments_same_as_nut(nut, args):
    """Bytes that are not UTF-8 come back out unchanged, as from NUT's C strings."""
    nut.write("ups.conf", MIXED_CONF)
    results = []
    for prog in (REAL, ours("upsdrvctl")):
        p = subprocess.run([prog.encode(), *args], env=nut.env, capture_output=True, timeout=30, check=False)
        results.append((p.returncode, _TSB.sub(b"TS\t", p.stdout.replace(prog.encode(), b"PROG")),
                        _TSB.sub(b"TS\t", p.stderr)))
    assert results[1] == results[0]


def test_commands_to_a_running_nut_driver(nut):
    """NUT 2.8.0's dummy-ups ignores SIGHUP/SIGURG and answers driver.* socket requests with code 1."""
    _dummy_conf(nut, names="a")
    assert run([ours("upsdrvctl"), "-u", "root", "start"], env=nut.env).returncode == 0
    pid = _pids(nut, "a")["a"]
    try:
        for cmd in ("reload", "dump"):
            p = run([ours("upsdrvctl"), "-c", cmd], env=nut.env)
            assert (p.returncode, p.stderr) == (0, "")
        assert _alive(pid)
        for cmd in ("reload-or-error", "exit"):
            p = run([ours("upsdrvctl"), "-c", cmd, "a"], env=nut.env)
            assert (p.returncode, p.stderr) == (1, f"Request to {cmd} returned code 1\n")
        assert _alive(pid)
    finally:
        _cleanup([pid])
