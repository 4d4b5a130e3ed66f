"""The tables of the apcsmart driver (drivers/apcsmart_tabs.c, "version 3.1" in NUT 2.8.0, and the constants
of apcsmart.h): UPS-Link characters and NUT names, the instant commands, the command lists of units that
cannot say theirs, and how raw replies become NUT values."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

TABLE_NAME = "APC command table"
TABLE_VERSION = "version 3.1"


class Fmt(enum.Enum):
    """How a raw reply becomes a NUT value (APC_F_*)."""
    LEAVE = 0          # percent, volt, amp, celsius, hex, dec, seconds: the text as the UPS sends it
    HOURS = 1          # hours -> seconds
    MINUTES = 2        # minutes -> seconds
    REASON = 3         # transfer reason letter -> words


class VF(enum.IntFlag):
    """Variable flags (APC_POLL, APC_PRESENT, ...)."""
    NONE = 0
    POLL = 0x1         # read on every update, not only at start-up and hourly
    PRESENT = 0x2      # the UPS answered it
    RW = 0x4           # writable through SET
    ENUM = 0x8         # its values come from the capability reply (rotate with '-')
    STRING = 0x10      # an 8-character string written with '-' + text
    MULTI = 0x20       # one of several characters for one NUT name (or names for one char): first wins
    PACK = 0x40        # comma separated values for ambient.1 .. ambient.4


class CF(enum.IntFlag):
    """Command flags."""
    NONE = 0
    PRESENT = 0x1
    NASTY = 0x2        # must be asked for twice, 3 to 15 seconds apart
    REPEAT = 0x4       # the character is sent twice, 1.3 s apart


@dataclass
class Var:
    name: str
    cmd: str
    flags: VF = VF.NONE
    fmt: Fmt = Fmt.LEAVE
    regex: str | None = None
    cnt: int = 0       # fields of a PACK variable published last time


@dataclass
class Cmd:
    name: str
    ext: str | None    # regular expression the optional argument must match (None: no argument)
    cmd: str
    flags: CF = CF.NONE


P, M, K, S = VF.POLL, VF.MULTI, VF.PACK, VF.STRING
H, MIN, R = Fmt.HOURS, Fmt.MINUTES, Fmt.REASON


def vartab() -> list[Var]:
    """A fresh copy of the variable table, in NUT's order (which is also the poll order)."""
    return [
        Var("ups.temperature", "C", P),
        Var("ups.load", "P", P),
        Var("ups.test.interval", "E", fmt=H),
        Var("ups.test.result", "X", P),
        Var("ups.delay.start", "r"),
        Var("ups.delay.shutdown", "p"),
        Var("ups.id", "c", S),
        Var("ups.contacts", "i", P),
        Var("ups.display.language", "\x0c"),
        Var("input.voltage", "L", P),
        Var("input.frequency", "F", P),
        Var("input.sensitivity", "s"),
        Var("input.quality", "9", P),
        Var("input.transfer.low", "l"),
        Var("input.transfer.high", "u"),
        Var("input.transfer.reason", "G", P, R),
        Var("input.voltage.maximum", "M", P),
        Var("input.voltage.minimum", "N", P),
        Var("output.current", "/", P),
        Var("output.voltage", "O", P),
        Var("output.voltage.nominal", "o"),
        Var("ambient.humidity", "h", P),
        Var("ambient.0.humidity", "H", P | K),
        Var("ambient.0.humidity.high", "{", P | K),
        Var("ambient.0.humidity.low", "}", P | K),
        Var("ambient.temperature", "t", P),
        Var("ambient.0.temperature", "T", M | P | K, regex=r"^[0-9]{2}\.[0-9]{2}$"),
        Var("ambient.0.temperature.high", "[", P | K),
        Var("ambient.0.temperature.low", "]", P | K),
        Var("battery.date", "x", S),
        Var("battery.charge", "f", P),
        Var("battery.charge.restart", "e"),
        Var("battery.voltage", "B", P),
        Var("battery.voltage.nominal", "g"),
        Var("battery.runtime", "j", P, MIN),
        Var("battery.runtime.low", "q", fmt=MIN),
        Var("battery.packs", ">"),
        Var("battery.packs.bad", "<"),
        Var("battery.alarm.threshold", "k"),
        Var("device.uptime", "T", M | P, H, regex=r"^[0-9]{3}\.[0-9]{1}$"),
        Var("ups.serial", "n"),
        Var("ups.mfr.date", "m"),
        Var("ups.model", "\x01"),
        Var("ups.firmware.aux", "v"),
        Var("ups.firmware", "b", M, regex=r"^[A-Za-z0-9]+\.[A-Za-z0-9]+\.[A-Za-z0-9]+$"),
        Var("ups.firmware", "V", M),
    ]


