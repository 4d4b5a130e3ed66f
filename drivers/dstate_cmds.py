"""Requests a driver answers on its socket (drivers/dstate.c sock_arg and main.c's driver.* commands):
DUMPALL, PING, INSTCMD and SET (with TRACKING), and the NUT >= 2.8.1 LOGOUT, BROADCAST, NOBROADCAST.
`CoreCommands` is the part of `Core` that does it; the socket itself is served by `DState.serve`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pnut.drivers.main_args import _int

if TYPE_CHECKING:      # pragma: no cover
    from concurrent.futures import ThreadPoolExecutor

    from pnut.drivers.dstate import Conn, DState
    from pnut.drivers.main import Driver

log = logging.getLogger("pnut.drivers")

# upshandler.h: what instcmd/setvar handlers return (and what TRACKING replies carry)
STAT_INSTCMD_HANDLED, STAT_INSTCMD_UNKNOWN, STAT_INSTCMD_INVALID, STAT_INSTCMD_FAILED, \
    STAT_INSTCMD_CONVERSION_FAILED = range(5)
STAT_SET_HANDLED, STAT_SET_UNKNOWN, STAT_SET_INVALID, STAT_SET_FAILED, STAT_SET_CONVERSION_FAILED = range(5)


class CoreCommands:
    """Socket request dispatch: the part of `Core` that reads what upsd (or anyone) sends the driver."""

    driver: Driver
    dstate: DState
    exit_flag: int
    reload_flag: int
    stopping: threading.Event
    loop: Any
    wake: Any
    worker: ThreadPoolExecutor

    if TYPE_CHECKING:      # pragma: no cover
        def reload(self, strict: bool) -> bool: ...      # CoreArgs.reload

    def sock_arg(self, conn: Conn, args: list[str]) -> Any:
        """One request line from a reader (dstate.c sock_arg): False if it is not understood, else True or
        a Future for a SET/INSTCMD running in the worker (the reader's next line waits for it, so each
        reader gets its replies in order while other readers are served)."""
        ds = self.dstate
        verb = args[0].upper()
        if verb == "DUMPALL":
            with ds.lock:
                ds.send_one(conn, ds.dumpall())
            return True
        if verb == "PING":
            # A NUT driver answers PING between two polls of its device, so one stuck on the device leaves
            # upsd unanswered and upsd declares the data stale after MAXAGE.  The answer therefore waits
            # for the worker here too, instead of coming from the socket thread while the device hangs.
            try:
                return self.worker.submit(ds.send_one, conn, "PONG\n")
            except RuntimeError:        # the worker is shutting down
                ds.send_one(conn, "PONG\n")
                return True
        # NUT >= 2.8.1 additions
        if verb == "LOGOUT":
            ds.send_one(conn, "OK Goodbye\n")
            self.loop.call_soon_threadsafe(conn.close)
            return True
        if verb == "NOBROADCAST":
            conn.broadcast = False
            return True
        if verb == "BROADCAST":
            n = _int(args[1]) if len(args) > 1 else None
            conn.broadcast = not (n is not None and n < 1)
            return True
        if len(args) < 2:
            return False
        if verb == "INSTCMD":
            n = len(args)
            cmd, param, tid = args[1], None, None
            if n == 3:
                param = args[2]
            elif n == 4 and args[2].upper() == "TRACKING":
                tid = args[3]
            elif n == 5 and args[3].upper() == "TRACKING":
                param, tid = args[2], args[4]
            elif n != 2:
                log.info("Malformed INSTCMD request")
                return False
            rc = self.core_instcmd(cmd)
            if rc is not None:
                self._track(conn, tid, rc)
            elif self.driver.instcmd is None:
                log.info("Got INSTCMD, but driver lacks a handler")
            else:
                return self._dispatch(conn, tid, self.driver.instcmd, cmd, param, STAT_INSTCMD_FAILED)
            return True
        if len(args) < 3:
            return False
        if verb == "SET":
            tid = None
            if len(args) == 5:
                if args[3].upper() != "TRACKING":
                    log.info("Got SET <var> with unsupported parameters (%s/%s)", args[3], args[4])
                    return False
                tid = args[4]
            if self.driver.setvar is None:
                log.info("Got SET, but driver lacks a handler")
            else:
                return self._dispatch(conn, tid, self.driver.setvar, args[1], args[2], STAT_SET_FAILED)
            return True
        return False

    def _track(self, conn: Conn, tid: str | None, rc: int) -> None:
        if tid is not None:
            self.dstate.send_one(conn, f"TRACKING {tid} {rc}\n")

    def _dispatch(self, conn: Conn, tid: str | None, fn: Callable[..., int], a: str, b: str | None,
                  failed: int) -> Any:
        """Run a handler in the driver's worker thread; the reader keeps being served meanwhile."""
        def call() -> None:
            try:
                rc = int(fn(a, b))
            except Exception as e:  # noqa: BLE001 -- a driver bug must not take the socket down
                log.error("handler for %s failed: %s", a, e)
                rc = failed
            self._track(conn, tid, rc)
        return self.worker.submit(call)

    def core_instcmd(self, cmd: str) -> int | None:
        """driver.* commands the core answers itself (NUT >= 2.8.1; never listed with ADDCMD)."""
        low = cmd.lower()
        if low == "driver.exit":
            log.info("Got request to exit over the socket")
            self.exit_flag = -2
            self.stopping.set()
            if self.wake is not None:
                self.loop.call_soon_threadsafe(self.wake.set)
            return STAT_INSTCMD_HANDLED
        if low in ("driver.reload", "driver.reload-or-exit"):
            self.reload_flag = 2 if low.endswith("exit") else 1
            if self.wake is not None:
                self.loop.call_soon_threadsafe(self.wake.set)
            return STAT_INSTCMD_HANDLED
        if low == "driver.reload-or-error":
            return STAT_INSTCMD_HANDLED if self.reload(strict=False) else STAT_INSTCMD_INVALID
        return None
