"""upscmd: list or start a UPS's instant commands (NUT's clients/upscmd.c).

Usage:
  upscmd -l <ups>
  upscmd [-u <username>] [-p <password>] [-w] [-t <timeout>] <ups> <command> [<value>]
  upscmd -h | -V

Options:
  -l             show the instant commands <ups> supports
  -u <username>  user name for upsd (asked on the terminal when missing)
  -p <password>  password for upsd (asked on the terminal when missing)
  -w             wait for the driver to complete the command and show its result
  -t <timeout>   how long -w waits, in seconds [default: 10]
  -h             show NUT's help text
  -V             show the version
"""

from __future__ import annotations

import sys

from pnut.clients import cli
from pnut.clients.cli import VERSION, Exit

TRACKING_TIMEOUT = 10

HELP = """\
Network UPS Tools upscmd {version}

usage: {prog} [-h]
       {prog} [-l <ups>]
       {prog} [-u <username>] [-p <password>] [-w] [-t <timeout>] <ups> <command> [<value>]

Administration program to initiate instant commands on UPS hardware.

  -h\t\tdisplay this help text
  -l <ups>\tshow available commands on UPS <ups>
  -u <username>\tset username for command authentication
  -p <password>\tset password for command authentication
  -w            wait for the completion of command by the driver
                and return its actual result from the device
  -t <timeout>\tset a timeout when using -w (in seconds, default: {timeout})

  <ups>\t\tUPS identifier - <upsname>[@<hostname>[:<port>]]
  <command>\tValid instant command - test.panel.start, etc.
  [<value>]\tAdditional data for command - number of seconds, etc.
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return cli.run_main(lambda: _upscmd(args), argv is None)


def _usage(prog: str) -> int:
    sys.stdout.write(HELP.format(version=VERSION, prog=prog, timeout=TRACKING_TIMEOUT))
    return 0


def _upscmd(argv: list[str]) -> int:
    prog = cli.progname()
    opts, args = cli.getopt(argv, "lhu:p:t:wV", sys.argv[0])
    username = password = None
    cmdlist = tracking = False
    timeout = TRACKING_TIMEOUT
    for opt, val in opts:
        if opt == "l":
            cmdlist = True
        elif opt == "u":
            username = val
        elif opt == "p":
            password = val
        elif opt == "t":
            try:
                timeout = cli.str_to_uint(val or "")
            except OSError as exc:
                raise cli.fatal_with_errno(
                    "Could not convert the provided value for timeout ('-t' option) to unsigned int", exc) from None
        elif opt == "w":
            tracking = True
        elif opt == "V":
            raise Exit(f"Network UPS Tools upscmd {VERSION}", 0)
        else:
            return _usage(prog)
    if not args:
        return _usage(prog)

    from pnut.libupsclient import core, errors
    from pnut.libupsclient.client import UpsClient

    try:
        upsname, host, port = core.splitname(args[0])
    except core.BadAddress as bad:
        if str(bad):
            sys.stderr.write(f"{bad}\n")
        raise Exit("Error: invalid UPS definition.  Required format: upsname[@hostname[:port]]") from None
    try:
        ups = UpsClient(host, port)
    except errors.UpsClientError as exc:
        raise Exit(f"Error: {exc}") from None
    try:
        if cmdlist:
            _listcmds(ups, upsname)
            return 0
        if len(args) < 2:
            return _usage(prog)
        if "." not in args[1]:
            raise Exit("Error: old command names are not supported")
        if username is None:
            username = cli.ask_username(fatal_on_eof=True)
        if password is None:
            password = cli.ask_password()
        try:
            ups.sendline(core.raw_request(f"USERNAME {username}"))
        except errors.UpsClientError as exc:
            raise Exit(f"Can't set username: {exc}") from None
        try:
            ups.readline()
        except errors.UnknownCommand:
            raise Exit("Set username failed due to an unknown command.\n"
                       "You probably need to upgrade upsd.") from None
        except errors.UpsClientError as exc:
            raise Exit(f"Set username failed: {exc}") from None
        cli.exchange(ups, f"PASSWORD {password}", "Can't set password", "Set password failed")
        if tracking:
            line = cli.exchange(ups, "SET TRACKING ON", "Can't enable command status tracking",
                                "Enabling command status tracking failed")
            if not line.startswith("OK"):
                raise Exit(f"Enabling command status tracking failed. upsd answered: {line}")
        request = f"INSTCMD {upsname} {' '.join(args[1:3])}"
        reply = cli.exchange(ups, request, "Can't send instant command", "Instant command failed")
        if not reply.startswith("OK"):
            raise Exit(f"Unexpected response from upsd: {reply}")
        if tracking and cli.is_tracking_reply(reply):
            reply = cli.track(ups, reply, timeout)
        sys.stderr.write(reply + "\n")
        return 0
    finally:
        ups.close()


def _listcmds(ups: object, upsname: str) -> None:
    from pnut.libupsclient import errors
    names: list[str] = []
    try:
        for w in cli.nut_list(ups, "CMD", upsname):
            if len(w) < 3:
                raise Exit(f"Error: insufficient data (got {len(w)} args, need at least 3)")
            names.append(w[2])
    except errors.UnknownCommand:
        raise Exit("Error: upsd is too old to support this query") from None
    except errors.UpsClientError as exc:
        raise Exit(f"Error: {exc}") from None
    out = sys.stdout
    out.write(f"Instant commands supported on UPS [{upsname}]:\n\n")
    for name in names:
        try:
            desc = ups.get("CMDDESC", upsname, name)      # type: ignore[attr-defined]
        except errors.UpsClientError:
            out.write(f"{name}\n")
            continue
        out.write(f"{name} - {desc[3]}\n" if len(desc) > 3 else f"{name}\n")


if __name__ == "__main__":
    sys.exit(main())
