"""The driver core (drivers/main.c): command line, ups.conf, start-up, the poll loop, PID file, signals,
dump mode and `-k`.  A driver is a `Driver` subclass; `run(DriverClass, argv)` is its whole program.

Behaviour follows NUT 2.8.0.  A few things the 2.8.0 core lacks are implemented as later NUT releases do
them (`-c`, `-P`, `-FF`, SIGHUP reload, per-section maxstartdelay/maxretry/retrydelay); see nutupsdrv(8).
"""

from __future__ import annotations

import enum
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pnut.conf import NUT_VERSION, paths
from pnut.conf.common import (
    Fatal,
    become_user,
    get_user_pwent,
    setup_logging,
    upsdebugx,
    writepid,
)
from pnut.conf.getopt import GetOpt
from pnut.drivers.dstate import Conn, DState

log = logging.getLogger("pnut.drivers")

# upshandler.h: what instcmd/setvar handlers return (and what TRACKING replies carry)
STAT_INSTCMD_HANDLED, STAT_INSTCMD_UNKNOWN, STAT_INSTCMD_INVALID, STAT_INSTCMD_FAILED, \
    STAT_INSTCMD_CONVERSION_FAILED = range(5)
STAT_SET_HANDLED, STAT_SET_UNKNOWN, STAT_SET_INVALID, STAT_SET_FAILED, STAT_SET_CONVERSION_FAILED = range(5)

DEFAULT_POLLINTERVAL = 2


class DrvStatus(enum.IntEnum):
    BROKEN = 0x1
    EXPERIMENTAL = 0x2
    BETA = 0x4
    STABLE = 0x8
    COMPLETE = 0x10


class VarType(enum.IntFlag):
    FLAG = 0x1
    VALUE = 0x2
    SENSITIVE = 0x4        # the value is not published as driver.parameter.<name>


@dataclass
class VarEntry:
    vartype: VarType
    name: str
    desc: str
    value: str | None = None
    found: bool = False
    reloadable: bool = False


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
        self.extrafd: int | None = None  # readable fd that ends the poll wait early (NUT's extrafd)

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


OPTSTRING = "+a:s:kFBDd:hx:Lqr:u:g:Vi:c:P:"


def getopt(argv: list[str], optstring: str, prog: str) -> Iterator[tuple[str | None, Any]]:
    """(option, argument) pairs as they are parsed, then (None, operands)."""
    parser = GetOpt(prog, argv, optstring)
    yield from parser
    yield None, parser.rest


