"""Where NUT looks for things (common/common.c confpath(), dflt_statepath(), altpidpath()), Debian's defaults."""

from __future__ import annotations

import os

CONFPATH = "/etc/nut"
STATEPATH = "/run/nut"
ALTPIDPATH = "/run/nut"
PIDPATH = "/run/nut"
DRVPATH = "/lib/nut"
DATADIR = "/usr/share/nut"
PORT = 3493
RUN_AS_USER = "nut"
RUN_AS_GROUP = "nut"


def confpath() -> str:
    """NUT_CONFPATH wins whenever it is set, even to an empty string (as in NUT)."""
    path = os.environ.get("NUT_CONFPATH")
    return CONFPATH if path is None else path


def statepath() -> str:
    """NUT_STATEPATH wins unless unset or empty."""
    return os.environ.get("NUT_STATEPATH") or STATEPATH


def altpidpath() -> str:
    """NUT_ALTPIDPATH, else NUT_STATEPATH, else the built-in default."""
    return os.environ.get("NUT_ALTPIDPATH") or os.environ.get("NUT_STATEPATH") or ALTPIDPATH


def pidpath() -> str:
    """upsmon's and upslog's PID files.  NUT 2.8.0 has no variable for this; later releases read NUT_PIDPATH,
    which pnut honours too so that it can run without root-owned paths."""
    return os.environ.get("NUT_PIDPATH") or PIDPATH


def conffile(name: str) -> str:
    """NUT formats "<confpath>/<name>": an empty NUT_CONFPATH gives "/<name>", as in NUT."""
    return f"{confpath()}/{name}"
