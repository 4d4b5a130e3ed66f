"""Test helpers shared by every suite: temp NUT dirs, free ports, processes started and ended by PID, bounded waits."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REAL_NUT_DIR = Path(os.environ.get("PNUT_REAL_NUT_DIR", "/lib/nut"))     # Debian's drivers, upsd, upsmon
REAL_BIN_DIR = Path("/bin")                                            # Debian's upsc, upscmd, upsrw, upslog


def real_nut(prog: str) -> str | None:
    """Path of a real NUT 2.8.0 program, or None when it is not installed."""
    for d in (REAL_NUT_DIR, REAL_BIN_DIR, Path("/usr/bin"), Path("/sbin")):
        p = d / prog
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def ours(prog: str) -> str:
    """Path of one of our console scripts (installed next to the running interpreter)."""
    p = Path(sys.executable).parent / prog
    if p.exists():
        return str(p)
    found = shutil.which(prog)
    if not found:
        raise FileNotFoundError(prog)
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred: Callable[[], object], timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    """Poll `pred` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class NutDirs:
    """A private NUT installation layout: conf dir, state dir, environment for every program."""

    root: Path
    conf: Path = field(init=False)
    state: Path = field(init=False)

    def __post_init__(self) -> None:
        self.conf = self.root / "etc"
        self.state = self.root / "run"
        self.conf.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state, 0o770)

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(NUT_CONFPATH=str(self.conf), NUT_STATEPATH=str(self.state),
                   NUT_ALTPIDPATH=str(self.state), NUT_PIDPATH=str(self.state),
                   NUT_QUIET_INIT_SSL="true")
        env.pop("NUT_DEBUG_LEVEL", None)
        return env

    def write(self, name: str, text: str, mode: int = 0o640) -> Path:
        p = self.conf / name
        p.write_text(text)
        os.chmod(p, mode)
        return p


@dataclass
class Procs:
    """Processes a test started; each is ended by its own PID at teardown (TERM, then KILL)."""

    started: list[subprocess.Popen] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)       # daemons that forked away from a Popen we ran

    def start(self, argv: list[str], env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        p = subprocess.Popen(argv, env=env, **kw)
        self.started.append(p)
        return p

    def adopt_pidfile(self, path: Path, timeout: float = 10.0) -> int:
        """Remember the PID a daemon wrote, so teardown can end it."""
        text = wait_for(lambda: path.exists() and path.read_text().strip(), timeout, what=str(path))
        pid = int(text)
        self.pids.append(pid)
        return pid

    def stop_all(self) -> None:
        for pid in self.pids:
            _terminate_pid(pid)
        for p in self.started:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
            for stream in (p.stdout, p.stderr, p.stdin):
                if stream:
                    stream.close()


def _terminate_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
    """Run a one-shot program to completion with a bounded wait; output as text."""
    return subprocess.run(argv, env=env, timeout=timeout, capture_output=True, text=True, **kw)
