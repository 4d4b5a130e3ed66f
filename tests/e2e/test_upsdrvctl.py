"""upsdrvctl driving programs: a recording fake driver (a shell script in a `driverpath`) shows exactly what is
executed, in which order, how often, and how exit statuses, hangs and signals are handled; pnut's own
dummy-ups shows the default driver lookup end to end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from pnut.drivers import upsdrvctl
from tests.procs import NutDirs, ours, run, wait_for

FAKE_DRIVER = r"""#!/bin/sh
# Records its command line, then behaves according to the UPS name it was given.
here=$(dirname "$0")
echo "$(basename "$0") $*" >> "$here/calls.log"
ups=""
while [ $# -gt 0 ]; do [ "$1" = "-a" ] && ups="$2"; shift; done
case "$ups" in
  fail*) exit 2 ;;
  flaky*) n=$(grep -c " -a flaky" "$here/calls.log"); [ "$n" -ge 2 ] && exit 0; exit 4 ;;
  hang*|fg*) echo $$ > "$here/$ups.running"; exec sleep 30 >/dev/null 2>&1 </dev/null ;;
  *) exit 0 ;;
esac
"""


@pytest.fixture
def fake(nut: NutDirs):
    """A driverpath holding the recording driver `rec`; anything it leaves running is ended by PID."""
    bindir = nut.root / "bin"
    bindir.mkdir()
    (bindir / "rec").write_text(FAKE_DRIVER)
    (bindir / "rec").chmod(0o755)
    yield bindir
    for f in bindir.glob("*.running"):
        _kill(int(f.read_text()))


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    """Running; a zombie left for init to reap counts as gone."""
    return not upsdrvctl._gone(pid)


def calls(bindir: Path) -> list[str]:
    log = bindir / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def conf(nut: NutDirs, bindir: Path, globals_: str = "", **sections: str) -> None:
    text = f"driverpath = {bindir}\n{globals_}"
    for name, extra in sections.items():
        text += f"[{name}]\n driver = rec\n port = /dev/{name}\n{extra}"
    nut.write("ups.conf", text)


def ctl(nut: NutDirs, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return run([ours("upsdrvctl"), *args], env=nut.env, timeout=timeout)


# -- start -------------------------------------------------------------------------------------------

def test_start_all_in_file_order_with_passthrough(nut, fake):
    conf(nut, fake, b="", a="", c="")
    p = ctl(nut, "-u", "nut", "-r", "/var/empty", "start")
    assert (p.returncode, p.stderr) == (0, "")
    assert calls(fake) == [f"rec -a {n} -r /var/empty -u nut" for n in "bac"]


def test_start_one_and_debug_passthrough(nut, fake):
    conf(nut, fake, a="", b="")
    p = ctl(nut, "-B", "-DDD", "-d", "start", "b")
    assert p.returncode == 0
    assert calls(fake) == ["rec -DDD -B -a b"]
    assert "[D2] exec:  " + f"{fake}/rec -DDD -B -a b\n" in p.stderr


def test_retries_until_maxretry(nut, fake):
    conf(nut, fake, "maxretry = 3\nretrydelay = 0\n", fail1="", fail2=" maxretry = 1\n")
    p = ctl(nut, "start")
    assert p.returncode == 1
    assert calls(fake) == ["rec -a fail1"] * 3 + ["rec -a fail2"]
    assert p.stderr == "Driver failed to start (exit status=2)\n" * 4


def test_success_after_a_failed_attempt_is_success(nut, fake):
    conf(nut, fake, "maxretry = 2\nretrydelay = 0\n", flaky="")
    p = ctl(nut, "start")
    assert p.returncode == 0
    assert p.stderr == "Driver failed to start (exit status=4)\n"
    assert calls(fake) == ["rec -a flaky"] * 2


def test_startup_timer(nut, fake):
    """A driver that neither forks away nor exits: upsdrvctl gives up waiting after maxstartdelay."""
    conf(nut, fake, "maxstartdelay = 30\n", hang=" maxstartdelay = 1\n", ok="")
    p = ctl(nut, "start")
    assert p.returncode == 1
    assert p.stderr == "Startup timer elapsed, continuing...\n"
    assert calls(fake) == ["rec -a hang", "rec -a ok"]
    assert _alive(int((fake / "hang.running").read_text()))     # NUT does not kill it either


def test_nowait_does_not_wait(nut, fake):
    conf(nut, fake, "nowait\n", hang="")
    p = ctl(nut, "-DD", "start")
    assert p.returncode == 0
    assert "[D2] 'nowait' set, continuing...\n" in p.stderr
    wait_for(lambda: (fake / "hang.running").exists(), 10, what="driver started")


def test_nut_ignore_nowait(nut, fake):
    conf(nut, fake, "nowait\nmaxstartdelay = 1\n", hang="")
    env = dict(nut.env, NUT_IGNORE_NOWAIT="true")
    p = run([ours("upsdrvctl"), "start"], env=env)
    assert p.returncode == 1
    assert "Startup timer elapsed, continuing...\n" in p.stderr


def test_missing_driver_aborts_the_rest(nut, fake):
    nut.write("ups.conf", f"driverpath = {fake}\n[a]\ndriver = nope\nport = x\n[b]\ndriver = rec\nport = y\n")
    p = ctl(nut, "start")
    assert (p.returncode, p.stderr) == (1, f"Can't start {fake}/nope: No such file or directory\n")
    assert calls(fake) == []


# -- shutdown ----------------------------------------------------------------------------------------

def test_shutdown_follows_sdorder(nut, fake):
    conf(nut, fake, u2=" sdorder = 2\n", u0=" sdorder = 0\n", never=" sdorder = -1\n",
         u1=" sdorder = 1\n", dflt="")
    p = ctl(nut, "-u", "root", "shutdown")
    assert p.returncode == 0
    assert calls(fake) == [f"rec -a {n} -k -u root" for n in ("u0", "dflt", "u1", "u2")]


def test_shutdown_named_ups_ignores_sdorder(nut, fake):
    conf(nut, fake, never=" sdorder = -1\n")
    assert ctl(nut, "-r", "/x", "shutdown", "never").returncode == 0
    assert calls(fake) == ["rec -a never -k -r /x"]


def test_shutdown_failure_is_reported(nut, fake):
    conf(nut, fake, fail="", ok=" sdorder = 3\n")
    p = ctl(nut, "shutdown")
    assert p.returncode == 1
    assert p.stderr == "Driver failed to start (exit status=2)\n"
    assert calls(fake) == ["rec -a fail -k", "rec -a ok -k"]


def test_nowait_does_not_apply_to_shutdown(nut, fake):
    """pnut waits for every shutdown command (NUT 2.8.0 would not with nowait, breaking sdorder)."""
    conf(nut, fake, "nowait\n", fail=" sdorder = 1\n", ok="")
    p = ctl(nut, "shutdown")
    assert p.returncode == 1
    assert p.stderr == "Driver failed to start (exit status=2)\n"
    assert calls(fake) == ["rec -a ok -k", "rec -a fail -k"]


def test_sdorder_on_a_sections_first_line_counts(nut, fake):
    """NUT 2.8.0 forgets sdorder when it is the first line of a section; pnut does not."""
    nut.write("ups.conf", f"driverpath = {fake}\n[late]\n sdorder = 1\n driver = rec\n port = x\n"
                          "[early]\n driver = rec\n port = y\n")
    assert ctl(nut, "shutdown").returncode == 0
    assert calls(fake) == ["rec -a early -k", "rec -a late -k"]


# -- stop and -c (in-process, so that waits can be shortened) ---------------------------------------

def _detached(cmd: str, pidfile: Path) -> int:
    """Start `cmd` as an orphan (like a backgrounded driver) and write its PID file."""
    subprocess.run(["sh", "-c", f"({cmd}) >/dev/null 2>&1 & echo $! > {pidfile}"], check=True, timeout=10)
    return int(pidfile.read_text())


@pytest.fixture
def inproc(nut, monkeypatch):
    for k, v in nut.env.items():
        if k.startswith("NUT_"):
            monkeypatch.setenv(k, v)
    monkeypatch.setattr(upsdrvctl, "STOP_WAIT", 1.0)
    return nut


def test_stop_waits_until_the_driver_is_gone(inproc, fake, capsys):
    conf(inproc, fake, a="")
    pid = _detached("exec sleep 30", inproc.state / "rec-a.pid")
    try:
        assert upsdrvctl.main(["stop"]) == 0
        assert not _alive(pid)
        assert capsys.readouterr().err == ""
    finally:
        _kill(pid)


def test_stop_kills_a_driver_that_ignores_sigterm(inproc, fake, capsys):
    conf(inproc, fake, a="")
    pidfn = inproc.state / "rec-a.pid"
    pid = _detached("trap '' TERM; exec sleep 30", pidfn)
    try:
        assert upsdrvctl.main(["stop", "a"]) == 0
        assert not _alive(pid)
        assert not pidfn.exists()
        assert capsys.readouterr().err == f"Stopping {pidfn} failed, retrying harder\n"
    finally:
        _kill(pid)


def test_stop_by_port_basename(inproc, fake, capsys):
    """The old PID file name, <driver>-<basename of port>.pid, is tried after <driver>-<ups>.pid."""
    inproc.write("ups.conf", f"driverpath = {fake}\n[a]\ndriver = rec\nport = /dev/a.dev\n")
    pid = _detached("exec sleep 30", inproc.state / "rec-a.dev.pid")
    try:
        assert upsdrvctl.main(["stop"]) == 0
        assert not _alive(pid)
        assert capsys.readouterr().err == f"Can't open {inproc.state}/rec-a.pid: No such file or directory\n"
    finally:
        _kill(pid)


@pytest.mark.parametrize("cmd,sig", [("reload", signal.SIGHUP), ("reload-or-exit", signal.SIGUSR1),
                                     ("reload-or-ex", signal.SIGUSR1)])
def test_signal_commands(inproc, fake, cmd, sig, capsys):
    """-c sends the command's signal (sleep dies of it, which shows which one arrived)."""
    conf(inproc, fake, a="")
    probe = subprocess.Popen(["sleep", "30"])
    (inproc.state / "rec-a.pid").write_text(f"{probe.pid}\n")
    try:
        assert upsdrvctl.main(["-c", cmd, "a"]) == 0
        assert probe.wait(10) == -sig
    finally:
        probe.kill()
        probe.wait()


