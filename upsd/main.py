"""upsd (server/upsd.c main): command line, configuration loading and reloading, daemon life cycle.

Network UPS Tools upsd 2.8.0 - network server for UPS data.

Usage:
  upsd [-c <command>] [-P <pid>] [-D]... [-F]... [-B] [-h] [-r <dir>] [-q]... [-u <user>] [-V] [-4 | -6]

Options:
  -c <command>  send <command> via signal to background process
                commands:
                 - reload: reread configuration files
                 - stop: stop process and exit
  -P <pid>      send the signal above to specified PID (bypassing PID file)
  -D            raise debugging level (and stay foreground by default)
  -F            stay foregrounded even if no debugging is enabled
  -FF           stay foregrounded and still save the PID file
  -B            stay backgrounded even if debugging is bumped
  -h            display this help
  -r <dir>      chroots to <dir>
  -q            raise log level threshold
  -u <user>     switch to <user> (if started as root)
  -V            display the version of this software
  -4            IPv4 only
  -6            IPv6 only

The options are parsed with NUT's getopt rules rather than docopt, because upsd answers anything it does
not understand with this help and exit status 0, which docopt cannot express.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import resource
import signal
import socket
import sys
from dataclasses import dataclass, field

from pnut.conf import NUT_VERSION, paths
from pnut.conf.common import (
    Fatal,
    background,
    become_user,
    get_user_pwent,
    sendsignalfn,
    sendsignalpid,
    set_debug_level,
    setup_logging,
    writepid,
)
from pnut.conf.getopt import GetOpt
from pnut.conf.upsconf import ConfError, read_upsconf
from pnut.conf.upsdconf import UpsdConf, env_boolean, load_upsd_conf, load_upsd_users
from pnut.upsd import sstate
from pnut.upsd.server import GaiError, Listener, Server, Settings
from pnut.upsd.sstate import Ups
from pnut.upsd.users import Users

log = logging.getLogger("pnut.upsd")

HELP = """Network server for UPS data.

usage: {prog} [OPTIONS]

  -c <command>\tsend <command> via signal to background process
\t\tcommands:
\t\t - reload: reread configuration files
\t\t - stop: stop process and exit
  -P <pid>\tsend the signal above to specified PID (bypassing PID file)
  -D\t\traise debugging level (and stay foreground by default)
  -F\t\tstay foregrounded even if no debugging is enabled
  -FF\t\tstay foregrounded and still save the PID file
  -B\t\tstay backgrounded even if debugging is bumped
  -h\t\tdisplay this help
  -r <dir>\tchroots to <dir>
  -q\t\traise log level threshold
  -u <user>\tswitch to <user> (if started as root)
  -V\t\tdisplay the version of this software
  -4\t\tIPv4 only
  -6\t\tIPv6 only
