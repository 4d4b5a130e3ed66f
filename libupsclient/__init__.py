"""libupsclient: a client library for the NUT network protocol (sync and asyncio).

    from pnut.libupsclient import UpsClient, UnknownUps
    with UpsClient("localhost") as c:
        print(c.get_var("myups", "ups.status"))

The blocking client (UpsClient, fetch_vars) never imports asyncio; AsyncUpsClient and fetch_vars_async are
loaded only when first used.  See pnut.libupsclient(3).
"""

from __future__ import annotations

from pnut.libupsclient.client import UpsClient, fetch_vars, open_socket
from pnut.libupsclient.core import DEFAULT_PORT, BadAddress, splitaddr, splitname
from pnut.libupsclient.errors import (
    BY_CODE,
    AccessDenied,
    AlreadyLoggedIn,
    AlreadySetPassword,
    AlreadySetUsername,
    AlreadySslMode,
    CmdNotSupported,
    ConnectionFailure,
    DataStale,
    DriverNotConnected,
    FeatureNotConfigured,
    FeatureNotSupported,
    InstcmdFailed,
    InvalidArgument,
    InvalidArgumentErr,
    InvalidPassword,
    InvalidResponse,
    InvalidUsername,
    InvalidValue,
    MissingArgument,
    NoSuchHost,
    NotConnected,
    PasswordIncorrect,
    PasswordRequired,
    ProtocolError,
    ReadError,
    ReadOnly,
    ResponseParseError,
    ServerDisconnected,
    ServerError,
    SetFailed,
    SslError,
    SslNotAvailable,
    TooLong,
    TrackingFailed,
    TrackingUnknown,
    UnknownCommand,
    UnknownInstcmd,
    UnknownServerError,
    UnknownType,
    UnknownUps,
    UnknownVar,
    UpsClientError,
    UsernameRequired,
    VarNotSupported,
    VarUnknown,
    WriteError,
)


def __getattr__(name: str) -> object:
    if name in ("AsyncUpsClient", "fetch_vars_async"):
        from pnut.libupsclient import aio
        return aio.AsyncUpsClient if name == "AsyncUpsClient" else aio.fetch_vars
    raise AttributeError(name)


__all__ = [
    "BY_CODE",
    "DEFAULT_PORT",
    "AccessDenied",
    "AlreadyLoggedIn",
    "AlreadySetPassword",
    "AlreadySetUsername",
    "AlreadySslMode",
    "AsyncUpsClient",
    "BadAddress",
    "CmdNotSupported",
    "ConnectionFailure",
    "DataStale",
    "DriverNotConnected",
    "FeatureNotConfigured",
    "FeatureNotSupported",
    "InstcmdFailed",
    "InvalidArgument",
    "InvalidArgumentErr",
    "InvalidPassword",
    "InvalidResponse",
    "InvalidUsername",
    "InvalidValue",
    "MissingArgument",
    "NoSuchHost",
    "NotConnected",
    "PasswordIncorrect",
    "PasswordRequired",
    "ProtocolError",
    "ReadError",
    "ReadOnly",
    "ResponseParseError",
    "ServerDisconnected",
    "ServerError",
    "SetFailed",
    "SslError",
    "SslNotAvailable",
    "TooLong",
    "TrackingFailed",
    "TrackingUnknown",
    "UnknownCommand",
    "UnknownInstcmd",
    "UnknownServerError",
    "UnknownType",
    "UnknownUps",
    "UnknownVar",
    "UpsClient",
    "UpsClientError",
    "UsernameRequired",
    "VarNotSupported",
    "VarUnknown",
    "WriteError",
    "fetch_vars",
    "fetch_vars_async",
    "open_socket",
    "splitaddr",
    "splitname",
]
