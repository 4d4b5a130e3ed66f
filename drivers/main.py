"""The driver core (drivers/main.c): start-up, the poll loop, PID file, signals, dump mode and `-k`.
A driver is a `Driver` subclass; `run(DriverClass, argv)` is its whole program.

`Core` is assembled from NUT's seams: `main_args.CoreArgs` (command line, ups.conf, -x variables, reload),
`dstate_cmds.CoreCommands` (requests on the socket) and this module (running); `-c` talks to a running
instance through `upsdrvquery`.  Drivers import everything they need from here.

Behaviour follows NUT 2.8.0.  A few things the 2.8.0 core lacks are implemented as later NUT releases do
them (`-c`, `-P`, `-FF`, SIGHUP reload, per-section maxstartdelay/maxretry/retrydelay); see nutupsdrv(8).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from pnut.conf import NUT_VERSION, paths
from pnut.conf.common import (
    Fatal,
    become_user,
    debug_level,
    get_user_pwent,
    setup_logging,
    unix_listener,
    upsdebugx,
    writepid,
)
from pnut.drivers.dstate import DState
from pnut.drivers.dstate_cmds import (  # noqa: F401 -- re-exported for drivers
    STAT_INSTCMD_CONVERSION_FAILED,
    STAT_INSTCMD_FAILED,
    STAT_INSTCMD_HANDLED,
    STAT_INSTCMD_INVALID,
    STAT_INSTCMD_UNKNOWN,
    STAT_SET_CONVERSION_FAILED,
    STAT_SET_FAILED,
    STAT_SET_HANDLED,
    STAT_SET_INVALID,
    STAT_SET_UNKNOWN,
    CoreCommands,
)
from pnut.drivers.main_args import (  # noqa: F401 -- re-exported for drivers and tests
    OPTSTRING,
    CoreArgs,
    DrvStatus,
    Exit,
    VarEntry,
    VarType,
    getopt,
)

log = logging.getLogger("pnut.drivers")

DEFAULT_POLLINTERVAL = 2


class DeviceError(Exception):
    """Raised by a driver callback when the device does not answer; the core marks the data stale and
    calls `reconnect()` on the following polls."""


class Driver:
    """Base class of every driver.  Its methods are NUT's upsdrv_* callbacks; the core calls them, always
    from one worker thread, never two at once.  Publish data through `self.dstate` (a `DState`)."""

    progname = "generic"                 # program name, as in ups.conf `driver =`
    name = "Generic driver"              # upsdrv_info.name, shown in the banner
    version = "0.00"                     # upsdrv_info.version -> driver.version.internal
    authors = ""
    status = DrvStatus.STABLE
    subdrivers: tuple[tuple[str, str], ...] = ()

    def __init__(self, core: Core) -> None:
        self.core = core
        self.dstate: DState = core.dstate
        self.extrafd: int | None = None  # NUT's extrafd: readable data ends the poll wait; see set_extrafd()

    # -- helpers for drivers -------------------------------------------------------------------
    def addvar(self, vartype: VarType, name: str, desc: str, reloadable: bool = False) -> None:
        self.core.vartab.append(VarEntry(vartype, name, desc, reloadable=reloadable))

    def getval(self, name: str) -> str | None:
        return self.core.getval(name)

    def testvar(self, name: str) -> bool:
        return self.core.testvar(name)

    def sleep(self, seconds: float) -> bool:
        """Pause inside a callback without blocking shutdown: False if the driver is stopping."""
        return not self.core.stopping.wait(seconds)

    def set_extrafd(self, fd: int | None) -> None:
        """Make `fd` the descriptor whose readability ends the poll wait early (None: none), e.g. after
        the port was reopened.  Safe from any callback, before or while the core's loop runs."""
        self.core.set_extrafd(fd)

    def set_poll_interval(self, seconds: int) -> None:
        """Change the time between two updateinfo() calls (NUT drivers assign `poll_interval`); it takes
        effect from the next poll on."""
        self.core.poll_interval = seconds

    @property
    def device_path(self) -> str:
        return self.core.device_path or ""

    @property
    def upsname(self) -> str:
        return self.core.upsname or ""

    @property
    def poll_interval(self) -> int:
        return self.core.poll_interval

    # -- the callbacks ---------------------------------------------------------------------------
    def makevartable(self) -> None:
        """Declare -x / ups.conf settings with addvar()."""

    def help(self) -> None:
        """Extra text after the generic -h output."""

    def initups(self) -> None:
        """Open the device; raise Fatal if it is not there."""

    def initinfo(self) -> None:
        """First data, commands, handlers."""

    def updateinfo(self) -> None:
        """One poll of the device."""

    def shutdown(self) -> None:
        """Kill power (`-k`); must not block forever."""
        raise Fatal("shutdown not supported")

    def cleanup(self) -> None:
        """Release the device at exit."""

    def reconnect(self) -> bool:
        """Try to get the device back after a DeviceError; the default re-runs initups().

        The core calls updateinfo() right after a successful reconnect, unless this returns True to say
        that it already polled the device and published fresh data this round."""
        self.cleanup()
        self.initups()
        return False

    # Handlers: `None` means "no handler", as a NULL upsh.instcmd / upsh.setvar in NUT.
    instcmd: Callable[[str, str | None], int] | None = None
    setvar: Callable[[str, str], int] | None = None


