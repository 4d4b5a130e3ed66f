"""upsrw: show a UPS's writable variables or change one (NUT's clients/upsrw.c).

Usage:
  upsrw [-l] <ups>
  upsrw -s <variable> [-u <username>] [-p <password>] [-w] [-t <timeout>] <ups>
  upsrw -h | -V

Options:
  -s <variable>  the variable to change; -s VAR=VALUE avoids the prompt for the value
  -l             list the writable variables (the default; cancels an earlier -s)
  -u <username>  user name for upsd (asked on the terminal when missing)
  -p <password>  password for upsd (asked on the terminal when missing)
  -w             wait for the driver to complete the change and show its result
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
Network UPS Tools {prog} {version}

usage: {prog} [-h]
       {prog} [-s <variable>] [-u <username>] [-p <password>] [-w] [-t <timeout>] <ups>

Demo program to set variables within UPS hardware.

  -h            display this help text
  -s <variable>\tspecify variable to be changed
\t\tuse -s VAR=VALUE to avoid prompting for value
  -l            show all possible read/write variables.
  -u <username> set username for command authentication
  -p <password> set password for command authentication
  -w            wait for the completion of setting by the driver
                and return its actual result from the device
  -t <timeout>\tset a timeout when using -w (in seconds, default: {timeout})

  <ups>         UPS identifier - <upsname>[@<hostname>[:<port>]]

Call without -s to show all possible read/write variables (same as -l).
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return cli.run_main(lambda: _upsrw(args), argv is None)


def _upsrw(argv: list[str]) -> int:
    prog = cli.progname()
    opts, args = cli.getopt(argv, "hls:p:t:u:wV", sys.argv[0])
    username = password = setvar = None
    tracking = False
    timeout = TRACKING_TIMEOUT
    for opt, val in opts:
        if opt == "s":
            setvar = val
        elif opt == "l":
            if setvar is not None:
                sys.stderr.write("Listing mode requested, overriding setvar specified earlier!\n")
                setvar = None
        elif opt == "p":
            password = val
        elif opt == "u":
            username = val
        elif opt == "t":
            try:
                timeout = cli.str_to_uint(val or "")
            except OSError as exc:
                raise cli.fatal_with_errno(
                    "Could not convert the provided value for timeout ('-t' option) to unsigned int", exc) from None
        elif opt == "w":
            tracking = True
        elif opt == "V":
            sys.stdout.write(f"Network UPS Tools {prog} {VERSION}\n")
            return 0
        else:
            sys.stdout.write(HELP.format(version=VERSION, prog=prog, timeout=TRACKING_TIMEOUT))
            return 0
    if not args:
        sys.stdout.write(HELP.format(version=VERSION, prog=prog, timeout=TRACKING_TIMEOUT))
        return 0

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
        if setvar is not None:
            _setvar(ups, upsname, setvar, username, password, tracking, timeout)
        else:
            _print_rwlist(ups, upsname)
    finally:
        ups.close()
    return 0


def _setvar(ups: object, upsname: str, varname: str, user: str | None, password: str | None,
            tracking: bool, timeout: int) -> None:
    from pnut.libupsclient import core
    if user is None:
        user = cli.ask_username(fatal_on_eof=False)
    if password is None:
        password = cli.ask_password()
    if "=" in varname:
        varname, newval = varname.split("=", 1)
    else:
        sys.stdout.write(f"Enter new value for {varname}: ")
        sys.stdout.flush()
        newval = sys.stdin.readline()
        newval = newval[:-1]
    cli.exchange(ups, f"USERNAME {user}", "Can't set username", "Set username failed")
    cli.exchange(ups, f"PASSWORD {password}", "Can't set password", "Set password failed")
    if not upsname:
        raise Exit("Error: a UPS name must be specified (upsname[@hostname[:port]])")
    if "." not in varname:
        raise Exit("Error: old variable names are not supported")
    if tracking:
        line = cli.exchange(ups, "SET TRACKING ON", "Can't enable set variable status tracking",
                            "Enabling set variable status tracking failed")
        if not line.startswith("OK"):
            raise Exit(f"Enabling set variable status tracking failed. upsd answered: {line}")
    reply = cli.exchange(ups, core.set_var_request(upsname, varname, newval).decode("latin-1")[:-1],
                         "Can't set variable", "Set variable failed")
    if not reply.startswith("OK"):
        raise Exit(f"Unexpected response from upsd: {reply}")
    if tracking and cli.is_tracking_reply(reply):
        reply = cli.track(ups, reply, timeout)
    sys.stderr.write(reply + "\n")


def _get_data(ups: object, kind: str, upsname: str, varname: str) -> str | None:
    from pnut.libupsclient import errors
    try:
        words = ups.get(kind, upsname, varname)       # type: ignore[attr-defined]
    except errors.UpsClientError:
        return None
    return str(words[3]) if len(words) > 3 else None


def _atoi(text: str) -> int:
    from pnut.libupsclient.core import _strtol
    value = _strtol(text)
    return ((value + 2**31) % 2**32) - 2**31      # C int wrap-around, as atoi() in practice


def _print_rwlist(ups: object, upsname: str) -> None:
    from pnut.libupsclient import errors
    if not upsname:
        raise Exit("Error: a UPS name must be specified (upsname[@hostname[:port]])")
    names: list[str] = []
    try:
        for w in cli.nut_list(ups, "RW", upsname):
            if len(w) < 4:
                raise Exit(f"Error: insufficient data (got {len(w)} args, need at least 4)")
            names.append(w[2])
    except errors.UnknownCommand:
        raise Exit("Error: upsd is too old to support this query") from None
    except errors.UpsClientError as exc:
        raise Exit(f"Error: {exc}") from None
    out = sys.stdout
    for name in names:
        out.write(f"[{name}]\n")
        out.write(f"{_get_data(ups, 'DESC', upsname, name) or 'Description unavailable'}\n")
        _do_type(ups, upsname, name)
        out.write("\n")


def _do_type(ups: object, upsname: str, varname: str) -> None:
    from pnut.libupsclient import errors
    out = sys.stdout
    try:
        words = ups.get("TYPE", upsname, varname)        # type: ignore[attr-defined]
    except errors.UpsClientError:
        out.write("Unknown type\n")
        return
    is_enum = False
    for word in words[3:]:
        upper = word.upper()
        if upper == "ENUM":
            is_enum = True
            continue
        if upper == "RANGE":
            _do_range(ups, upsname, varname)
            return
        if upper.startswith("STRING:"):
            length = _strtol_long(word[7:])
            if is_enum:
                _do_enum(ups, upsname, varname, "STRING", length)
            else:
                value = _current(ups, upsname, varname, "do_string")
                out.write(f"Type: STRING\nMaximum length: {length}\nValue: {value}\n")
            return
        if upper == "NUMBER":
            if is_enum:
                _do_enum(ups, upsname, varname, "NUMBER", 0)
            else:
                value = _current(ups, upsname, varname, "do_number")
                out.write(f"Type: NUMBER\nValue: {value}\n")
            return
        if upper == "RW":
            continue
        out.write(f"Type: {word} (unrecognized)\n")
    if is_enum:
        _do_enum(ups, upsname, varname, None, 0)


def _strtol_long(text: str) -> int:
    from pnut.libupsclient.core import _strtol
    return _strtol(text)


def _current(ups: object, upsname: str, varname: str, fn: str) -> str:
    value = _get_data(ups, "VAR", upsname, varname)
    if value is None:
        raise Exit(f"{fn}: can't get current value of {varname}")
    return value


def _list_items(ups: object, kind: str, upsname: str, varname: str) -> list[list[str]]:
    """upsrw's ENUM/RANGE loops: a failing LIST start is fatal, a failure later just ends the list."""
    from pnut.libupsclient import errors
    items: list[list[str]] = []
    try:
        items.extend(cli.nut_list(ups, kind, upsname, varname))
    except errors.UpsClientError as exc:
        raise Exit(f"Error: {exc}") from None
    return items


