"""pnut-demo: the whole stack on an embedded simulated UPS, with no hardware and no root-owned paths.

Starts dummy-ups on a sequence that walks through a power failure, upsd on 127.0.0.1 and a primary upsmon
whose SHUTDOWNCMD only writes a marker file; rehearses the failure with pnut-rehearse, then shows what
`upsc` sees and what upsmon notifies as the mains fail, the battery runs low and upsmon "shuts down".
Everything lives in a temporary directory and stops on exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

from docopt import docopt

USAGE = """\
pnut-demo: run dummy-ups, upsd and upsmon on a simulated UPS and watch a power failure.

Usage:
  pnut-demo [--duration=<s>] [--port=<n>] [--dir=<path>]
  pnut-demo -h

Options:
  --duration=<s>  Seconds to watch before stopping (0 = until Ctrl-C) [default: 60].
  --port=<n>      TCP port for upsd on 127.0.0.1 (default: a free port).
  --dir=<path>    Keep the configuration and state in this directory instead of a temporary one.
  -h              Show this help.
"""

UPSNAME = "demo"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _program(name: str) -> str:
    p = Path(sys.executable).parent / name
    return str(p) if p.exists() else (shutil.which(name) or name)


def _write_config(root: Path, port: int) -> dict[str, str]:
    conf, state = root / "etc", root / "run"
    conf.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    (conf / "demo.seq").write_bytes(resources.files("pnut.conf").joinpath("demo.seq").read_bytes())
    (conf / "ups.conf").write_text(
        f"[{UPSNAME}]\n\tdriver = dummy-ups\n\tport = demo.seq\n\tdesc = \"pnut demo UPS\"\n")
    (conf / "upsd.conf").write_text(f"LISTEN 127.0.0.1 {port}\n")
    (conf / "upsd.users").write_text(
        "[admin]\n\tpassword = demo\n\tactions = SET FSD\n\tinstcmds = ALL\n\tupsmon primary\n")
    notify = conf / "notify.sh"
    notify.write_text('#!/bin/sh\necho "$(date +%H:%M:%S)  upsmon notifies $NOTIFYTYPE: $1" >> "$0.log"\n')
    events = " ".join(f"NOTIFYFLAG {t} SYSLOG+EXEC\n" for t in
                      ("ONLINE", "ONBATT", "LOWBATT", "FSD", "COMMOK", "COMMBAD", "SHUTDOWN"))
    (conf / "upsmon.conf").write_text(
        f"MONITOR {UPSNAME}@127.0.0.1:{port} 1 admin demo primary\n"
        f"RUN_AS_USER {_username()}\n"
        f"SHUTDOWNCMD \"touch {root / 'SHUTDOWNCMD-ran'}\"\n"
        f"POWERDOWNFLAG {root / 'killpower'}\n"
        f"NOTIFYCMD {notify}\n" + events.replace("\n ", "\n") +
        "POLLFREQ 2\nPOLLFREQALERT 1\nHOSTSYNC 5\nFINALDELAY 2\n")
    for f in conf.iterdir():
        os.chmod(f, 0o700 if f == notify else 0o600)
    env = dict(os.environ, NUT_CONFPATH=str(conf), NUT_STATEPATH=str(state),
               NUT_ALTPIDPATH=str(state), NUT_PIDPATH=str(state))
    return env


def _username() -> str:
    import pwd
    return pwd.getpwuid(os.geteuid()).pw_name


def _user_args() -> list[str]:
    """As root, keep running as root inside the demo's private directory (NUT would switch to 'nut')."""
    return ["-u", "root"] if os.geteuid() == 0 else []


def _upsc(target: str, env: dict[str, str], var: str | None = None) -> subprocess.CompletedProcess:
    argv = [_program("upsc"), target] + ([var] if var else [])
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=10)


def run(duration: float, port: int, root: Path) -> int:
    env = _write_config(root, port)
    target = f"{UPSNAME}@127.0.0.1:{port}"
    children: list[subprocess.Popen] = []
    names: dict[int, str] = {}

    def start(argv: list[str]) -> None:
        names[len(children)] = os.path.basename(argv[0])
        print("$ " + " ".join([names[len(children)], *argv[1:]]), flush=True)
        children.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    try:
        start([_program("dummy-ups"), "-a", UPSNAME, "-F"] + _user_args())
        start([_program("upsd"), "-F"] + _user_args())
        deadline = time.monotonic() + 15
        while True:
            r = _upsc(target, env)
            if r.returncode == 0 and "ups.status: WAIT" not in r.stdout:
                break
            for n, c in enumerate(children):
                if c.poll() is not None:
                    print(f"{names[n]} exited with status {c.returncode}", file=sys.stderr)
                    return 1
            if time.monotonic() > deadline:
                print(f"upsd did not serve {target}: {r.stderr.strip()}", file=sys.stderr)
                return 1
            time.sleep(0.2)
        print(f"$ upsc {target}")
        print(r.stdout, end="", flush=True)
        print("\n$ pnut-rehearse -l 20        # what would happen, without touching anything", flush=True)
        subprocess.run([_program("pnut-rehearse"), "-l", "20"], env=env, timeout=30)
        start([_program("upsmon"), "-F"])
        print("\nWatching the live failure (the mains fail about 10 s in; Ctrl-C to stop):", flush=True)
        _watch(target, env, root, duration)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        for c in reversed(children):
            if c.poll() is None:
                c.send_signal(signal.SIGTERM)
        for c in children:
            try:
                c.wait(5)
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait(5)


def _watch(target: str, env: dict[str, str], root: Path, duration: float) -> None:
    """Print each status change, each upsmon notification, and the moment SHUTDOWNCMD ran."""
    log = root / "etc" / "notify.sh.log"
    marker = root / "SHUTDOWNCMD-ran"
    start_t = time.monotonic()
    last, seen, shut = None, 0, False
    end = start_t + duration if duration > 0 else float("inf")
    while time.monotonic() < end:
        r = _upsc(target, env, "ups.status")
        status = r.stdout.strip() if r.returncode == 0 else r.stderr.strip()
        if status != last:
            charge = _upsc(target, env, "battery.charge").stdout.strip()
            print(f"{time.strftime('%H:%M:%S')}  upsc sees ups.status: {status:<18} battery.charge: {charge}",
                  flush=True)
            last = status
        if log.exists():
            lines = log.read_text().splitlines()
            for line in lines[seen:]:
                print(line, flush=True)
            seen = len(lines)
        if marker.exists() and not shut:
            shut = True
            flag = "exists" if (root / "killpower").exists() else "missing"
            print(f"{time.strftime('%H:%M:%S')}  upsmon ran SHUTDOWNCMD: a real system would power off now "
                  f"(here it only created {marker.name}; POWERDOWNFLAG {flag})", flush=True)
            end = min(end, time.monotonic() + 3)      # the story ends with the shutdown
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    args = docopt(USAGE, argv=argv)
    try:
        duration = float(args["--duration"])
        port = int(args["--port"]) if args["--port"] else _free_port()
    except ValueError:
        print("pnut-demo: --duration and --port take numbers", file=sys.stderr)
        return 2
    if args["--dir"]:
        return run(duration, port, Path(args["--dir"]))
    with tempfile.TemporaryDirectory(prefix="pnut-demo-") as d:
        return run(duration, port, Path(d))


if __name__ == "__main__":
    sys.exit(main())