def test_signal_command_errors(inproc, fake, capsys):
    conf(inproc, fake, a="")
    assert upsdrvctl.main(["-c", "bogus", "a"]) == 1
    assert upsdrvctl.main(["-c", "reload", "-c", "dump"]) == 1
    err = capsys.readouterr().err
    assert err == ("Error: unknown argument to option -c. Try -h for help.\n"
                   "Error: only one command per run can be sent with option -c. Try -h for help.\n")
    assert upsdrvctl.main(["-c", "reload"]) == 1          # no PID files at all
    assert "Can't open " in capsys.readouterr().err


def test_reload_or_error_over_the_driver_socket(inproc, fake, capsys):
    """reload-or-error is an INSTCMD on the driver's socket; the TRACKING answer decides success."""
    conf(inproc, fake, a="")
    path = str(inproc.state / "rec-a")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    seen: list[str] = []

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            line = conn.makefile("r").readline()
            seen.append(line)
            words = line.split()
            conn.sendall(b'SETINFO ups.status "OL"\n' + f"TRACKING {words[3]} 0\n".encode())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        assert upsdrvctl.main(["-c", "reload-or-error", "a"]) == 0
        t.join(10)
        assert seen and seen[0].startswith("INSTCMD driver.reload-or-error TRACKING ")
        assert "Request to reload-or-error returned code 0" in capsys.readouterr().err
    finally:
        srv.close()
    # nobody listening any more: a counted error
    os.unlink(path)
    assert upsdrvctl.main(["-c", "reload-or-error", "a"]) == 1


