"""The multi-process stack the power-failure rehearsals run: dummy-ups on a .seq whose TIMER lines fail the
mains on cue, upsd on 127.0.0.1, and any number of upsmon instances (ours or NUT's) whose SHUTDOWNCMD only
writes a timestamped marker file.  Every wait is bounded; every process is ended by PID at teardown.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.procs import NutDirs, Procs, free_port, ours, real_nut, run, wait_for

NOTIFY_SH = """#!/bin/sh
# NOTIFYCMD for rehearsals: one line per notification
printf '%s %s %s %s\\n' "$(date +%s.%N)" "$NOTIFYTYPE" "$UPSNAME" "$1" >> "$0.log"
"""
MARK_SH = """#!/bin/sh
# SHUTDOWNCMD for rehearsals: never a real shutdown, only a timestamp
date +%s.%N > "$1"
"""

HEAD = """\
device.mfr: pnut
device.model: "Rehearsal UPS"
ups.mfr: pnut
ups.model: "Rehearsal UPS"
battery.charge: 100
battery.runtime: 1800
"""


def seq(*steps: tuple[str, float]) -> str:
    """A dummy-ups sequence: each (status, seconds) sets ups.status then pauses; the last pause is long."""
    out = [HEAD]
    for status, secs in steps:
        out.append(f"ups.status: {status}\nTIMER {int(secs) if secs == int(secs) else secs}\n")
    return "".join(out)


def stack_impl() -> str:
    """Which upsd/dummy-ups run the rehearsals: ours unless PNUT_REHEARSAL_STACK=real."""
    return os.environ.get("PNUT_REHEARSAL_STACK", "ours")


def prog(name: str, impl: str) -> str:
    if impl == "real":
        p = real_nut(name)
        assert p, f"real NUT {name} is not installed"
        return p
    return ours(name)


@dataclass
class Host:
    """One upsmon instance with its own config, PID dir, notify log and shutdown marker."""

    name: str
    dir: Path
    impl: str
    proc: object = None
    child_pid: int | None = None

    @property
    def conf(self) -> Path:
        return self.dir / "upsmon.conf"

    @property
    def marker(self) -> Path:
        return self.dir / "shutdown.marker"

    @property
    def flag(self) -> Path:
        return self.dir / "killpower"

    @property
    def notify_log(self) -> Path:
        return self.dir / "notify.sh.log"

    def notices(self) -> list[tuple[float, str, str, str]]:
        if not self.notify_log.exists():
            return []
        out = []
        for line in self.notify_log.read_text().splitlines():
            ts, typ, rest = line.split(" ", 2)
            ups, _, msg = rest.partition(" ") if not rest.startswith(" ") else ("", "", rest[1:])
            out.append((float(ts), typ, ups, msg))
        return out

    def types(self) -> list[str]:
        return [n[1] for n in self.notices()]

    def first(self, typ: str) -> float | None:
        return next((n[0] for n in self.notices() if n[1] == typ), None)

    def shutdown_time(self) -> float | None:
        if not self.marker.exists():
            return None
        text = self.marker.read_text().strip()
        return float(text) if text else None

    def wait_notice(self, typ: str, timeout: float = 20) -> float:
        return wait_for(lambda: self.first(typ), timeout, what=f"{self.name}: {typ}")

    def wait_shutdown(self, timeout: float = 30) -> float:
        return wait_for(self.shutdown_time, timeout, what=f"{self.name}: shutdown marker")


@dataclass
class Stack:
    nut: NutDirs
    procs: Procs
    impl: str = field(default_factory=stack_impl)
    port: int = field(default_factory=free_port)
    upses: dict[str, str] = field(default_factory=dict)
    drivers: dict[str, object] = field(default_factory=dict)
    upsd: object = None
    hosts: list[Host] = field(default_factory=list)

    def configure(self, upses: dict[str, str], pollinterval: int = 1) -> None:
        self.upses = upses
        conf = []
        for name, text in upses.items():
            self.nut.write(f"{name}.seq", text)
            conf.append(f"[{name}]\n\tdriver = dummy-ups\n\tport = {name}.seq\n\tpollinterval = {pollinterval}\n"
                        f"\tdesc = \"rehearsal {name}\"\n")
        self.nut.write("ups.conf", "maxretry = 3\n" + "".join(conf))
        self.nut.write("upsd.conf", f"LISTEN 127.0.0.1 {self.port}\nMAXAGE 15\n")
        self.nut.write("upsd.users", "[mon]\n\tpassword = pass\n\tupsmon primary\n"
                       "[sec]\n\tpassword = pass\n\tupsmon secondary\n")

    def start_driver(self, name: str) -> None:
        self.drivers[name] = self.procs.start([prog("dummy-ups", self.impl), "-a", name, "-F", "-u", "root"],
                                              env=self.nut.env, stdout=open(os.devnull, "w"),
                                              stderr=open(self.nut.root / f"driver-{name}.log", "a"))

    def stop_driver(self, name: str) -> None:
        p = self.drivers.pop(name)
        p.terminate()        # type: ignore[attr-defined]
        p.wait(10)           # type: ignore[attr-defined]

    def start_upsd(self) -> None:
        self.upsd = self.procs.start([prog("upsd", self.impl), "-F", "-u", "root"], env=self.nut.env,
                                     stdout=open(os.devnull, "w"),
                                     stderr=open(self.nut.root / "upsd.log", "a"))

    def stop_upsd(self) -> None:
        self.upsd.terminate()     # type: ignore[attr-defined]
        self.upsd.wait(10)        # type: ignore[attr-defined]

    def ups_status(self, name: str) -> str | None:
        r = run([prog("upsc", "real") if real_nut("upsc") else ours("upsc"), f"{name}@127.0.0.1:{self.port}",
                 "ups.status"], env=self.nut.env, timeout=10)
        return r.stdout.strip() if r.returncode == 0 else None

    def start(self) -> None:
        for name in self.upses:
            self.start_driver(name)
        self.start_upsd()
        for name in self.upses:
            wait_for(lambda n=name: (self.ups_status(n) or "WAIT") != "WAIT", 15, interval=0.2,
                     what=f"upsd serving {name}")

    def monitor_line(self, ups: str, primary: bool, power: int = 1) -> str:
        user = "mon" if primary else "sec"
        role = "primary" if primary else "secondary"
        return f"MONITOR {ups}@127.0.0.1:{self.port} {power} {user} pass {role}\n"

    def host(self, name: str, monitors: str, impl: str = "ours", extra: str = "", hostsync: int = 5,
             deadtime: int = 6, finaldelay: int = 1, pollfreq: int = 1) -> Host:
        d = self.nut.root / f"host-{name}"
        d.mkdir()
        h = Host(name, d, impl)
        (d / "notify.sh").write_text(NOTIFY_SH)
        (d / "mark.sh").write_text(MARK_SH)
        os.chmod(d / "notify.sh", 0o755)
        os.chmod(d / "mark.sh", 0o755)
        flags = "".join(f"NOTIFYFLAG {t} SYSLOG+EXEC\n" for t in (
            "ONLINE", "ONBATT", "LOWBATT", "FSD", "COMMOK", "COMMBAD", "SHUTDOWN", "REPLBATT", "NOCOMM",
            "NOPARENT"))
        h.conf.write_text(
            monitors +
            f"MINSUPPLIES 1\nPOLLFREQ {pollfreq}\nPOLLFREQALERT {pollfreq}\nHOSTSYNC {hostsync}\n"
            f"DEADTIME {deadtime}\nFINALDELAY {finaldelay}\nNOCOMMWARNTIME 2\n"
            f"SHUTDOWNCMD \"{d / 'mark.sh'} {h.marker}\"\nNOTIFYCMD {d / 'notify.sh'}\n"
            f"POWERDOWNFLAG {h.flag}\nRUN_AS_USER root\n" + flags + extra)
        self.hosts.append(h)
        return h

    def launch_all(self, hosts: list[Host]) -> list[Host]:
        """Start several upsmons at once (start-up costs overlap), then adopt their monitor PIDs."""
        for h in hosts:
            self.launch(h, adopt=False)
        for h in hosts:
            if h.impl != "real":
                h.child_pid = self.procs.adopt_pidfile(h.dir / "upsmon.pid")
        return hosts

    def launch(self, h: Host, args: tuple[str, ...] = (), adopt: bool = True) -> Host:
        env = dict(self.nut.env, NUT_PIDPATH=str(h.dir))
        if h.impl == "real":
            _clear_stale_real_pidfile()
            argv = [prog("upsmon", "real"), "-F", "-p", "-f", str(h.conf), *args]
        else:
            argv = [ours("upsmon"), "-F", "-f", str(h.conf), *args]
        h.proc = self.procs.start(argv, env=env, stdout=open(h.dir / "stdout.log", "w"),
                                  stderr=open(h.dir / "upsmon.log", "w"))
        if adopt and h.impl != "real":
            h.child_pid = self.procs.adopt_pidfile(h.dir / "upsmon.pid")
        return h

    def wait_logins(self, ups: str, n: int, timeout: float = 15) -> None:
        from pnut.libupsclient.client import UpsClient

        def count() -> bool:
            try:
                with UpsClient("127.0.0.1", self.port) as c:
                    return int(c.get("NUMLOGINS", ups)[2]) >= n
            except Exception:
                return False
        wait_for(count, timeout, interval=0.2, what=f"{n} logins on {ups}")


REAL_UPSMON_PIDFILE = Path("/run/nut/upsmon.pid")     # compiled into NUT 2.8.0's upsmon: no override


def _clear_stale_real_pidfile() -> None:
    """NUT's upsmon refuses to start while the PID in its PID file is alive; a file left by an earlier
    test whose PID has since been reused by another program is removed (a live upsmon's never is)."""
    try:
        pid = int(REAL_UPSMON_PIDFILE.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        comm = ""
    if comm != "upsmon":
        try:
            REAL_UPSMON_PIDFILE.unlink()
        except OSError:
            pass


def settle(seconds: float) -> None:
    """A bounded pause used only to show that something did NOT happen."""
    time.sleep(seconds)