"""

DEPRECATED_LISTEN = ("Specifying a listening addresses with '-i <address>' and '-p <port>'\n"
                     "is deprecated. Use 'LISTEN <address> [<port>]' in 'upsd.conf' instead.\n"
                     "See 'man 8 upsd.conf' for more information.")


class _Help(Exception):
    pass


class Upsd:
    """The daemon: owns the Server and knows how to (re)load the three configuration files."""

    def __init__(self, family: int) -> None:
        self.family = family
        # MAXCONN defaults to the open-file limit, as sysconf(_SC_OPEN_MAX) gives NUT
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        maxconn = soft if soft != resource.RLIM_INFINITY and soft > 0 else 1024
        self.nofile_limit = maxconn
        self.settings = Settings(statepath=paths.statepath(), datapath=paths.DATADIR, maxconn=maxconn)
        self.server = Server(self.settings)
        self.conf = UpsdConf()
        self.exit_signal = 0
        self.stop_event: asyncio.Event | None = None

    # -- upsd.conf -----------------------------------------------------------------------------------
    def apply_upsd_conf(self, conf: UpsdConf, reloading: bool) -> None:
        s = self.settings
        if conf.maxage is not None:
            s.maxage = conf.maxage
        if conf.trackingdelay is not None:
            s.trackingdelay = conf.trackingdelay
            self.server.tracking.delay = conf.trackingdelay
        if conf.maxconn is not None:
            s.maxconn = conf.maxconn
        if conf.allow_no_device is not None:
            s.allow_no_device = conf.allow_no_device
        if not reloading:
            if conf.statepath is not None:
                s.statepath = conf.statepath
            if conf.datapath is not None:
                s.datapath = conf.datapath
            s.certfile = conf.certfile
            s.disable_weak_ssl = bool(conf.disable_weak_ssl)
        if conf.debug_min is not None and reloading:
            log.info("Applying debug_min=%d from upsd.conf", conf.debug_min)
            set_debug_level(conf.debug_min)
        env = os.environ.get("ALLOW_NO_DEVICE")
        if env is not None:
            b = env_boolean(env)
            if b is not None:
                s.allow_no_device = b
        limit = self.nofile_limit
        if limit < s.maxconn:
            raise Fatal(f"Your system limits the maximum number of connections to {limit}\n"
                        f"but you requested {s.maxconn}. The server won't start until this\n"
                        "problem is resolved.")
        if s.maxconn < 1:
            raise Fatal(f"You requested {s.maxconn} as maximum number of connections.\n"
                        "The server won't start until this problem is resolved.")

    # -- ups.conf ------------------------------------------------------------------------------------
    def load_ups(self, reloading: bool) -> None:
        """upsconf_add(): create new UPSes, update changed ones, delete vanished ones on reload."""
        try:
            upsconf = read_upsconf()
        except ConfError as e:
            raise Fatal(str(e)) from None
        srv = self.server
        # NUT collects the sections into a list it builds backwards, then prepends each new UPS to its
        # table: a fresh start lists the UPSes in file order, and a reload puts new ones in front.
        table = [(name, ds) for name, ds in upsconf.sections.items() if ds]
        if not table:
            log.warning("Warning: no UPS definitions in ups.conf")
        seen: set[str] = set()
        for name, directives in reversed(table):
            driver = port = desc = None
            for d in directives:
                if d.value is None:
                    continue
                if d.key == "driver":
                    driver = d.value
                elif d.key == "port":
                    port = d.value
                elif d.key == "desc":
                    desc = d.value
            if driver is None or port is None:
                log.warning("Warning: ignoring incomplete configuration for UPS [%s]", name)
                continue
            fn = f"{driver}-{name}"
            existing = srv.get_ups(name)
            if reloading and existing is not None:
                seen.add(existing.name.lower())
                if existing.fn != fn:
                    log.info("Redefined UPS [%s]", name)
                    sstate.disconnect(existing)
                    existing.fn = fn
                existing.desc = desc
                continue
            if existing is not None:
                log.error("UPS name [%s] is already in use!", name)
                continue
            seen.add(name.lower())
            ups = Ups(name=name, fn=fn, desc=desc)
            srv.ups_by_name[name.lower()] = ups
            srv.ups_list.insert(0, ups)
        if reloading:
            for ups in [u for u in srv.ups_list if u.name.lower() not in seen]:
                log.info("Deleting UPS [%s]", ups.name)
                for c in list(srv.clients):
                    if c.loginups is not None and c.loginups.lower() == ups.name.lower():
                        log.info("Kicking client %s (was on UPS [%s])", c.addr, ups.name)
                        c.loginups = None
                        c.disconnect()
                for w in list(ups.watchers):
                    w.disconnect()          # a WATCH on a UPS that is gone: let it find out
                sstate.disconnect(ups)
                srv.ups_list.remove(ups)
                del srv.ups_by_name[ups.name.lower()]

    def load_users(self, reloading: bool) -> None:
        path = paths.conffile("upsd.users")
        try:
            self.server.users = Users(load_upsd_users(path))
        except OSError as e:
            if reloading:
                log.error("Reload failed: can't open %s: %s", path, e.strerror)
                return
            raise Fatal(f"Can't open {path}: {e.strerror}") from None

    def reload(self) -> None:
        """conf_reload(): on SIGHUP; connected clients stay, their rights are re-read."""
        log.info("SIGHUP: reloading configuration")
        path = paths.conffile("upsd.conf")
        try:
            conf = load_upsd_conf(path)
        except OSError as e:
            log.error("Reload failed: can't open %s: %s", path, e.strerror)
            return
        self.load_ups(reloading=True)
        self.apply_upsd_conf(conf, reloading=True)
        if not self.server.ups_list:
            log.warning("Warning: no UPSes currently defined!")
        self.load_users(reloading=True)

    # -- start-up ------------------------------------------------------------------------------------
    def load_startup(self) -> None:
        path = paths.conffile("upsd.conf")
        check_perms(path)
        try:
            self.conf = load_upsd_conf(path)
        except OSError as e:
            if not os.path.exists(path):
                raise Fatal(f"stat {path}: {e.strerror}") from None
            raise Fatal(f"Can't open {path}: {e.strerror}") from None
        self.apply_upsd_conf(self.conf, reloading=False)
        if self.conf.debug_min is not None:
            from pnut.conf.common import debug_level
            if self.conf.debug_min > debug_level():
                set_debug_level(self.conf.debug_min)
        listen = self.conf.listen
        if not listen:
            if self.family != socket.AF_INET:
                listen.append(("::1", "3493"))
            if self.family != socket.AF_INET6:
                listen.append(("127.0.0.1", "3493"))
        self.server.listeners = [Listener(a, p) for a, p in listen]

    def load_rest(self) -> None:
        statepath = self.settings.statepath
        try:
            os.chdir(statepath)
        except OSError as e:
            raise Fatal(f"Can't chdir to {statepath}: {e.strerror}") from None
        check_perms(statepath)
        self.load_ups(reloading=False)
        if not self.server.ups_list:
            if self.settings.allow_no_device:
                log.warning("Normally at least one UPS must be defined in ups.conf, currently there are "
                            "none (please configure the file and reload the service)")
            else:
                raise Fatal("Fatal error: at least one UPS must be defined in ups.conf")
        self.server.desc.load(self.settings.datapath)
        users_path = paths.conffile("upsd.users")
        check_perms(users_path)
        if not os.path.exists(users_path):
            raise Fatal(f"stat {users_path}: No such file or directory")
        self.load_users(reloading=False)

    def init_ssl(self) -> None:
        s = self.settings
        if not s.certfile:
            return
        from pnut.upsd.tls import make_context
        self.server.ssl_ctx = make_context(s.certfile, s.disable_weak_ssl)
        if self.server.ssl_ctx is not None and not s.disable_weak_ssl:
            log.warning("Warning: DISABLE_WEAK_SSL is not enabled. Please consider enabling to ensure "
                        "that only strong encryption is used!")

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        # NUT connects to every driver while it starts, before the first client is served
        srv = self.server
        for ups in srv.ups_list:
            ups.connecting = True
        await asyncio.gather(*(sstate.connect(u, self.settings.statepath, srv.tracking) for u in srv.ups_list))
        await self.server.serve()
        gc.collect()
        gc.freeze()             # start-up objects live for good: keep them out of every later collection
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            loop.add_signal_handler(sig, self._on_exit, sig)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)
        self.server.start_ticking()
        await self.stop_event.wait()
        self.server.close()

    def _on_exit(self, sig: int) -> None:
        self.exit_signal = sig
        assert self.stop_event is not None
        self.stop_event.set()

    def _on_hup(self) -> None:
        try:
            self.reload()
        except Fatal as e:
            log.error("%s", e.message)
            self.exit_signal = -1
            assert self.stop_event is not None
            self.stop_event.set()


def _raise_nofile() -> None:
    """Lift the soft open-file limit to the hard one, so the event loop's own descriptors never cost a
    client its slot (MAXCONN still defaults to the limit the process was started with)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass


