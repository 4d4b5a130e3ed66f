"""Runs the APC Smart-UPS simulator on a pseudo-terminal, with a Unix-socket control channel.

The serial side: a pty pair whose slave path is handed to a driver as its `port` (optionally through a symlink).
The control side: one text command per line, one JSON reply per line (see apcsmart-sim(8)).
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import socketserver
import threading
import tty
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Self

from pnut.drivers.apcsmart_sim import SmartUPS
from pnut.drivers.apcsmart_sim_models import PROFILES

log = logging.getLogger("apcsmart-sim")

USAGE = """\
Simulate an APC Smart-UPS on a pseudo-terminal.

Usage:
  apcsmart-sim [options]
  apcsmart-sim -h | --help

Options:
  -m MODEL, --model=MODEL    Simulated unit: smart-ups-1500 or smart-ups-1250-old [default: smart-ups-1500]
  -l PATH, --link=PATH       Also make PATH a symbolic link to the pty slave.
  -c PATH, --control=PATH    Listen for control commands on this Unix socket.
  -t PORT, --tcp=PORT        Serve a raw TCP stream on 127.0.0.1:PORT instead of a pty (0: any free port).
  --drain=RATE               Battery charge lost per second on battery, in % [default: 0.5]
  --recharge=RATE            Battery charge gained per second on mains, in % [default: 0.2]
  -D                         Log every byte received and sent.
  -h, --help                 Show this help.
"""


class _Runner:
    """What both transports share: the unit, its lock, a background thread and a stop pipe."""

    def __init__(self, ups: SmartUPS, tick: float) -> None:
        self.ups = ups
        self.tick_interval = tick
        self.lock = threading.RLock()
        self._stop_r, self._stop_w = os.pipe()
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name="apcsmart-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(5)
            self._thread = None
        for fd in (self._stop_r, self._stop_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` under the unit's lock, then send any alerts it caused."""
        with self.lock:
            result = fn(*args)
            self._send(self.ups.tick())
        return result

    def _exchange(self, data: bytes) -> None:
        with self.lock:
            out = self.ups.feed(data) if data else self.ups.tick()
            if data:
                log.debug("rx %r", data)
            self._send(out)

    def _run(self) -> None:
        raise NotImplementedError

    def _send(self, out: bytes) -> None:
        raise NotImplementedError


class SimulatorPty(_Runner):
    """Serve a SmartUPS on a fresh pty from a background thread.  Use `call()` or `lock` to touch the unit."""

    def __init__(self, ups: SmartUPS, link: str | None = None, tick: float = 0.05) -> None:
        super().__init__(ups, tick)
        self.link = link
        self.master, self._slave = os.openpty()
        # keep our own slave descriptor: the line stays up between driver runs, and no echo until a driver
        # sets its own modes
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        if link:
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(self.path, link)

    def stop(self) -> None:
        super().stop()
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.link and os.path.islink(self.link):
            os.unlink(self.link)

    def _run(self) -> None:
        while True:
            ready, _, _ = select.select([self.master, self._stop_r], [], [], self.tick_interval)
            if self._stop_r in ready:
                return
            data = b""
            if self.master in ready:
                try:
                    data = os.read(self.master, 1024)
                except (BlockingIOError, InterruptedError):
                    data = b""
                except OSError:
                    return
            self._exchange(data)

    def _send(self, out: bytes) -> None:
        if not out:
            return
        log.debug("tx %r", out)
        try:
            os.write(self.master, out)
        except OSError as exc:      # nobody reading and the queue is full
            log.warning("pty write dropped %d bytes: %s", len(out), exc)


class SimulatorTcp(_Runner):
    """Serve a SmartUPS as a raw TCP byte stream (pyserial's socket://HOST:PORT), one client at a time.

    Like a serial cable being replugged, a new connection replaces the old one; alerts sent while nobody is
    connected are lost.
    """

    def __init__(self, ups: SmartUPS, host: str = "127.0.0.1", port: int = 0, tick: float = 0.05) -> None:
        super().__init__(ups, tick)
        self.listener = socket.create_server((host, port))
        self.address: tuple[str, int] = self.listener.getsockname()[:2]
        self.url = f"socket://{self.address[0]}:{self.address[1]}"
        self._conn: socket.socket | None = None

    def stop(self) -> None:
        super().stop()
        for s in (self._conn, self.listener):
            if s is not None:
                s.close()
        self._conn = None

    def _run(self) -> None:
        while True:
            watch: list[Any] = [self.listener, self._stop_r] + ([self._conn] if self._conn else [])
            ready, _, _ = select.select(watch, [], [], self.tick_interval)
            if self._stop_r in ready:
                return
            if self.listener in ready:
                conn, _ = self.listener.accept()
                if self._conn is not None:
                    self._conn.close()
                self._conn = conn
                continue
            data = b""
            if self._conn is not None and self._conn in ready:
                try:
                    data = self._conn.recv(1024)
                except OSError:
                    data = b""
                if not data:
                    self._conn.close()
                    self._conn = None
                    continue
            self._exchange(data)

    def _send(self, out: bytes) -> None:
        if not out or self._conn is None:
            return
        log.debug("tx %r", out)
        try:
            self._conn.sendall(out)
        except OSError as exc:
            log.warning("tcp write dropped %d bytes: %s", len(out), exc)


