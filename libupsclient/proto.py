"""The NUT network protocol's fixed texts, defined once: ERR codes, reply lines, client error messages.

upsd builds its replies from these and the client library recognises them from these; tests compare them
with transcripts from a real NUT 2.8.0 upsd.
"""

from __future__ import annotations

import enum

from pnut.conf import NUT_VERSION

NETVER = "1.3"
VER_REPLY = f"Network UPS Tools upsd {NUT_VERSION} - http://www.networkupstools.org/"
HELP_REPLY = "Commands: HELP VER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS"
OK = "OK"
OK_GOODBYE = "OK Goodbye"
OK_STARTTLS = "OK STARTTLS"
OK_FSD_SET = "OK FSD-SET"
OK_PRIMARY_GRANTED = "OK PRIMARY-GRANTED"
OK_MASTER_GRANTED = "OK MASTER-GRANTED"
DESC_UNAVAILABLE = "Description unavailable"
UPSDESC_UNAVAILABLE = "Unavailable"


class Err(enum.Enum):
    """Every ERR code; the value is the word after `ERR `."""

    ACCESS_DENIED = "ACCESS-DENIED"
    UNKNOWN_UPS = "UNKNOWN-UPS"
    VAR_NOT_SUPPORTED = "VAR-NOT-SUPPORTED"
    CMD_NOT_SUPPORTED = "CMD-NOT-SUPPORTED"
    INVALID_ARGUMENT = "INVALID-ARGUMENT"
    INSTCMD_FAILED = "INSTCMD-FAILED"
    SET_FAILED = "SET-FAILED"
    READONLY = "READONLY"
    TOO_LONG = "TOO-LONG"
    FEATURE_NOT_SUPPORTED = "FEATURE-NOT-SUPPORTED"
    FEATURE_NOT_CONFIGURED = "FEATURE-NOT-CONFIGURED"
    ALREADY_SSL_MODE = "ALREADY-SSL-MODE"
    DRIVER_NOT_CONNECTED = "DRIVER-NOT-CONNECTED"
    DATA_STALE = "DATA-STALE"
    ALREADY_LOGGED_IN = "ALREADY-LOGGED-IN"
    INVALID_PASSWORD = "INVALID-PASSWORD"
    ALREADY_SET_PASSWORD = "ALREADY-SET-PASSWORD"
    INVALID_USERNAME = "INVALID-USERNAME"
    ALREADY_SET_USERNAME = "ALREADY-SET-USERNAME"
    USERNAME_REQUIRED = "USERNAME-REQUIRED"
    PASSWORD_REQUIRED = "PASSWORD-REQUIRED"
    UNKNOWN_COMMAND = "UNKNOWN-COMMAND"
    INVALID_VALUE = "INVALID-VALUE"
    UNKNOWN = "UNKNOWN"          # TRACKING result
    FAILED = "FAILED"            # TRACKING result

    @property
    def line(self) -> str:
        return "ERR " + self.value


# upscli_strerror()'s table, in NUT's order: the client matches the text after "ERR " by prefix, in this
# order, and anything else is "Unknown error".
CLIENT_ERRORS: tuple[tuple[str, str], ...] = (
    ("VAR-NOT-SUPPORTED", "Variable not supported by UPS"),
    ("UNKNOWN-UPS", "Unknown UPS"),
    ("ACCESS-DENIED", "Access denied"),
    ("PASSWORD-REQUIRED", "Password required"),
    ("PASSWORD-INCORRECT", "Password incorrect"),
    ("MISSING-ARGUMENT", "Missing argument"),
    ("DATA-STALE", "Data stale"),
    ("VAR-UNKNOWN", "Variable unknown"),
    ("ALREADY-LOGGED-IN", "Already logged in"),
    ("ALREADY-SET-PASSWORD", "Already set password"),
    ("UNKNOWN-TYPE", "Unknown variable type"),
    ("UNKNOWN-VAR", "Unknown variable"),
    ("READONLY", "Read-only variable"),
    ("TOO-LONG", "New value is too long"),
    ("INVALID-VALUE", "Invalid value for variable"),
    ("SET-FAILED", "Set command failed"),
    ("UNKNOWN-INSTCMD", "Unknown instant command"),
    ("INSTCMD-FAILED", "Instant command failed"),
    ("CMD-NOT-SUPPORTED", "Instant command not supported"),
    ("INVALID-USERNAME", "Invalid username"),
    ("ALREADY-SET-USERNAME", "Already set username"),
    ("UNKNOWN-COMMAND", "Unknown command"),
    ("INVALID-PASSWORD", "Invalid password"),
    ("USERNAME-REQUIRED", "Username required"),
    ("DRIVER-NOT-CONNECTED", "Driver not connected"),
)
UNKNOWN_ERROR = "Unknown error"

# The library's own (non-ERR) messages; the %s ones take strerror() or a parser message.
NO_SUCH_HOST = "No such host"
INVALID_RESPONSE = "Invalid response from server"
INVALID_ARGUMENT = "Invalid argument"
CONNECTION_FAILURE = "Connection failure: %s"
WRITE_ERROR = "Write error: %s"
READ_ERROR = "Read error: %s"
SSL_NOT_AVAILABLE = "SSL is not available"
SSL_ERROR = "SSL error: %s"
SERVER_DISCONNECTED = "Server disconnected"
PARSE_ERROR = "Parse error: %s"
PROTOCOL_ERROR = "Protocol error"


def client_error_text(reply: str) -> str:
    """What upscli_strerror() says for an `ERR ...` reply line."""
    rest = reply[4:] if reply.startswith("ERR ") else reply
    for code, text in CLIENT_ERRORS:
        if rest.startswith(code):
            return text
    return UNKNOWN_ERROR
