"""The driver core's settings (drivers/main.c): the command line, ups.conf, the -x variable table, `-h`,
`-L` and the SIGHUP/SIGUSR1 reload of ups.conf.  `CoreArgs` is the part of `Core` that does it."""

from __future__ import annotations

import enum
import logging
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pnut.conf import NUT_VERSION
from pnut.conf.common import Fatal, upsdebugx
from pnut.conf.getopt import GetOpt

if TYPE_CHECKING:      # pragma: no cover
    from pnut.drivers.dstate import DState
    from pnut.drivers.main import Driver

log = logging.getLogger("pnut.drivers")


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


class CoreArgs:
    """Settings and the variable table: the part of `Core` that reads argv and ups.conf."""

    driver_cls: type[Driver]
    driver: Driver
    progname: str
    dstate: DState
    vartab: list[VarEntry]
    upsname: str | None
    upsname_found: bool
    device_path: str | None
    poll_interval: int
    chroot_path: str | None
    user: str
    group: str
    user_from_cmdline: bool
    group_from_cmdline: bool
    background_flag: int
    debug: int
    quiet: int
    debug_min_global: int
    debug_min_driver: int
    dump_data: int
    do_lock_port: bool
    forceshutdown: bool
    signal_cmd: str | None
    signal_pid: int | None
    write_pid_fg: bool

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


def _synchronous(val: str) -> int:
    return 1 if val == "yes" else -1 if val == "auto" else 0


def _atoi(text: str) -> int:
    from pnut.drivers.dstate import strtol
    return strtol(text)


def _int(text: str) -> int | None:
    try:
        return int(text.strip(), 10)
    except ValueError:
        return None