class Core(CoreArgs, CoreCommands):
    """Everything main.c keeps in globals, for one driver instance."""

    def __init__(self, driver_cls: type[Driver]) -> None:
        self.driver_cls = driver_cls
        self.progname = driver_cls.progname
        self.dstate = DState()
        self.vartab: list[VarEntry] = []
        self.upsname: str | None = None
        self.upsname_found = False
        self.device_path: str | None = None
        self.poll_interval = DEFAULT_POLLINTERVAL
        self.chroot_path: str | None = None
        self.user = paths.RUN_AS_USER
        self.group = paths.RUN_AS_GROUP
        self.user_from_cmdline = self.group_from_cmdline = False
        self.background_flag = -1
        self.debug = 0
        self.quiet = 0
        self.debug_min_global = -1
        self.debug_min_driver = -1
        self.dump_data = 0
        self.do_lock_port = True
        self.forceshutdown = False
        self.signal_cmd: str | None = None
        self.signal_pid: int | None = None
        self.write_pid_fg = False
        self.pidfn: str | None = None
        self.exit_flag = 0
        self.reload_flag = 0
        self.stopping = threading.Event()      # set with exit_flag, wakes Driver.sleep()
        self.driver: Driver = driver_cls(self)

    # -- running --------------------------------------------------------------------------------
    def sockpath(self) -> str:
        return os.path.join(paths.statepath(), f"{self.progname}-{self.upsname}")

    def pidpath(self) -> str:
        return os.path.join(paths.altpidpath(), f"{self.progname}-{self.upsname}.pid")

    def start(self, argv: list[str]) -> int:
        self.banner()
        self.driver.makevartable()
        self.parse_args(argv)
        if self.debug > 0 or self.dump_data:
            self.background_flag = max(self.background_flag, 0)
        if not self.upsname_found:
            raise Fatal("Error: specifying '-a id' or '-s id' is now mandatory. Try -h for help.")
        if self.signal_cmd is not None:
            return self.send_signal_cmd()
        if not self.device_path:
            raise Fatal("Error: you must specify a port name in ups.conf or in '-x port=...' argument.\n"
                        "Try -h for help.")
        conf_min = self.debug_min_driver if self.debug_min_driver >= 0 else self.debug_min_global
        self.debug = max(self.debug, conf_min)
        setup_logging(self.progname, self.debug, stderr=True, quiet=self.quiet)
        upsdebugx(1, "debug level is '%d'", self.debug)

        pw = get_user_pwent(self.user)
        if self.chroot_path:
            try:
                os.chroot(self.chroot_path)
                os.chdir("/")
            except OSError as e:
                raise Fatal(f"chroot({self.chroot_path}): {e.strerror}") from None
        become_user(pw, DRIVER_PRELOAD)
        if not self.forceshutdown and not self.dump_data:
            try:
                os.chdir(paths.statepath())
            except OSError as e:
                raise Fatal(f"Can't chdir to {paths.statepath()}: {e.strerror}") from None

        if not self.forceshutdown and not self.dump_data:
            self.early_signals()
        if (self.background_flag != 0 or self.write_pid_fg) and not self.forceshutdown:
            self.kill_duplicate()
            if not self.dump_data:
                self.pidfn = self.pidpath()
                writepid(self.pidfn)
        try:
            return self.run_driver()
        finally:
            if self.pidfn:
                try:
                    os.unlink(self.pidfn)
                except OSError:
                    pass

    def early_signals(self) -> None:
        """Until the event loop takes over: remember stop and reload requests instead of dying of them."""
        def stop(sig: int, _frame: object) -> None:
            self.exit_flag = sig
            self.stopping.set()

        def reload(sig: int, _frame: object) -> None:
            self.reload_flag = 2 if sig == signal.SIGUSR1 else 1

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, stop)
        signal.signal(signal.SIGHUP, reload)
        signal.signal(signal.SIGUSR1, reload)

    def kill_duplicate(self) -> None:
        """An instance already named by the PID file is asked to leave (SIGTERM, 5 s, three times)."""
        fn = self.pidpath()
        for _ in range(3):
            if not os.path.exists(fn):
                break
            try:
                with open(fn) as f:
                    pid = int(f.readline().strip() or "0")
                if pid < 2 or pid == os.getpid():
                    break
                os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError):
                break
            log.warning("Duplicate driver instance detected (PID file %s exists)! Terminating other driver!", fn)
            for _ in range(50):        # NUT sleeps 5 s; stop early once the other one is gone
                time.sleep(0.1)
                try:
                    os.kill(pid, 0)
                except OSError:
                    break

    def run_driver(self) -> int:
        d, ds = self.driver, self.dstate
        ds.setinfo("device.type", "ups")
        d.initups()
        try:
            if self.driver_cls.status == DrvStatus.BROKEN:
                raise Fatal("Fatal error: broken driver. It probably needs to be converted.\n")
            if self.forceshutdown:
                log.info("Initiating UPS shutdown")
                d.shutdown()
                return 0
            ds.setinfo("driver.version", NUT_VERSION)
            ds.setinfo("driver.version.internal", self.driver_cls.version)
            ds.setinfo("driver.name", self.progname)
            d.initinfo()
            self.safe_update()
            if ds.getinfo("driver.flag.ignorelb") is not None:
                self.check_ignorelb()
            listener = None
            if not self.dump_data:
                listener = self.open_socket()
            ds.setinfo("driver.parameter.pollinterval", str(self.poll_interval))
            ds.setinfo("driver.parameter.synchronous", _sync_word(ds.synchronous))
            for part in ("mfr", "model", "serial"):
                value = ds.getinfo(f"ups.{part}")
                if value is not None:
                    ds.setinfo(f"device.{part}", value)     # NUT copies the stored (escaped) text
            if self.dump_data:
                return self.dump_loop()
            if self.background_flag != 0:
                from pnut.conf.common import background
                sys.stdout.flush()
                sys.stderr.flush()
                background(self.progname)
                if self.pidfn:
                    writepid(self.pidfn)
            assert listener is not None
            return self.serve(listener)
        finally:
            try:
                d.cleanup()
            finally:
                ds.close()

    def check_ignorelb(self) -> None:
        ds, found = self.dstate, 0
        for var in ("battery.charge", "battery.runtime"):
            if ds.getinfo(var) is not None and ds.getinfo(var + ".low") is not None:
                log.info("using '%s' to set battery low state", var)
                found += 1
        if not found:
            raise Fatal("The 'ignorelb' flag is set, but there is no way to determine the\n"
                        "battery state of charge.\n\n"
                        "Only set this flag if both 'battery.charge' and 'battery.charge.low'\n"
                        "and/or 'battery.runtime' and 'battery.runtime.low' are available.\n")

    def open_socket(self) -> Any:
        path = self.sockpath()
        if len(path.encode()) >= 108:
            raise Fatal(f"Can't create a unix domain socket: pathname '{path}' is too long "
                        f"({len(path.encode())}) for 'struct sockaddr_un->sun_path' on this system (108)")
        sock = unix_listener(path, 16)
        self.dstate.sockfn = path
        upsdebugx(2, "dstate_init: sock %s open on fd %d", path, sock.fileno())
        if (self.group != paths.RUN_AS_GROUP or self.user != paths.RUN_AS_USER) and os.geteuid() == 0:
            from pnut.conf.common import group_gid
            gid = group_gid(self.group)
            if gid is not None:
                try:
                    os.chown(path, -1, gid)
                except OSError:
                    pass
        return sock

    # -- polling ---------------------------------------------------------------------------------
    last_error: str | None = None
    wake: Any = None
    loop: Any = None
    watched_fd: int | None = None          # the extrafd the loop watches right now

    def set_extrafd(self, fd: int | None) -> None:
        self.driver.extrafd = fd
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._watch, fd)

    def _watch(self, fd: int | None) -> None:
        """Loop thread: move the watch to `fd`.  Always unregisters and registers again, since a reopened
        port may get the number of the descriptor it replaces."""
        loop = self.loop
        if self.watched_fd is not None:
            try:
                loop.remove_reader(self.watched_fd)
            except (OSError, ValueError):
                pass
            self.watched_fd = None
        if fd is not None and not self.exit_flag:
            try:
                loop.add_reader(fd, self.wake.set)
                self.watched_fd = fd
            except (OSError, ValueError) as e:
                log.warning("cannot watch descriptor %d: %s", fd, e)

    def safe_update(self) -> None:
        """One updateinfo(); a DeviceError marks the data stale, later polls try to reconnect."""
        d = self.driver
        try:
            refreshed = False
            if self.last_error is not None:
                refreshed = bool(d.reconnect())
                log.info("Reconnected to the device")
                self.last_error = None
            if not refreshed:
                d.updateinfo()
        except DeviceError as e:
            if self.last_error is None:
                log.warning("Lost communication with the device: %s", e)
            self.last_error = str(e)
            self.dstate.datastale()

    def dump_loop(self) -> int:
        count = 0
        while True:
            self.safe_update()
            if count == self.dump_data:
                write_latin1(sys.stdout, "".join(self.dstate.dump_lines()))
                return 0
            count += 1

    def serve(self, listener: Any) -> int:
        import asyncio
        asyncio.run(self._serve(listener))
        if self.exit_flag > 0:
            log.info("Signal %d: exiting", self.exit_flag)
        return self.exit_status if self.exit_flag == -1 else 0

    exit_status = 1

    async def _serve(self, listener: Any) -> None:
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        loop = asyncio.get_running_loop()
        self.loop = loop
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upsdrv")
        self.wake = asyncio.Event()

        def on_exit(sig: int) -> None:
            self.exit_flag = sig
            self.stopping.set()
            self.wake.set()

        def on_reload(kind: int) -> None:
            self.reload_flag = kind
            self.wake.set()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            loop.add_signal_handler(sig, on_exit, int(sig))
        loop.add_signal_handler(signal.SIGHUP, on_reload, 1)
        loop.add_signal_handler(signal.SIGUSR1, on_reload, 2)
        server = await self.dstate.serve(listener, self.sock_arg)
        self._watch(self.driver.extrafd)
        try:
            while not self.exit_flag:
                deadline = loop.time() + self.poll_interval
                await loop.run_in_executor(self.worker, self.safe_update)
                while not self.exit_flag and not self.reload_flag:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    self.wake.clear()
                    try:
                        await asyncio.wait_for(self.wake.wait(), remaining)
                    except TimeoutError:
                        break
                    if self.watched_fd is not None and not self.exit_flag and not self.reload_flag:
                        break          # the device has something to say: poll at once
                if self.reload_flag and not self.exit_flag:
                    strict, self.reload_flag = self.reload_flag == 2, 0
                    try:
                        await loop.run_in_executor(self.worker, self.reload, strict)
                    except Fatal as e:
                        log.error("%s", e.message)
                        self.exit_flag, self.exit_status = -1, e.status
        finally:
            self._watch(None)
            server.close()
            self.worker.shutdown(wait=False, cancel_futures=True)

    # -- -c: talk to a running instance ----------------------------------------------------------
    def send_signal_cmd(self) -> int:
        from pnut.drivers.upsdrvquery import send_signal_cmd
        setup_logging(self.progname, self.debug, stderr=True, quiet=self.quiet)
        assert self.signal_cmd is not None
        return send_signal_cmd(self.signal_cmd, self.sockpath(), self.pidpath(), self.signal_pid)


