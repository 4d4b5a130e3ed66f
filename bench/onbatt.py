"""How soon upsmon notifies ONBATT after the driver sees the mains fail: pnut beside real NUT 2.8.0.

    python bench/onbatt.py [--trials N] [--idle SECONDS]

Two stacks run side by side, each with default upsmon settings (POLLFREQ 5, POLLFREQALERT 5):
  real  Debian's dummy-ups + upsd + upsmon
  pnut  our dummy-ups + upsd + upsmon (our upsd offers WATCH, upsmon/PUSH.md, so our upsmon is woken by
        a push instead of waiting for its next poll)
Each trial sets `ups.status` to `OB DISCHRG` in the driver (SET VAR through upsd) and times the ONBATT
notification, which NOTIFYCMD stamps; then back to OL, and a random pause so the failures land at every
phase of the poll cycle.  Two figures per trial:
  driver  from the instant the driver publishes the new status (the bench reads the driver's Unix socket
          as a second reader, as upsd does, and stamps the SETINFO ups.status line): upsd + upsmon alone
  SET     from the SET VAR request: adds the driver's own delay; dummy-ups (NUT's and ours alike) sleeps
          1 s inside each update and handles the SET only after it, so this adds 0 to 1 s to both stacks
Afterwards both stacks idle for --idle seconds and the CPU time of upsmon (both processes of ours) and of
upsd is read from /proc.  The WATCH column says whether the upsd answered WATCH with OK.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REAL = {"dummy-ups": "/lib/nut/dummy-ups", "upsd": "/lib/nut/upsd", "upsmon": "/lib/nut/upsmon"}
NOTIFY_SH = """#!/bin/sh
printf '%s %s\\n' "$(date +%s.%N)" "$NOTIFYTYPE" >> "$0.log"
"""


def ours(name: str) -> str:
    p = Path(sys.executable).parent / name
    return str(p) if p.exists() else shutil.which(name) or name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, name: str, root: Path, progs: dict[str, str]) -> None:
        self.name, self.root, self.progs = name, root, progs
        self.port = free_port()
        self.conf, self.state = root / "etc", root / "run"
        self.conf.mkdir(parents=True)
        self.state.mkdir()
        self.env = dict(os.environ, NUT_CONFPATH=str(self.conf), NUT_STATEPATH=str(self.state),
                        NUT_ALTPIDPATH=str(self.state), NUT_PIDPATH=str(self.state), NUT_QUIET_INIT_SSL="true")
        (self.conf / "ups.dev").write_text("ups.status: OL\nbattery.charge: 100\n")
        (self.conf / "ups.conf").write_text("[ups]\n\tdriver = dummy-ups\n\tport = ups.dev\n")
        (self.conf / "upsd.conf").write_text(f"LISTEN 127.0.0.1 {self.port}\n")
        (self.conf / "upsd.users").write_text("[mon]\n\tpassword = pass\n\tactions = SET\n\tupsmon primary\n")
        notify = root / "notify.sh"
        notify.write_text(NOTIFY_SH)
        notify.chmod(0o755)
        self.log = root / "notify.sh.log"
        (self.conf / "upsmon.conf").write_text(
            f"MONITOR ups@127.0.0.1:{self.port} 1 mon pass primary\nSHUTDOWNCMD /bin/true\n"
            f"NOTIFYCMD {notify}\nNOTIFYFLAG ONBATT EXEC\nNOTIFYFLAG ONLINE EXEC\nRUN_AS_USER root\n")
        for f in self.conf.iterdir():
            f.chmod(0o640)
        self.procs: list[subprocess.Popen] = []
        self.monitor_pids: list[int] = []
        self.upsd_pids: list[int] = []
        self.published: list[tuple[float, str]] = []      # (time, ups.status) as the driver broadcast it
        self.tap_sock: socket.socket | None = None

    def start(self) -> None:
        def spawn(argv: list[str]) -> subprocess.Popen:
            p = subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(p)
            return p
        spawn([self.progs["dummy-ups"], "-a", "ups", "-F", "-u", "root"])
        self.upsd_pids.append(spawn([self.progs["upsd"], "-F", "-u", "root"]).pid)
        self._wait(lambda: self.get_status() == "OL", "upsd")
        self.tap()
        mon = spawn([self.progs["upsmon"], "-F", "-u", "root"] + (["-p"] if self.name == "real" else []))
        self.monitor_pids.append(mon.pid)
        if self.name != "real":
            pidfile = self.state / "upsmon.pid"
            self._wait(pidfile.exists, "upsmon pid file")
            time.sleep(0.2)
            self.monitor_pids.append(int(pidfile.read_text()))
        time.sleep(6)          # past upsmon's first 5 s pause: it now sleeps POLLFREQ between polls

    def tap(self) -> None:
        """Read the driver's socket beside upsd: every driver broadcasts each change to all its readers."""
        self.tap_sock = socket.socket(socket.AF_UNIX)
        self.tap_sock.connect(str(self.state / "dummy-ups-ups"))
        prefix = "SETINFO ups.status "

        def reader() -> None:
            buf = b""
            while True:
                try:
                    data = self.tap_sock.recv(4096)       # type: ignore[union-attr]
                except OSError:
                    return
                if not data:
                    return
                now = time.time()
                buf += data
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    line = raw.decode("latin-1")
                    if line.startswith(prefix):
                        self.published.append((now, line[len(prefix):].strip().strip('"')))
        threading.Thread(target=reader, daemon=True).start()

    def _wait(self, pred: Callable[[], object], what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: timed out waiting for {what}")
            time.sleep(0.1)

    def _talk(self, lines: list[str]) -> list[str]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            f = s.makefile("rw")
            out = []
            for line in lines:
                f.write(line + "\n")
                f.flush()
                out.append(f.readline().strip())
            return out

    def get_status(self) -> str | None:
        try:
            reply = self._talk(["GET VAR ups ups.status"])[0]
        except OSError:
            return None
        return reply.split('"')[1] if reply.startswith("VAR") else None

    def set_status(self, value: str) -> float:
        t0 = time.time()
        self._talk(["USERNAME mon", "PASSWORD pass", f'SET VAR ups ups.status "{value}"'])
        return t0

    def watch_supported(self) -> bool:
        try:
            return self._talk(["WATCH ups"])[0].startswith("OK")
        except OSError:
            return False

    def notices(self, typ: str) -> list[float]:
        if not self.log.exists():
            return []
        return [float(line.split()[0]) for line in self.log.read_text().splitlines() if line.split()[1] == typ]

    def trial(self, typ: str, status: str) -> tuple[float, float] | None:
        """(seconds from the driver's broadcast, seconds from the SET request) to the notification."""
        seen = len(self.notices(typ))
        t0 = self.set_status(status)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = self.notices(typ)
            if len(got) > seen:
                pub = next((t for t, v in self.published if t >= t0 and v == status), None)
                return (got[seen] - pub if pub is not None else float("nan"), got[seen] - t0)
            time.sleep(0.01)
        return None

    def cpu_seconds(self, pids: list[int]) -> float:
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        for pid in self.monitor_pids[1:]:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
        if self.tap_sock is not None:
            self.tap_sock.close()
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def run_trials(st: Stack, trials: int, results: dict[str, list[tuple[float, float] | None]]) -> None:
    rnd = random.Random(hash(st.name))
    for _ in range(trials):
        results[st.name].append(st.trial("ONBATT", "OB DISCHRG"))
        st.trial("ONLINE", "OL")
        time.sleep(rnd.uniform(0, 5))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--idle", type=float, default=30.0)
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("run as root (the drivers and upsd are started with -u root)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pnut-bench-onbatt-") as d:
        stacks = [Stack("real", Path(d) / "real", REAL),
                  Stack("pnut", Path(d) / "pnut", {k: ours(k) for k in REAL})]
        results: dict[str, list[tuple[float, float] | None]] = {s.name: [] for s in stacks}
        try:
            for s in stacks:
                s.start()
            threads = [threading.Thread(target=run_trials, args=(s, args.trials, results)) for s in stacks]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            watch = {s.name: s.watch_supported() for s in stacks}
            cpu0 = {s.name: (s.cpu_seconds(s.monitor_pids), s.cpu_seconds(s.upsd_pids)) for s in stacks}
            time.sleep(args.idle)
            cpu = {s.name: (s.cpu_seconds(s.monitor_pids) - cpu0[s.name][0],
                            s.cpu_seconds(s.upsd_pids) - cpu0[s.name][1]) for s in stacks}
            print(f"ONBATT notification latency, seconds ({args.trials} trials, default POLLFREQ 5); "
                  f"idle CPU over {args.idle:g} s")
            print(f"{'stack':6} {'WATCH':6} {'from':7} {'mean':>7} {'median':>7} {'max':>7} {'missed':>6} "
                  f"{'upsmon CPU %':>12} {'upsd CPU %':>10}")
            for s in stacks:
                got = [x for x in results[s.name] if x is not None]
                missed = len(results[s.name]) - len(got)
                for i, frm in enumerate(("driver", "SET")):
                    vals = [x[i] for x in got if x[i] == x[i]]
                    mean = statistics.mean(vals) if vals else float("nan")
                    med = statistics.median(vals) if vals else float("nan")
                    mx = max(vals) if vals else float("nan")
                    cpu_cols = (f"{100 * cpu[s.name][0] / args.idle:12.3f} {100 * cpu[s.name][1] / args.idle:10.3f}"
                                if i == 0 else "")
                    print(f"{s.name if i == 0 else '':6} {('yes' if watch[s.name] else 'no') if i == 0 else '':6} "
                          f"{frm:7} {mean:7.3f} {med:7.3f} {mx:7.3f} {missed if i == 0 else '':>6} {cpu_cols}")
        finally:
            for s in stacks:
                s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