# -- foreground (-F) ----------------------------------------------------------------------------------

def test_foreground_single_driver_replaces_upsdrvctl(nut, fake, procs):
    conf(nut, fake, fg1="", other="")
    p = procs.start([ours("upsdrvctl"), "-F", "start", "fg1"], env=nut.env)
    pid = int(wait_for(lambda: (fake / "fg1.running").exists() and (fake / "fg1.running").read_text().strip(),
                       10, what="driver"))
    assert pid == p.pid
    assert calls(fake) == ["rec -F -a fg1"]


def test_foreground_all_drivers_supervised(nut, fake, procs):
    conf(nut, fake, fg1="", fg2="")
    p = procs.start([ours("upsdrvctl"), "-FF", "start"], env=nut.env)
    pids = [int(wait_for(lambda n=n: (fake / f"{n}.running").exists() and (fake / f"{n}.running").read_text().strip(),
                         10, what=n)) for n in ("fg1", "fg2")]
    assert p.poll() is None
    assert sorted(calls(fake)) == ["rec -FF -a fg1", "rec -FF -a fg2"]
    p.send_signal(signal.SIGTERM)
    p.wait(15)
    assert not any(_alive(pid) for pid in pids)
    assert b'Starting "all" drivers but requested the foreground mode!' in p.stderr.read()


