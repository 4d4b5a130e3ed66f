"""Our upsc, upscmd, upsrw and upslog against Debian's real ones, both talking to a REAL upsd 2.8.0 that serves
real dummy-ups drivers: for every scenario, the same stdout bytes, the same stderr bytes and the same exit code.

One real stack serves the whole module.  Each scenario runs the real client, then ours, back to back, so a
scenario that changes state (SET, INSTCMD) sees the same state in both runs.

The one deliberate difference: Debian builds libupsclient with NSS, and its clients that try TLS (upsc,
upslog) print `Init SSL without certificate database` on stderr when they initialise NSS.  Our clients use
Python's ssl module and have no certificate database to initialise, so they do not print that notice; the
comparison removes exactly that line from the real client's stderr (and checks it appears only for the
TRY-SSL programs).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pnut.clients.cli import login_name
from tests.procs import NutDirs, Procs, free_port, ours, real_nut, wait_for

NSS_NOTICE = "Init SSL without certificate database\n"
TRYSSL_PROGRAMS = {"upsc", "upslog"}

DEV = """\
battery.charge: 100
battery.charge.low: 20
device.mfr: Dummy "quoted" Mfr
input.voltage: 230.0
ups.status: OL
ups.load: 20
ups.id: myid
ups.delay.shutdown: 20
"""


@dataclass
class Stack:
    nut: NutDirs
    port: int
    closed_port: int
    drivers: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def _real_client(prog: str) -> str:
    path = Path("/bin") / prog
    if not path.exists():
        path = Path(real_nut(prog) or f"/usr/bin/{prog}")
    return str(path)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    nut = NutDirs(tmp_path_factory.mktemp("clients") / "nut")
    port, closed = free_port(), free_port()
    nut.write("dummy.dev", DEV)
    nut.write("stale.dev", DEV)
    nut.write("ups.conf", '[dummy]\n driver = dummy-ups\n port = dummy.dev\n desc = "Test \\"quoted\\" Dummy"\n'
                          "[stale]\n driver = dummy-ups\n port = stale.dev\n"
                          "[nodrv]\n driver = dummy-ups\n port = nodrv.dev\n")
    nut.write("upsd.conf", f"LISTEN 127.0.0.1 {port}\nLISTEN ::1 {port}\nMAXAGE 4\n")
    nut.write("upsd.users", "[admin]\n password = secret\n instcmds = ALL\n actions = SET\n"
                            "[weak]\n password = weak\n")
    procs = Procs()
    st = Stack(nut, port, closed)
    try:
        for name in ("dummy", "stale"):
            st.drivers[name] = procs.start([real_nut("dummy-ups"), "-a", name, "-u", "root", "-F"], env=nut.env,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(lambda n=name: (nut.state / f"dummy-ups-{n}").exists(), 15, what=f"driver {name}")
        procs.start([real_nut("upsd"), "-u", "root", "-F"], env=nut.env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        upsc = _real_client("upsc")
        wait_for(lambda: subprocess.run([upsc, f"dummy@{st.host}", "ups.status"], env=nut.env,
                                        capture_output=True, timeout=10, check=False).stdout == b"OL\n", 15, what="upsd")
        # 'stale': freeze its driver; upsd declares the data stale after MAXAGE seconds.
        os.kill(st.drivers["stale"].pid, signal.SIGSTOP)
        wait_for(lambda: b"Data stale" in subprocess.run([upsc, f"stale@{st.host}"], env=nut.env,
                                                         capture_output=True, timeout=10, check=False).stderr,
                 20, interval=0.5, what="stale data")
        yield st
    finally:
        if "stale" in st.drivers:
            try:
                os.kill(st.drivers["stale"].pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        procs.stop_all()


def run_both(stack: Stack, prog: str, args: list[str], stdin: str = "", timeout: float = 30):
    """Run the real program and ours with the same argv[0] ('./<prog>', cwd its directory)."""
    subst = [a.replace("H", stack.host, 1) if a.endswith("@H") or a == "H" else a for a in args]
    subst = [a.replace("@CLOSED", f"@127.0.0.1:{stack.closed_port}") for a in subst]
    results = []
    for path in (_real_client(prog), ours(prog)):
        p = subprocess.run([f"./{prog}", *subst], cwd=os.path.dirname(path), env=stack.nut.env,
                           input=stdin.encode(), capture_output=True, timeout=timeout, start_new_session=True, check=False)
        results.append(p)
    return results


def compare(real: subprocess.CompletedProcess, mine: subprocess.CompletedProcess, prog: str) -> None:
    real_err = real.stderr.decode("latin-1")
    if NSS_NOTICE in real_err:
        assert prog in TRYSSL_PROGRAMS, f"{prog} printed the NSS notice"
        real_err = real_err.replace(NSS_NOTICE, "", 1)
    assert mine.stdout.decode("latin-1") == real.stdout.decode("latin-1")
    assert mine.stderr.decode("latin-1") == real_err
    assert mine.returncode == real.returncode


UP = ["-u", "admin", "-p", "secret"]

SCENARIOS: list[tuple[str, list[str], str]] = [
    # upsc
    ("upsc", ["dummy@H"], ""),
    ("upsc", ["dummy@H", "ups.status"], ""),
    ("upsc", ["dummy@H", "device.mfr"], ""),
    ("upsc", ["-l", "H"], ""),
    ("upsc", ["-L", "H"], ""),
    ("upsc", ["-lL", "H", "extra"], ""),
    ("upsc", ["-c", "dummy@H"], ""),
    ("upsc", ["-c", "bogus@H"], ""),
    ("upsc", ["nodrv@H"], ""),
    ("upsc", ["nodrv@H", "ups.status"], ""),
    ("upsc", ["bogus@H"], ""),
    ("upsc", ["bogus@H", "ups.status"], ""),
    ("upsc", ["dummy@H", "ups.nosuch"], ""),
    ("upsc", ["dummy@H", "nodot"], ""),
    ("upsc", ["dummy@H", "-l"], ""),
    ("upsc", ["stale@H"], ""),
    ("upsc", ["stale@H", "ups.status"], ""),
    ("upsc", ["dummy@CLOSED"], ""),
    ("upsc", ["-l", "127.0.0.1:CLOSEDPORT"], ""),
    ("upsc", ["dummy@H:0"], ""),
    ("upsc", ["dummy@127.0.0.1:"], ""),
    ("upsc", ["dummy@[::1"], ""),
    ("upsc", ["-l", "127.0.0.1:99999"], ""),
    ("upsc", [""], ""),
    ("upsc", [], ""),
    ("upsc", ["-h"], ""),
    ("upsc", ["-V"], ""),
    ("upsc", ["-x", "dummy@H"], ""),
    ("upsc", ["--", "dummy@H", "ups.load"], ""),
    # upscmd
    ("upscmd", ["-l", "dummy@H"], ""),
    ("upscmd", ["-l", "nodrv@H"], ""),
    ("upscmd", ["-l", "bogus@H"], ""),
    ("upscmd", ["-l", "stale@H"], ""),
    ("upscmd", [*UP, "dummy@H", "load.off"], ""),
    ("upscmd", [*UP, "dummy@H", "load.off", "5"], ""),
    ("upscmd", [*UP, "dummy@H", "load.on"], ""),
    ("upscmd", [*UP, "dummy@H", "load"], ""),
    ("upscmd", [*UP, "nodrv@H", "load.off"], ""),
    ("upscmd", [*UP, "bogus@H", "load.off"], ""),
    ("upscmd", [*UP, "stale@H", "load.off"], ""),
    ("upscmd", ["-u", "weak", "-p", "weak", "dummy@H", "load.off"], ""),
    ("upscmd", ["-u", "admin", "-p", "wrong", "dummy@H", "load.off"], ""),
    ("upscmd", ["-u", "nobody", "-p", "x", "dummy@H", "load.off"], ""),
    ("upscmd", ["-u", "admin", "-p", "two words", "dummy@H", "load.off"], ""),
    ("upscmd", [*UP, "-w", "dummy@H", "load.off"], ""),
    ("upscmd", [*UP, "-w", "-t", "0", "dummy@H", "load.off"], ""),
    ("upscmd", ["-t", "abc", "dummy@H", "load.off"], ""),
    ("upscmd", ["-t", "-1", "dummy@H", "load.off"], ""),
    ("upscmd", ["dummy@H", "load.off"], "admin\nsecret\n"),
    ("upscmd", ["-p", "secret", "dummy@H", "load.off"], "\n"),
    ("upscmd", ["dummy@H", "load.off"], ""),
    ("upscmd", ["-u", "admin", "dummy@H", "load.off"], ""),
    ("upscmd", ["dummy@H"], ""),
    ("upscmd", ["dummy@CLOSED", "load.off"], ""),
    ("upscmd", ["dummy@H:0", "load.off"], ""),
    ("upscmd", [], ""),
    ("upscmd", ["-h"], ""),
    ("upscmd", ["-V"], ""),
    ("upscmd", ["-x"], ""),
    ("upscmd", ["-u"], ""),
    # upsrw
    ("upsrw", ["dummy@H"], ""),
    ("upsrw", ["-l", "dummy@H"], ""),
    ("upsrw", ["nodrv@H"], ""),
    ("upsrw", ["bogus@H"], ""),
    ("upsrw", ["stale@H"], ""),
    ("upsrw", ["-s", "ups.id=myid", *UP, "dummy@H"], ""),
    ("upsrw", ["-s", "ups.id", *UP, "dummy@H"], "myid\n"),
    ("upsrw", ["-s", "ups.id=myid", "dummy@H"], "admin\nsecret\n"),
    ("upsrw", ["-s", "ups.id=myid", "-u", "weak", "-p", "weak", "dummy@H"], ""),
    ("upsrw", ["-s", "ups.id=myid", "dummy@H"], ""),
    ("upsrw", ["-s", "ups.id=myid", "-p", "secret", "dummy@H"], "\n"),
    ("upsrw", ["-s", "ups.id=myid", "-u", "admin", "-p", "wrong", "dummy@H"], ""),
    ("upsrw", ["-s", "ups.nosuch=1", *UP, "dummy@H"], ""),
    ("upsrw", ["-s", "id=1", *UP, "dummy@H"], ""),
    ("upsrw", ["-s", "ups.id=myid", *UP, "nodrv@H"], ""),
    ("upsrw", ["-s", "ups.id=myid", *UP, "bogus@H"], ""),
    ("upsrw", ["-s", "ups.id=x", "-l", "dummy@H"], ""),
    ("upsrw", ["-w", "-s", "ups.id=myid", *UP, "dummy@H"], ""),
    ("upsrw", ["-t", "x", "dummy@H"], ""),
    ("upsrw", ["dummy@CLOSED"], ""),
    ("upsrw", ["dummy@[::1"], ""),
    ("upsrw", [], ""),
    ("upsrw", ["-h"], ""),
    ("upsrw", ["-V"], ""),
    ("upsrw", ["-x", "dummy@H"], ""),
    # upslog: the ways it refuses to start, and the banner/help forms
    ("upslog", ["-h"], ""),
    ("upslog", ["-V"], ""),
    ("upslog", [], ""),
    ("upslog", ["-s", "dummy@H"], ""),
    ("upslog", ["-l", "-"], ""),
    ("upslog", ["dummy@H", "x"], ""),
    ("upslog", ["-s", "dummy@H:0", "-l", "-"], ""),
    ("upslog", ["-m", "-s", "dummy@H"], ""),            # -m (later releases) is not an option in 2.8.0
    ("upslog", ["-s", "dummy@H", "-l", "/nonexistent/dir/log"], ""),
    ("upslog", ["-s", "dummy@CLOSED", "-l", "/nonexistent/dir/log"], ""),
]


@pytest.mark.parametrize("prog, args, stdin", SCENARIOS,
                         ids=[f"{p} {' '.join(a)}{' <stdin' if s else ''}" for p, a, s in SCENARIOS])
def test_same_as_nut(stack, prog, args, stdin):
    args = [a.replace("CLOSEDPORT", str(stack.closed_port)) for a in args]
    real, mine = run_both(stack, prog, args, stdin)
    compare(real, mine, prog)


def test_localhost_tries_every_address(stack):
    # 'localhost' resolves to ::1 and 127.0.0.1; the error reported is the last address's.
    real, mine = run_both(stack, "upsc", [f"dummy@localhost:{stack.closed_port}"])
    compare(real, mine, "upsc")
    real, mine = run_both(stack, "upsc", [f"dummy@localhost:{stack.port}", "ups.status"])
    compare(real, mine, "upsc")
    real, mine = run_both(stack, "upsc", [f"dummy@[::1]:{stack.port}", "ups.load"])
    compare(real, mine, "upsc")


def test_upsc_sees_a_value_set_by_upsrw(stack):
    for value in ("a b", 'quote"hash#', "myid"):
        real, mine = run_both(stack, "upsrw", ["-s", f"ups.id={value}", *UP, "dummy@H"])
        compare(real, mine, "upsrw")
        expect = "quote" if value == 'quote"hash#' else value   # NUT 2.8.0 loses what follows '#' on its way
        # the driver applies a SET asynchronously: wait until upsd has the new value
        wait_for(lambda e=expect: run_both(stack, "upsc", ["dummy@H", "ups.id"])[1].stdout.decode() == e + "\n",
                 10, what="the new value")
        real, mine = run_both(stack, "upsc", ["dummy@H", "ups.id"])
        compare(real, mine, "upsc")


def _upslog(stack: Stack, path: str, logfile: str, fmt: str, pidbase: str) -> subprocess.Popen:
    return subprocess.Popen([path, "-s", f"dummy@{stack.host}", "-l", logfile, "-i", "1", "-u", "root",
                             "-p", pidbase, "-f", fmt], env=stack.nut.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


FORMAT = "%VAR ups.status% %VAR ups.nosuch% [%upshost%] %VAR nodot% %FOO% 100%% %ETIME% %TIME @Y% %broken"


def test_upslog_lines_match(stack):
    """Both upslogs in the foreground on stdout: the same header, the same lines, the same goodbye."""
    outs = []
    for path in (_real_client("upslog"), ours("upslog")):
        # an absolute PID file name: Debian's upslog ignores NUT_PIDPATH and would write into /run/nut
        p = _upslog(stack, path, "-", FORMAT, str(stack.nut.state / f"upslog-{len(outs)}.pid"))
        try:
            time.sleep(1.5)
            os.kill(p.pid, signal.SIGTERM)
            out, err = p.communicate(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        outs.append((out.decode(), err.decode().replace(NSS_NOTICE, ""), p.returncode))
    (rout, rerr, rrc), (mout, merr, mrc) = outs
    rlines, mlines = rout.splitlines(), mout.splitlines()
    assert mlines[:2] == rlines[:2]
    year = time.strftime("%Y")

    def norm(line: str) -> str:
        words = line.split(" ")
        return " ".join("ETIME" if w.isdigit() and len(w) >= 10 else w for w in words)
    assert {norm(x) for x in mlines[2:]} == {norm(x) for x in rlines[2:]}
    assert norm(mlines[2]) == f"OL NA [dummy@{stack.host}] INVALID INVALID 100% ETIME {year} INVALIDbroken"
    assert merr == rerr == "Signal 15: exiting\n"
    assert mrc == rrc == 0


def test_upslog_background_pidfile_and_sighup_reopen(stack, tmp_path):
    """Ours: to a file it goes to the background, writes its PID file, and reopens the log on SIGHUP."""
    log = tmp_path / "ups.log"
    p = _upslog(stack, ours("upslog"), str(log), "%VAR ups.status%", "mylog")
    out, _err = p.communicate(timeout=10)          # the parent returns once the child is in the background
    assert p.returncode == 0
    assert out.decode() == (f"Network UPS Tools upslog 2.8.0\n"
                            f"logging status of dummy@{stack.host} to {log} (1s intervals)\n")
    pidfile = Path(stack.nut.env["NUT_PIDPATH"]) / "mylog.pid"
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 10, what="pid file"))
    try:
        wait_for(lambda: log.exists() and "OL\n" in log.read_text(), 10, what="first line")
        rotated = tmp_path / "ups.log.1"
        log.rename(rotated)
        os.kill(pid, signal.SIGHUP)
        wait_for(lambda: log.exists() and log.read_text().startswith("OL\n"), 10, what="reopened log")
    finally:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not _alive(pid), 10, what="upslog exit")
    assert set(rotated.read_text().splitlines()) == {"OL"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def _on_a_terminal(path: str, argv: list[str], env: dict[str, str], answers: list[tuple[bytes, bytes]]) -> bytes:
    """Run a program with a pseudo-terminal as its controlling terminal and stdio; answer each prompt once it
    has appeared (getpass flushes typed-ahead input) and return everything the terminal showed."""
    import fcntl
    import pty
    import select
    import termios

    master, slave = pty.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    p = subprocess.Popen([f"./{os.path.basename(path)}", *argv], cwd=os.path.dirname(path), env=env,
                         stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                         preexec_fn=own_terminal)  # noqa: PLW1509  (TIOCSCTTY needs it; no threads here)
    os.close(slave)
    seen = b""
    pending = list(answers)
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            if pending and seen.endswith(pending[0][0]):
                os.write(master, pending.pop(0)[1])
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:          # EIO: the program has gone and closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif p.poll() is not None:
                break
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return seen + f"[exit {p.returncode}]".encode()


@pytest.mark.parametrize("prog, args, answers", [
    ("upscmd", ["dummy@H", "load.off"], [(b"Username (LOGIN): ", b"admin\n"), (b"Password: ", b"secret\n")]),
    ("upscmd", ["dummy@H", "load.off"], [(b"Username (LOGIN): ", b"admin\n"), (b"Password: ", b"wrong\n")]),
    ("upscmd", ["-u", "admin", "dummy@H", "load.off"], [(b"Password: ", b"secret\n")]),
    ("upsrw", ["-s", "ups.id", "dummy@H"], [(b"Username (LOGIN): ", b"admin\n"), (b"Password: ", b"secret\n"),
                                            (b"Enter new value for ups.id: ", b"myid\n")]),
], ids=["upscmd-prompts", "upscmd-bad-password", "upscmd-password-only", "upsrw-prompts"])
def test_prompts_on_a_terminal(stack, prog, args, answers):
    """The interactive prompts, echo off for the password, exactly as Debian's clients show them."""
    argv = [a.replace("H", stack.host, 1) if a.endswith("@H") else a for a in args]
    login = (login_name() or "").encode()
    answers = [(prompt.replace(b"LOGIN", login), reply) for prompt, reply in answers]
    shown = [_on_a_terminal(path, argv, stack.nut.env, answers) for path in (_real_client(prog), ours(prog))]
    assert shown[1] == shown[0], shown
    assert b"secret" not in shown[1]
    assert shown[1].startswith(b"Username (" + login + b"): admin\r\n" if args[0] != "-u" else b"Password: ")
