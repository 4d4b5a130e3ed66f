"""The client library's exceptions: one class per `ERR` code upsd can send, plus the library's own failures.

Every exception's text is what NUT's upscli_strerror() says for the same situation, so a program can print
`Error: {exc}` and match NUT 2.8.0 byte for byte.
"""

from __future__ import annotations

import os

from pnut.libupsclient import proto


class UpsClientError(Exception):
    """Base of everything the client library raises; str() is NUT's upscli_strerror() text."""

    message: str = proto.UNKNOWN_ERROR

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


# --- failures detected by the library itself -----------------------------------------------------------

class NoSuchHost(UpsClientError):
    """The host name did not resolve (or no host was given)."""

    message = proto.NO_SUCH_HOST


class _SysError(UpsClientError):
    """A failure carrying an errno; the text embeds strerror() as NUT's does."""

    template = "%s"

    def __init__(self, errno: int = 0, detail: str | None = None) -> None:
        self.errno = errno
        super().__init__(self.template % (detail if detail is not None else os.strerror(errno)))


class ConnectionFailure(_SysError):
    """connect() failed on every address (`Connection failure: Connection refused`)."""

    template = proto.CONNECTION_FAILURE


class ReadError(_SysError):
    template = proto.READ_ERROR


class WriteError(_SysError):
    template = proto.WRITE_ERROR


class ServerDisconnected(UpsClientError):
    """EOF from the server, or no reply within the network timeout (NUT says the same for both)."""

    message = proto.SERVER_DISCONNECTED


class ProtocolError(UpsClientError):
    """The reply does not answer the question that was asked."""

    message = proto.PROTOCOL_ERROR


class InvalidResponse(UpsClientError):
    message = proto.INVALID_RESPONSE


class ResponseParseError(UpsClientError):
    """A reply line that the parseconf tokenizer refuses."""

    def __init__(self, detail: str) -> None:
        super().__init__(proto.PARSE_ERROR % detail)


class InvalidArgument(UpsClientError):
    message = proto.INVALID_ARGUMENT


class NotConnected(UpsClientError):
    """Using a closed connection; NUT reports this as 'Driver not connected' (UPSCLI_ERR_DRVNOTCONN)."""

    message = "Driver not connected"


class SslNotAvailable(UpsClientError):
    """TLS was required but the server did not agree to STARTTLS."""

    message = proto.SSL_NOT_AVAILABLE


class SslError(_SysError):
    template = proto.SSL_ERROR


# --- ERR replies from upsd ------------------------------------------------------------------------------

class ServerError(UpsClientError):
    """upsd answered `ERR <CODE>`; `code` is the word after ERR, `line` the whole reply."""

    code: str = ""

    def __init__(self, line: str | None = None) -> None:
        self.line = line if line is not None else "ERR " + self.code
        if not self.code:
            rest = self.line[4:] if self.line.startswith("ERR ") else self.line[3:]
            self.code = rest.split(" ", 1)[0]
        super().__init__(proto.client_error_text(self.line))


class UnknownServerError(ServerError):
    """An ERR code this library has no class for (NUT prints 'Unknown error')."""


def _err(name: str, code: str, doc: str) -> type[ServerError]:
    cls = type(name, (ServerError,), {"code": code, "__doc__": doc, "__module__": __name__})
    return cls