# command characters
CMD_GRACEDOWN, CMD_SOFTDOWN, CMD_SHUTDOWN, CMD_OFF, CMD_ON = "@", "S", "K", "Z", "\x0e"
CMD_CALTOGGLE, CMD_FPTEST, CMD_SIMPWF, CMD_BTESTTOGGLE, CMD_BYPTOGGLE = "D", "A", "U", "W", "^"


def cmdtab() -> list[Cmd]:
    N, RP = CF.NASTY, CF.REPEAT
    return [
        Cmd("shutdown.return", r"^[Aa][Tt]:[0-9]{1,3}$", CMD_GRACEDOWN, N),
        Cmd("shutdown.return", r"^([Cc][Ss]|)$", CMD_SOFTDOWN, N),
        Cmd("shutdown.stayoff", None, CMD_SHUTDOWN, N | RP),
        Cmd("load.off", None, CMD_OFF, N | RP),
        Cmd("load.on", None, CMD_ON, RP),
        Cmd("calibrate.start", None, CMD_CALTOGGLE),
        Cmd("calibrate.stop", None, CMD_CALTOGGLE),
        Cmd("test.panel.start", None, CMD_FPTEST),
        Cmd("test.failure.start", None, CMD_SIMPWF),
        Cmd("test.battery.start", None, CMD_BTESTTOGGLE),
        Cmd("test.battery.stop", None, CMD_BTESTTOGGLE),
        Cmd("bypass.start", None, CMD_BYPTOGGLE),
        Cmd("bypass.stop", None, CMD_BYPTOGGLE),
    ]


_MATRIX_X = "@789ABCDEFGKLMNOPQRSTUVWXYZcefgjklmnopqrsuwxz/<>\\^\x0c\x16"
_MATRIX = "@79ABCDEFGKLMNOPQRSUVWXYZcefgjklmnopqrsuxz/<>"
_SU = "@79ABCDEFGKLMNOPQRSUVWXYZcefgjklmnopqrsuxz"
_SUI = "@79ABCEFGKLMNOPQRSUVWXYZcfg"

# firmware ('V' or 'b' reply) -> the command characters such a unit understands, for units without 'a'
COMPAT: dict[str, str] = {
    "0XI": _MATRIX_X, "0XM": _MATRIX_X,                       # Matrix-UPS
    "0ZI": _MATRIX, "5UI": _MATRIX, "5ZM": _MATRIX,
    "6QD": _SU, "6QI": _SU, "6TD": _SU, "6TI": _SU,           # APC600
    "7QD": _SU, "7QI": _SU, "7TD": _SU, "7TI": _SU,           # Smart-UPS 900
    "6JI": "@789ABCFGKLMNOPQSTUVWXYZfg",                      # Smart-UPS 600I
    "7II": _SUI,                                              # Smart-UPS 900I
    "9II": _SUI, "9GI": _SUI,                                 # Smart-UPS 2000I
    "8II": _SUI,                                              # Smart-UPS 1250I
    "8GI": "@79ABCEFGKLMNOPQRSUVWXYZfg",
    "8QD": _SU, "8QI": _SU, "8TD": _SU, "8TI": _SU,           # Smart-UPS 1250
    "5.4.D": "@\x01ABPQRSUYbdfgjmnx9",                        # CS 350
    "set\x01": "@789ABCFGKLMNOPQRSUVWXYZ",                    # old units answering 'b' with a voltage
}

# characters NUT does not expose (or uses only internally): skipped in command lists
UNR_CMDS = "\x1a\x7f~')-+8QRYayz"