# ---------------------------------------------------------------------- control channel


def handle_control(sim: _Runner, line: str) -> dict[str, Any]:
    """Execute one control command; return the JSON-able reply."""
    words = line.split()
    if not words:
        return {"error": "empty command"}
    cmd, args = words[0].lower(), words[1:]
    ups = sim.ups

    def onoff(word: str) -> bool | None:
        return {"on": True, "off": False, "auto": None}[word.lower()]

    try:
        match cmd, len(args):
            case "status", 0:
                return sim.call(ups.snapshot)
            case "fail", 0 | 1:
                sim.call(ups.power_fail, *(args[:1] or ["L"]))
            case "restore", 0:
                sim.call(ups.power_restore)
            case "charge", 1:
                sim.call(ups.set_charge, float(args[0]))
            case "runtime", 1:
                sim.call(ups.set_runtime, float(args[0]))
            case "drain", 1:
                sim.call(setattr, ups, "drain_rate", float(args[0]))
            case "lb", 1:
                sim.call(ups.set_low_battery, onoff(args[0]))
            case "rb", 1:
                sim.call(ups.set_replace_battery, bool(onoff(args[0])))
            case "overload", 1:
                sim.call(ups.set_overload, bool(onoff(args[0])))
            case "eeprom", 2:
                sim.call(ups.set_eeprom, args[0], args[1])
            case "voltage", 1:
                sim.call(ups.set_input_voltage, float(args[0]))
            case "shutdowns", 0:
                with sim.lock:
                    return {"shutdowns": [_order_dict(o) for o in ups.shutdowns]}
            case "events", 0:
                with sim.lock:
                    return {"events": [asdict(e) for e in ups.events]}
            case _:
                return {"error": f"unknown command: {line.strip()}"}
    except (ValueError, KeyError) as exc:
        return {"error": f"bad argument: {exc}"}
    return {"ok": True}


def _order_dict(order: Any) -> dict[str, Any]:
    d = asdict(order)
    d["raw"] = order.raw.decode("latin-1")
    return d


def serve_control(sim: _Runner, path: str) -> socketserver.ThreadingUnixStreamServer:
    """Start the control socket in a background thread."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for raw in self.rfile:
                reply = handle_control(sim, raw.decode("utf-8", "replace"))
                self.wfile.write((json.dumps(reply) + "\n").encode())

    if os.path.exists(path):
        os.unlink(path)
    server = socketserver.ThreadingUnixStreamServer(path, Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="apcsmart-sim-control", daemon=True).start()
    return server


def control(path: str, line: str, timeout: float = 5.0) -> dict[str, Any]:
    """Client side: send one control command to a running simulator and return its reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(line.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


def main(argv: list[str] | None = None) -> int:
    from docopt import DocoptExit, docopt

    try:
        opts = docopt(USAGE, argv=argv)
    except DocoptExit as exc:
        print(exc, flush=True)
        return 1
    logging.basicConfig(level=logging.DEBUG if opts["-D"] else logging.INFO,
                        format="%(asctime)s apcsmart-sim: %(message)s")
    model = opts["--model"]
    if model not in PROFILES:
        print(f"apcsmart-sim: unknown model {model!r}; known: {', '.join(PROFILES)}", flush=True)
        return 1
    try:
        ups = SmartUPS(model, drain_rate=float(opts["--drain"]), charge_rate=float(opts["--recharge"]))
    except ValueError as exc:
        print(f"apcsmart-sim: {exc}", flush=True)
        return 1
    sim: _Runner
    try:
        if opts["--tcp"] is not None:
            sim = SimulatorTcp(ups, port=int(opts["--tcp"])).start()
        else:
            sim = SimulatorPty(ups, link=opts["--link"]).start()
    except (OSError, ValueError) as exc:
        print(f"apcsmart-sim: cannot set up the line: {exc}", flush=True)
        return 1
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    server = serve_control(sim, opts["--control"]) if opts["--control"] else None
    # the caller may act (and signal us) as soon as it reads this line
    print(sim.url if isinstance(sim, SimulatorTcp) else sim.path, flush=True)
    done.wait()
    if server is not None:
        server.shutdown()
        server.server_close()
        os.unlink(opts["--control"])
    sim.stop()
    return 0