AccessDenied = _err("AccessDenied", "ACCESS-DENIED", "ERR ACCESS-DENIED")
UnknownUps = _err("UnknownUps", "UNKNOWN-UPS", "ERR UNKNOWN-UPS")
VarNotSupported = _err("VarNotSupported", "VAR-NOT-SUPPORTED", "ERR VAR-NOT-SUPPORTED")
CmdNotSupported = _err("CmdNotSupported", "CMD-NOT-SUPPORTED", "ERR CMD-NOT-SUPPORTED")
InvalidArgumentErr = _err("InvalidArgumentErr", "INVALID-ARGUMENT", "ERR INVALID-ARGUMENT")
InstcmdFailed = _err("InstcmdFailed", "INSTCMD-FAILED", "ERR INSTCMD-FAILED")
SetFailed = _err("SetFailed", "SET-FAILED", "ERR SET-FAILED")
ReadOnly = _err("ReadOnly", "READONLY", "ERR READONLY")
TooLong = _err("TooLong", "TOO-LONG", "ERR TOO-LONG")
FeatureNotSupported = _err("FeatureNotSupported", "FEATURE-NOT-SUPPORTED", "ERR FEATURE-NOT-SUPPORTED")
FeatureNotConfigured = _err("FeatureNotConfigured", "FEATURE-NOT-CONFIGURED", "ERR FEATURE-NOT-CONFIGURED")
AlreadySslMode = _err("AlreadySslMode", "ALREADY-SSL-MODE", "ERR ALREADY-SSL-MODE")
DriverNotConnected = _err("DriverNotConnected", "DRIVER-NOT-CONNECTED", "ERR DRIVER-NOT-CONNECTED")
DataStale = _err("DataStale", "DATA-STALE", "ERR DATA-STALE")
AlreadyLoggedIn = _err("AlreadyLoggedIn", "ALREADY-LOGGED-IN", "ERR ALREADY-LOGGED-IN")
InvalidPassword = _err("InvalidPassword", "INVALID-PASSWORD", "ERR INVALID-PASSWORD")
AlreadySetPassword = _err("AlreadySetPassword", "ALREADY-SET-PASSWORD", "ERR ALREADY-SET-PASSWORD")
InvalidUsername = _err("InvalidUsername", "INVALID-USERNAME", "ERR INVALID-USERNAME")
AlreadySetUsername = _err("AlreadySetUsername", "ALREADY-SET-USERNAME", "ERR ALREADY-SET-USERNAME")
UsernameRequired = _err("UsernameRequired", "USERNAME-REQUIRED", "ERR USERNAME-REQUIRED")
PasswordRequired = _err("PasswordRequired", "PASSWORD-REQUIRED", "ERR PASSWORD-REQUIRED")
UnknownCommand = _err("UnknownCommand", "UNKNOWN-COMMAND", "ERR UNKNOWN-COMMAND")
InvalidValue = _err("InvalidValue", "INVALID-VALUE", "ERR INVALID-VALUE")
TrackingUnknown = _err("TrackingUnknown", "UNKNOWN", "ERR UNKNOWN (a TRACKING result)")
TrackingFailed = _err("TrackingFailed", "FAILED", "ERR FAILED (a TRACKING result)")
# Codes only older servers send; NUT's client still knows their texts.
PasswordIncorrect = _err("PasswordIncorrect", "PASSWORD-INCORRECT", "ERR PASSWORD-INCORRECT (old upsd)")
MissingArgument = _err("MissingArgument", "MISSING-ARGUMENT", "ERR MISSING-ARGUMENT (old upsd)")
VarUnknown = _err("VarUnknown", "VAR-UNKNOWN", "ERR VAR-UNKNOWN (old upsd)")
UnknownType = _err("UnknownType", "UNKNOWN-TYPE", "ERR UNKNOWN-TYPE (old upsd)")
UnknownVar = _err("UnknownVar", "UNKNOWN-VAR", "ERR UNKNOWN-VAR (old upsd)")
UnknownInstcmd = _err("UnknownInstcmd", "UNKNOWN-INSTCMD", "ERR UNKNOWN-INSTCMD (old upsd)")

BY_CODE: dict[str, type[ServerError]] = {
    c.code: c for c in ServerError.__subclasses__() if c.code
}


def from_reply(line: str) -> ServerError:
    """The exception for an `ERR ...` reply line (UnknownServerError when the code is not known)."""
    rest = line[4:] if line.startswith("ERR ") else line[3:]
    code = rest.split(" ", 1)[0]
    cls = BY_CODE.get(code, UnknownServerError)
    return cls(line)