# -- pnut's own drivers ---------------------------------------------------------------------------------

def _have_our_dummy_ups() -> bool:
    try:
        ours("dummy-ups")
    except FileNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _have_our_dummy_ups(), reason="pnut's dummy-ups is not installed")
def test_default_lookup_runs_our_dummy_ups(nut):
    nut.write("a.dev", "ups.status: OL\nbattery.charge: 90\n")
    nut.write("ups.conf", "[a]\n driver = dummy-ups\n port = a.dev\n")
    p = ctl(nut, "-u", "root", "start")
    pidfn = nut.state / "dummy-ups-a.pid"
    pid = 0
    try:
        assert p.returncode == 0, p.stderr
        pid = int(pidfn.read_text())
        assert _alive(pid)
        assert (nut.state / "dummy-ups-a").exists()
        p = ctl(nut, "stop")
        assert (p.returncode, p.stderr) == (0, "")
        assert not _alive(pid)
    finally:
        if pid:
            _kill(pid)


@pytest.mark.skipif(not _have_our_dummy_ups(), reason="pnut's dummy-ups is not installed")
def test_shutdown_runs_our_dummy_ups_with_k(nut):
    nut.write("a.dev", "ups.status: OL\n")
    nut.write("ups.conf", "[a]\n driver = dummy-ups\n port = a.dev\n")
    p = ctl(nut, "-t", "shutdown")
    assert f"exec:  {ours('dummy-ups')} -a a -k\n" in p.stderr
    p = ctl(nut, "-u", "root", "shutdown")
    assert p.returncode == 1          # dummy-ups cannot shut anything down, as NUT's
    assert "Driver failed to start (exit status=1)\n" in p.stderr


# -- closed or short-lived output ----------------------------------------------------------------------

@pytest.mark.parametrize("shell", ["{prog} -h >&-", "{prog} -h | head -c 1 >/dev/null", "{prog} bogus 2>&-"])
def test_closed_output_is_not_an_error(nut, shell):
    """Like NUT's printf(), writing into a closed stdout or a pipe nobody reads fails quietly."""
    p = subprocess.run(["sh", "-c", shell.format(prog=ours("upsdrvctl"))], env=nut.env, capture_output=True,
                       text=True, timeout=30, check=False)
    assert "Traceback" not in p.stderr and "Exception" not in p.stderr
    assert p.stderr in ("", "Error: unrecognized command [bogus]\n")


@pytest.mark.skipif(not _have_our_dummy_ups(), reason="pnut's dummy-ups is not installed")
def test_commands_to_our_running_dummy_ups(nut):
    """-c reload (SIGHUP) keeps the driver; reload-or-error and exit go over its socket."""
    nut.write("a.dev", "ups.status: OL\n")
    nut.write("ups.conf", "[a]\n driver = dummy-ups\n port = a.dev\n")
    assert ctl(nut, "-u", "root", "start").returncode == 0
    pid = int((nut.state / "dummy-ups-a.pid").read_text())
    try:
        p = ctl(nut, "-c", "reload")
        assert (p.returncode, p.stderr) == (0, "")
        assert _alive(pid)
        p = ctl(nut, "-c", "reload-or-error", "a")
        assert p.returncode == 0
        assert p.stderr == "Request to reload-or-error returned code 0\n"
        p = ctl(nut, "-c", "exit")
        assert p.returncode == 0
        wait_for(lambda: not _alive(pid), 10, what="dummy-ups to exit")
    finally:
        _kill(pid)