def check_perms(path: str) -> None:
    try:
        st = os.stat(path)
    except OSError:
        return
    if st.st_mode & 0o004:
        log.warning("%s is world readable", path)


@dataclass
class Options:
    """upsd's command line."""

    cmd: int | None = None          # -c: the signal to send to a running upsd
    pid: int | None = None          # -P
    debug: int = 0
    fg: int = -1                    # -1 unset, 0 background (-B), 1 foreground (-F), 2 foreground + PID file
    chroot: str | None = None
    quiet: int = 0
    user: str = paths.RUN_AS_USER
    family: int = socket.AF_UNSPEC
    rest: list[str] = field(default_factory=list)


def _parse_args(argv: list[str]) -> Options:
    opts = Options()
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "upsd"
    parser = GetOpt(argv0, argv, "+h46p:qr:i:fu:Vc:P:DFB")
    for opt, val in parser:
        if opt in ("p", "i"):
            raise Fatal(DEPRECATED_LISTEN)
        if opt == "q":
            opts.quiet += 1
        elif opt == "r":
            opts.chroot = val
        elif opt == "u" and val is not None:
            opts.user = val
        elif opt == "V":
            raise SystemExit(0)
        elif opt == "c" and val:
            if "reload".startswith(val):
                opts.cmd = signal.SIGHUP
            elif "stop".startswith(val):
                opts.cmd = signal.SIGTERM
            else:
                raise _Help()
        elif opt == "P" and val is not None:
            try:
                opts.pid = int(val)
            except ValueError:
                raise _Help() from None
            if opts.pid < 0:
                raise _Help()
        elif opt == "D":
            opts.debug += 1
        elif opt == "F":
            opts.fg = 2 if opts.fg > 0 else 1
        elif opt == "B":
            opts.fg = 0
        elif opt == "4":
            opts.family = socket.AF_INET
        elif opt == "6":
            opts.family = socket.AF_INET6
        else:       # -h, a bad option, an empty -c, and -f, which NUT lists but never handles
            raise _Help()
    opts.rest = parser.rest
    return opts


