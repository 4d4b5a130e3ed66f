"""upsc: show a UPS's variables, the UPSes a server knows, or the clients of a UPS (NUT's clients/upsc.c).

Usage:
  upsc (-l | -L) [<host>]
  upsc -c <ups>
  upsc <ups> [<variable>]
  upsc -h | -V

Options:
  -l   list the UPS names on <host>[:port] (default localhost)
  -L   list the UPS names with their descriptions
  -c   list the clients connected to <ups>
  -h   show NUT's help text
  -V   show the version
"""

from __future__ import annotations

import sys

from pnut.clients import cli
from pnut.clients.cli import VERSION, Exit, getopt, nut_list, progname, run_main

HELP = """\
Network UPS Tools upsc {version}

usage: {prog} -l | -L [<hostname>[:port]]
       {prog} <ups> [<variable>]
       {prog} -c <ups>

Demo program to display UPS variables.

First form (lists UPSes):
  -l         - lists each UPS on <hostname>, one per line.
  -L         - lists each UPS followed by its description (from ups.conf).
               Default hostname: localhost

Second form (lists variables and values):
  <ups>      - upsd server, <upsname>[@<hostname>[:<port>]] form
  <variable> - optional, display this variable only.
               Default: list all variables for <host>

Third form (lists clients connected to a device):
  -c         - lists each client connected on <ups>, one per line.
  <ups>      - upsd server, <upsname>[@<hostname>[:<port>]] form
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return run_main(lambda: _upsc(args), argv is None)


def _too_old_or(exc: Exception, old: str) -> Exit:
    from pnut.libupsclient import errors
    if isinstance(exc, errors.UnknownCommand):
        return Exit(old)
    return Exit(f"Error: {exc}")


def _upsc(argv: list[str]) -> int:
    prog = progname()
    opts, args = getopt(argv, "hlLcV", sys.argv[0])
    varlist = verbose = clientlist = False
    for opt, _ in opts:
        if opt in "lL":
            varlist = True
            verbose = verbose or opt == "L"
        elif opt == "c":
            clientlist = True
        elif opt == "V":
            raise Exit(f"Network UPS Tools upscmd {VERSION}", 0)     # sic: NUT 2.8.0 says upscmd here
        else:
            sys.stdout.write(HELP.format(version=VERSION, prog=prog))
            return 0

    from pnut.libupsclient import core, errors
    from pnut.libupsclient.client import UpsClient

    upsname = ""
    try:
        if varlist:
            host, port = core.splitaddr(args[0] if args else "localhost")
        else:
            upsname, host, port = core.splitname(args[0] if args else None)
    except core.BadAddress as bad:
        if str(bad):
            sys.stderr.write(f"{bad}\n")
        if varlist:
            raise Exit("Error: invalid hostname.\nRequired format: [hostname[:port]]") from None
        raise Exit("Error: invalid UPS definition.\nRequired format: upsname[@hostname[:port]]") from None

    cli.upslogx_to_stderr()
    try:
        ups = UpsClient(host, port, tryssl=True)
    except errors.UpsClientError as exc:
        raise Exit(f"Error: {exc}") from None
    out = sys.stdout
    too_old = "Error: upsd is too old to support this query"
    try:
        if varlist:
            for w in nut_list(ups, "UPS"):
                if len(w) < 3:
                    raise Exit(f"Error: insufficient data (got {len(w)} args, need at least 3)")
                out.write(f"{w[1]}: {w[2]}\n" if verbose else f"{w[1]}\n")
        elif clientlist:
            for w in nut_list(ups, "CLIENT", upsname):
                if len(w) < 3:
                    raise Exit(f"Error: insufficient data (got {len(w)} args, need at least 3)")
                out.write(f"{w[2]}\n")
        elif len(args) > 1:
            var = args[1]
            if "." not in var:
                raise Exit("Error: old-style variable names are not supported")
            try:
                w = ups.get("VAR", upsname, var)
            except errors.UpsClientError as exc:
                raise _too_old_or(exc, "Error: variable unknown (old upsd detected)") from None
            out.write(f"{w[3] if len(w) > 3 else '(null)'}\n")     # glibc prints a NULL %s so
        else:
            for w in nut_list(ups, "VAR", upsname):
                if len(w) < 4:
                    raise Exit(f"Error: insufficient data (got {len(w)} args, need at least 4)")
                out.write(f"{w[2]}: {w[3]}\n")
    except errors.UpsClientError as exc:
        raise _too_old_or(exc, too_old) from None
    finally:
        ups.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