# -- apcsmart.h: protocol constants ----------------------------------------------------------------
ALT_CABLE_1 = "940-0095B"
ENDCHAR = b"\n"                     # replies end with LF (the CR before it is ignored)
IGN_AACHARS = "\r|&"                # ignored by alert-aware reads
ALERT_CHARS = "$!%+#?="
IGN_CHARS = IGN_AACHARS + ALERT_CHARS
IGN_CCCHARS = "\r|&$!%+?="           # capability read: '#' starts the reply
IGN_CSCHARS = ""                    # command set read: alert characters are data there
MINCMDTIME, MAXCMDTIME = 3, 15      # the window for repeating a dangerous command
APC_STRLEN = 8
APC_LBUF = 512
APC_SBUF = 32
APC_PACK_MAX = 4

# apc_read() flags
SER_D0, SER_DX, SER_D1, SER_D3 = 0x1, 0x2, 0x4, 0x8
SER_AA, SER_CC, SER_CS, SER_TO, SER_HA = 0x10, 0x20, 0x40, 0x80, 0x100

# status register bits, in the order their words go into ups.status
STAT_BITS = ((0x01, "CAL"), (0x02, "TRIM"), (0x04, "BOOST"), (0x08, "OL"), (0x10, "OB"), (0x20, "OVER"),
             (0x40, "LB"), (0x80, "RB"))
ST_CAL, ST_OL, ST_OB, ST_OVER, ST_LB, ST_RB = 0x01, 0x08, 0x10, 0x20, 0x40, 0x80

APC_STATUS, APC_GOSMART, APC_GODUMB, APC_CMDSET, APC_CAPS, APC_NEXTVAL = "Q", "Y", "R", "a", "\x1a", "-"
APC_FW_OLD, APC_FW_NEW = "V", "b"
APC_CMDSET_FMT = r"^[0-9]\.[^.]*\.[^.]+(\.[^.]+)?$"
APC_AWDFMT, APC_SDFMT = r"^[0-9]{1,3}$", r"^[0-5]$"
APC_ADVFMT, APC_CSHDFMT = r"^([0-4]{1,5}|[Nn][Oo])$", r"^([0-9]\.?|[0-9]?\.[0-9])$"

REASONS = {"R": "unacceptable utility voltage rate of change", "H": "high utility voltage",
           "L": "low utility voltage", "T": "line voltage notch or spike", "O": "no transfers yet since turnon",
           "S": "simulated power failure or UPS test"}

# models that look like APC but do not speak UPS-Link: what to use instead
NOT_SMART = ("Note: APC \"Microlink\" models (SMT, SMX, SURTD) do not speak the Smart protocol on their "
             "RJ45 serial port;\nuse usbhid-ups over USB or an AP9620 legacy communications card. "
             "Brazilian Microsol \"BZ\" models\n(Back-UPS BZ...) are not Smart-UPS units either: use the "
             "solis driver.")
NOT_SMART_MODEL = re.compile(r"^(SMT|SMX|SURTD|BZ)|Back-UPS BZ|\bBZ[0-9]", re.IGNORECASE)


STATUS_REPLY = re.compile(r"^[0-9A-Fa-f]{1,2}$")


def show(text: str) -> str:
    return "".join(c if c.isprintable() and c.isascii() else f"\\x{ord(c):02x}" for c in text)


def rexhlp(rex: str | None, val: str | None) -> bool:
    """POSIX extended regex match as apcsmart uses it: no regex matches everything."""
    return not rex or re.search(rex, val or "") is not None


def strtol(text: str, base: int = 10) -> int:
    m = re.match(r"\s*([+-]?)(0[xX])?([0-9a-fA-F]+)" if base == 16 else r"\s*([+-]?)()([0-9]+)", text)
    if not m:
        return 0
    try:
        n = int(m.group(3), base)
    except ValueError:
        return 0
    return -n if m.group(1) == "-" else n


def prtchr(c: str) -> str:
    return c if c.isprintable() and ord(c) < 128 else f"0x{ord(c):02x}"


def convert_data(vt: Var, upsval: str) -> str:
    """A raw reply in NUT's units: hours and minutes to seconds, transfer reasons to words."""
    if vt.fmt is Fmt.HOURS:
        return str(3600 * strtol(upsval))
    if vt.fmt is Fmt.MINUTES:
        return str(60 * strtol(upsval))
    if vt.fmt is Fmt.REASON:
        return REASONS.get(upsval[:1], upsval)
    return upsval