class Exit(Exception):
    """Leave main() with this status (after the message, if any, was printed)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


SIGNAL_CMDS = ("reload-or-error", "exit", "reload", "reload-or-exit")


class Core:
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

    # -- the variable table ---------------------------------------------------------------------
    def _entry(self, name: str) -> VarEntry | None:
        low = name.lower()
        return next((v for v in self.vartab if v.name.lower() == low), None)

    def getval(self, name: str) -> str | None:
        e = self._entry(name)
        return None if e is None else e.value

    def testvar(self, name: str) -> bool:
        e = self._entry(name)
        return bool(e and e.found)

    def dparam_setinfo(self, var: str, val: str | None) -> None:
        if val is not None:
            self.dstate.setinfo(f"driver.parameter.{var}", val)
        else:
            self.dstate.setinfo(f"driver.flag.{var}", "enabled")

    def storeval(self, var: str, val: str | None) -> None:
        low = var.lower()
        if low.startswith("override."):
            self.dstate.setinfo(var[9:], val or "")
            self.dstate.make_immutable(var[9:])
            return
        if low.startswith("default."):
            self.dstate.setinfo(var[8:], val or "")
            return
        e = self._entry(var)
        if e is not None:
            e.value = val
            if not e.vartype & VarType.SENSITIVE:
                self.dparam_setinfo(var, val)
            e.found = True
            return
        # NUT's message goes to stdout and the driver leaves with status 0 (sic)
        print(f"\nFatal error: '{var}' is not a valid {'variable name' if val is not None else 'flag'} "
              "for this driver.\n\nLook in the man page or call this driver with -h for a list of\n"
              "valid variable names and flags.")
        raise Exit(0)

    def main_arg(self, var: str, val: str | None) -> bool:
        """Settings the core itself consumes (-x or ups.conf section); False passes them to the driver."""
        upsdebugx(3, "main_arg: var='%s' val='%s'", var, val if val is not None else "<null>")
        if var == "nolock":
            self.do_lock_port = False
            self.dstate.setinfo("driver.flag.nolock", "enabled")
            return True
        if var == "ignorelb":
            self.dstate.setinfo("driver.flag.ignorelb", "enabled")
            return True
        if val is None:
            return False
        if var == "port":
            self.device_path = val
            self.dstate.setinfo("driver.parameter.port", val)
            return True
        if var in ("user", "group"):
            if getattr(self, f"{var}_from_cmdline"):
                upsdebugx(0, "%s '%s' specified in driver section was ignored due to '%s' specified on "
                          "command line", var.capitalize(), val, getattr(self, var))
            else:
                setattr(self, var, val)
            return True
        if var == "sddelay":
            log.info("Obsolete value sddelay found in ups.conf")
            return True
        if var == "synchronous":
            self.dstate.synchronous = _synchronous(val)
            return True
        # for upsdrvctl (maxstartdelay, maxretry, retrydelay: accepted since NUT 2.8.1) or upsd
        if var in ("sdorder", "desc", "maxstartdelay", "maxretry", "retrydelay"):
            return True
        if var == "debug_min":
            lvl = _int(val)
            if lvl is not None and lvl >= 0:
                self.debug_min_driver = lvl
            else:
                log.info("WARNING : Invalid debug_min value found in ups.conf for the driver")
            return True
        return False

    def global_arg(self, var: str, val: str | None) -> None:
        if val is None:
            return
        if var == "pollinterval":
            ipv = _atoi(val)
            if ipv <= 0:
                raise Fatal(f"Error: invalid pollinterval: {ipv}")
            self.poll_interval = ipv
        elif var == "chroot":
            self.chroot_path = val
        elif var in ("user", "group"):
            if not getattr(self, f"{var}_from_cmdline"):
                setattr(self, var, val)
        elif var == "synchronous":
            self.dstate.synchronous = _synchronous(val)
        elif var == "debug_min":
            lvl = _int(val)
            if lvl is not None and lvl >= 0:
                self.debug_min_global = lvl
            else:
                log.info("WARNING : Invalid debug_min value found in ups.conf global settings")

    def section_arg(self, section: str, var: str, val: str | None) -> None:
        if self.main_arg(var, val):
            return
        if val is None:
            self.dstate.setinfo(f"driver.flag.{var}", "enabled")
            self.storeval(var, None)
            return
        if var == "driver":
            if val != self.progname:
                raise Fatal(f"Error: UPS [{section}] is for driver {val}, but I'm {self.progname}!\n")
            return
        if var == "pollinterval":
            ipv = _atoi(val)
            if ipv <= 0:
                raise Fatal(f"Error: UPS [{section}]: invalid pollinterval: {ipv}")
            self.poll_interval = ipv
            return
        self.storeval(var, val)

    def read_upsconf(self) -> None:
        from pnut.conf.upsconf import ConfError, read_upsconf
        try:
            conf = read_upsconf()
        except ConfError as e:
            raise Fatal(str(e)) from None
        for d in conf.globals:
            self.global_arg(d.key, d.value)
        assert self.upsname is not None
        directives = conf.section(self.upsname)
        if directives is not None:
            self.upsname_found = True
            for d in directives:
                self.section_arg(self.upsname, d.key, d.value)

    # -- command line ---------------------------------------------------------------------------
    def banner(self) -> None:
        d = self.driver_cls
        print(f"Network UPS Tools - {d.name} {d.version} ({NUT_VERSION})")
        for sub, ver in d.subdrivers:
            print(f"{sub} {ver}")
        if d.status == DrvStatus.EXPERIMENTAL:
            print("Warning: This is an experimental driver.\nSome features may not function correctly.\n")

    def help_msg(self) -> None:
        print(HELP.format(prog=self.progname), end="")
        if self.vartab:
            print("Acceptable values for -x or ups.conf in this driver:\n")
            for v in self.vartab:
                tail = f"-x {v.name}=<value>" if v.vartype & VarType.VALUE else f"-x {v.name}"
                print(f"{v.desc:>40} : {tail}")
        self.driver.help()

    def list_vars(self) -> None:
        for v in self.vartab:
            kind = "VALUE" if v.vartype == VarType.VALUE else "FLAG" if v.vartype == VarType.FLAG else "UNKNOWN"
            print(f'{kind} {v.name} "{v.desc}"')

    def parse_args(self, argv: list[str]) -> None:
        for opt, arg in getopt(argv, OPTSTRING, sys.argv[0] if sys.argv and sys.argv[0] else self.progname):
            if opt is None:
                if arg:
                    raise Fatal("Error: too many non-option arguments. Try -h for help.")
                break
            if opt == "a":
                self.upsname = arg
                self.read_upsconf()
                if not self.upsname_found:
                    raise Fatal(f"Error: Section {arg} not found in ups.conf")
            elif opt == "s":
                self.upsname, self.upsname_found = arg, True
            elif opt == "F":
                # -FF (NUT >= 2.8.1): stay in the foreground and still write the PID file
                if self.background_flag == 0:
                    self.write_pid_fg = True
                self.background_flag = 0
            elif opt == "B":
                self.background_flag = 1
            elif opt == "D":
                self.debug += 1
            elif opt == "d":
                self.dump_data = _atoi(arg or "")
            elif opt == "i":
                ipv = _atoi(arg or "")
                if ipv <= 0:
                    raise Fatal(f"Error: command-line: invalid pollinterval: {ipv}")
                self.poll_interval = ipv
            elif opt == "k":
                self.do_lock_port = False
                self.forceshutdown = True
            elif opt == "L":
                self.list_vars()
                raise Exit(0)
            elif opt == "q":
                self.quiet += 1
            elif opt == "r":
                self.chroot_path = arg
            elif opt in ("u", "g"):
                attr = "user" if opt == "u" else "group"
                setattr(self, attr, arg)
                setattr(self, f"{attr}_from_cmdline", True)
            elif opt == "V":
                raise Exit(0)
            elif opt == "x":
                assert arg is not None
                var, eq, val = arg.partition("=")
                if not self.main_arg(var, val if eq else None):
                    self.storeval(var, val if eq else None)
            elif opt == "h":
                self.help_msg()
                raise Exit(0)
            elif opt == "c":
                self.signal_cmd = _signal_cmd(arg or "")
                if self.signal_cmd is None:
                    self.help_msg()
                    raise Fatal("Error: unknown argument to option -c. Try -h for help.")
            elif opt == "P":
                pid = _int(arg or "")
                if pid is None or pid < 2:
                    raise Fatal(f"Error: invalid PID number '{arg}'. Try -h for help.")
                self.signal_pid = pid
            else:
                raise Fatal("Error: unknown option -?. Try -h for help.")

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
        become_user(pw)
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
        import socket
        path = self.sockpath()
        if len(path.encode()) >= 108:
            raise Fatal(f"Can't create a unix domain socket: pathname '{path}' is too long "
                        f"({len(path.encode())}) for 'struct sockaddr_un->sun_path' on this system (108)")
        try:
            os.unlink(path)
        except OSError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o007)
        try:
            sock.bind(path)
        except OSError as e:
            raise Fatal(f"bind {path} failed: {e.strerror}") from None
        finally:
            os.umask(old)
        os.chmod(path, 0o660)
        sock.listen(16)
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

    # -- socket requests -------------------------------------------------------------------------
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

    def reload(self, strict: bool) -> bool:
        """Re-read ups.conf; apply reloadable values; True if nothing needing a restart changed."""
        if not self.upsname or self.driver_cls is None:
            return True
        from pnut.conf.upsconf import ConfError, read_upsconf
        try:
            conf = read_upsconf()
        except ConfError as e:
            log.error("%s", e)
            return False
        ok = True
        for d in conf.globals:
            if d.key == "pollinterval" and d.value and _atoi(d.value) > 0:
                self.poll_interval = _atoi(d.value)
        for d in conf.section(self.upsname) or []:
            if d.key == "pollinterval" and d.value and _atoi(d.value) > 0:
                self.poll_interval = _atoi(d.value)
                continue
            if d.key == "port" and d.value != self.device_path:
                log.warning("Can't reload non-reloadable setting 'port'; restart the driver to apply it")
                ok = False
                continue
            entry = self._entry(d.key)
            if entry is None or entry.value == d.value:
                continue
            if entry.reloadable:
                entry.value = d.value
                if not entry.vartype & VarType.SENSITIVE:
                    self.dparam_setinfo(d.key, d.value)
            else:
                log.warning("Can't reload non-reloadable setting '%s'; restart the driver to apply it", d.key)
                ok = False
        self.dstate.setinfo("driver.parameter.pollinterval", str(self.poll_interval))
        if strict and not ok:
            raise Fatal("Exiting: a changed setting requires a restart of the driver",
                        128 + signal.SIGUSR1)
        return ok

    # -- -c: talk to a running instance ----------------------------------------------------------
    def send_signal_cmd(self) -> int:
        cmd = self.signal_cmd
        setup_logging(self.progname, self.debug, stderr=True, quiet=self.quiet)
        if cmd in ("exit", "reload-or-error"):
            return self.socket_cmd(f"driver.{cmd}")
        sig = signal.SIGHUP if cmd == "reload" else signal.SIGUSR1
        pid = self.signal_pid
        if pid is None:
            from pnut.conf.common import readpid
            pid = readpid(self.pidpath())
            if pid is None:
                raise Fatal(f"Failed to signal the currently running daemon (if any): "
                            f"can't read {self.pidpath()}")
        try:
            os.kill(pid, sig)
        except OSError as e:
            raise Fatal(f"Failed to signal the currently running daemon (if any): {e.strerror}") from None
        return 0

    def socket_cmd(self, cmd: str) -> int:
        import socket
        import uuid
        tid = str(uuid.uuid4())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(15)
                s.connect(self.sockpath())
                s.sendall(f"NOBROADCAST\nINSTCMD {cmd} TRACKING {tid}\n".encode())
                buf = b""
                want = f"TRACKING {tid} ".encode()
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        raise OSError("connection closed")
                    buf += chunk
                    for line in buf.split(b"\n")[:-1]:
                        if line.startswith(want):
                            code = _int(line[len(want):].decode()) or 0
                            log.info("Request for driver to %s returned code %d", cmd[7:], code)
                            try:
                                s.sendall(b"LOGOUT\n")
                            except OSError:
                                pass
                            return code
        except OSError as e:
            log.error("Socket dialog with the other driver instance: %s", e.strerror or e)
            return 255


HELP = """
usage: {prog} (-a <id>|-s <id>) [OPTIONS]
  -a <id>        - autoconfig using ups.conf section <id>
                 - note: -x after -a overrides ups.conf settings

  -s <id>        - configure directly from cmd line arguments
                 - note: must specify all driver parameters with successive -x
                 - note: at least 'port' variable should be set
                 - note: to explore the current values on a device from an
                   unprivileged user account (with sufficient media access in
                   the OS - e.g. to query networked devices), you can specify
                   '-d 1' argument and `export NUT_STATEPATH=/tmp` beforehand

  -V             - print version, then exit
  -L             - print parseable list of driver variables
  -D             - raise debugging level (and stay foreground by default)
  -d <count>     - dump data to stdout after 'count' updates loop and exit
  -F             - stay foregrounded even if no debugging is enabled
  -B             - stay backgrounded even if debugging is bumped
  -q             - raise log level threshold
  -h             - display this help
  -k             - force shutdown
  -i <int>       - poll interval
  -r <dir>       - chroot to <dir>
  -u <user>      - switch to <user> (if started as root)
  -g <group>     - set pipe access to <group> (if started as root)
  -x <var>=<val> - set driver variable <var> to <val>
                 - example: -x cable=940-0095B

"""


def _signal_cmd(arg: str) -> str | None:
    """-c: an exact name wins; otherwise the first name it abbreviates, in NUT's order."""
    if arg in SIGNAL_CMDS:
        return arg
    if not arg:
        return None
    return next((c for c in SIGNAL_CMDS if c.startswith(arg)), None)


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


def _synchronous(val: str) -> int:
    return 1 if val == "yes" else -1 if val == "auto" else 0


def _sync_word(v: int) -> str:
    return "yes" if v == 1 else "no" if v == 0 else "auto"


def _atoi(text: str) -> int:
    from pnut.drivers.dstate import strtol
    return strtol(text)


def _int(text: str) -> int | None:
    try:
        return int(text.strip(), 10)
    except ValueError:
        return None


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