def write_latin1(stream: Any, text: str) -> None:
    """Write the text as the bytes it stands for: values hold one code point per byte (Latin-1), as the
    socket sends them, so that a dump gives back NUT's bytes rather than their UTF-8 spelling."""
    stream.flush()
    raw = getattr(stream, "buffer", None)
    if raw is None:                 # a text-only stream (a test's StringIO): nothing better to do
        stream.write(text)
    else:
        raw.write(text.encode("latin-1", "replace"))
        raw.flush()


def _sync_word(v: int) -> str:
    return "yes" if v == 1 else "no" if v == 0 else "auto"


# The core's and the transports' lazily imported modules (see conf.common.become_user).
DRIVER_PRELOAD = ("pnut.drivers.dstate", "pnut.drivers.dstate_cmds", "pnut.drivers.upsdrvquery",
                  "pnut.libupsclient", "pnut.libupsclient.client", "serial", "serial.rfc2217",
                  "serial.urlhandler.protocol_rfc2217", "serial.urlhandler.protocol_socket",
                  "serial.urlhandler.protocol_loop", "termios", "fcntl")


def run(driver_cls: type[Driver], argv: list[str] | None = None) -> int:
    """The whole driver program: what a driver's console-script main() calls."""
    argv = sys.argv[1:] if argv is None else argv
    setup_logging(driver_cls.progname, 0, stderr=True)
    try:
        core = Core(driver_cls)
        return core.start(argv)
    except Exit as e:
        return e.status
    except Fatal as e:
        print(e.message, file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        return 0
    except Exception as e:       # a bug must not put a traceback in front of the user: say it, and exit
        log.critical("Fatal error: %s: %s", type(e).__name__, e, exc_info=debug_level() > 0)
        return 1