def _do_enum(ups: object, upsname: str, varname: str, vartype: str | None, length: int) -> None:
    out = sys.stdout
    current = _current(ups, upsname, varname, "do_enum")
    items = _list_items(ups, "ENUM", upsname, varname)
    out.write(f"Type: ENUM {vartype}\n" if vartype else "Type: ENUM\n")
    if vartype == "STRING":
        out.write(f"Maximum length: {length}\n")
    for w in items:
        if len(w) < 4:
            raise Exit(f"Error: insufficient data (got {len(w)} args, need at least 4)")
        out.write(f'Option: "{w[3]}"' + (" SELECTED" if w[3] == current else "") + "\n")


def _do_range(ups: object, upsname: str, varname: str) -> None:
    out = sys.stdout
    current = _atoi(_current(ups, upsname, varname, "do_range"))
    items = _list_items(ups, "RANGE", upsname, varname)
    out.write("Type: RANGE NUMBER\n")
    for w in items:
        if len(w) < 5:
            raise Exit(f"Error: insufficient data (got {len(w)} args, need at least 4)")
        lo, hi = _atoi(w[3]), _atoi(w[4])
        out.write(f'Option: "{lo}-{hi}"' + (" SELECTED" if lo <= current <= hi else "") + "\n")


if __name__ == "__main__":
    sys.exit(main())