# upsd's lazily imported modules (see conf.common.become_user)
UPSD_PRELOAD = ("pnut.upsd.net_get", "pnut.upsd.net_instcmd", "pnut.upsd.net_list", "pnut.upsd.net_misc",
                "pnut.upsd.net_set", "pnut.upsd.net_user", "pnut.upsd.net_watch", "pnut.upsd.tls",
                "pnut.upsd.tracking", "pnut.conf.upsdconf", "pnut.conf.upsconf")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "upsd"
    if prog.endswith(".py") or prog in ("-c", "__main__.py"):
        prog = "upsd"
    # stdout stays buffered as C's stdio is, so the banner lands where NUT's does when both streams share a pipe
    print(f"Network UPS Tools {prog} {NUT_VERSION}")
    logging.raiseExceptions = False         # a broken log sink must never print a traceback
    setup_logging(prog, 0, stderr=True, syslog=False)
    pidfn = os.path.join(paths.altpidpath(), f"{prog}.pid")
    try:
        return _main(argv, prog, pidfn)
    except _Help:
        print(HELP.format(prog=prog), end="")
        return 0
    except SystemExit as e:
        return int(e.code or 0)
    except Fatal as e:
        log.critical("%s", e.message)
        return e.status
    except GaiError as e:
        log.critical("getaddrinfo: %s", e)
        return 1
    except KeyboardInterrupt:
        return 0
    except Exception as e:       # a bug must not put a traceback in front of the user: say it, and exit
        from pnut.conf.common import debug_level
        log.critical("Fatal error: %s: %s", type(e).__name__, e, exc_info=debug_level() > 0)
        return 1


def _main(argv: list[str], prog: str, pidfn: str) -> int:
    opts = _parse_args(argv)
    fg = opts.fg
    if fg < 0:
        fg = 1 if opts.debug > 0 else 0
    # syslog only where a syslog socket exists (containers often have none)
    setup_logging(prog, opts.debug, stderr=True, syslog=os.path.exists("/dev/log"), quiet=opts.quiet)
    if opts.cmd is not None:
        ret = sendsignalfn(pidfn, opts.cmd) if opts.pid is None else sendsignalpid(opts.pid, opts.cmd)
        return 0 if ret == 0 else 1
    ret = sendsignalfn(pidfn, 0) if opts.pid is None else sendsignalpid(opts.pid, 0)
    if ret == 0:
        print("Fatal error: A previous upsd instance is already running!")
        print("Either stop the previous instance first, or use the 'reload' command.")
        return 1
    if ret in (-3, -2):
        log.warning("Could not %s PID file '%s' to see if previous upsd instance is already running!\n",
                    "find" if ret == -3 else "parse", pidfn)
    if opts.rest:
        raise _Help()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    pw = get_user_pwent(opts.user)
    if opts.chroot:
        try:
            os.chroot(opts.chroot)
            os.chdir("/")
        except OSError as e:
            raise Fatal(f"chroot({opts.chroot}): {e.strerror}") from None
    daemon = Upsd(opts.family)
    _raise_nofile()
    daemon.load_startup()
    daemon.server.bind(opts.family)
    become_user(pw, UPSD_PRELOAD)
    daemon.load_rest()
    if not fg:
        sys.stdout.flush()      # the parent shows the banner; the child's copy goes to /dev/null
        sys.stderr.flush()
        background(prog)
        writepid(pidfn)
    elif fg == 2:
        log.warning("Running as foreground process, but saving a PID file anyway")
        writepid(pidfn)
    else:
        log.warning("Running as foreground process, not saving a PID file")
    daemon.init_ssl()
    try:
        asyncio.run(daemon.run())
    finally:
        if fg != 1:
            try:
                os.unlink(pidfn)
            except OSError:
                pass
    if daemon.exit_signal > 0:
        log.info("Signal %d: exiting", daemon.exit_signal)
        return 0
    return 0 if daemon.exit_signal == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
