"""Device profiles for the APC Smart-UPS simulator: what each simulated unit says about itself.

Values are taken from real APC dumps (nut-ddl `APC__*__apcsmart__*.dev`) and from the UPS-Link protocol as
NUT's `apcsmart` driver and apcupsd read it.  A profile is data only; behaviour lives in `apcsmart_sim`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EepromVar:
    """An EEPROM setting the UPS lets a host rotate through with '-' (APC "next value")."""

    char: str                     # the query/command character, e.g. "p" for the shutdown grace delay
    values: list[str]             # the permitted raw values, in the UPS's rotation order (equal width)
    locale: str = "4"             # locale letter the record applies to; "4" means all locales
    current: str = ""             # initial raw value (defaults to the first permitted one)

    def __post_init__(self) -> None:
        if len({len(v) for v in self.values}) != 1:
            raise ValueError(f"EEPROM values for {self.char!r} must share one width")
        if not self.current:
            self.current = self.values[0]

    def record(self) -> str:
        """This setting as one record of the ^Z capability reply: char, locale, count, width, values."""
        width = len(self.values[0])
        return f"{self.char}{self.locale}{len(self.values)}{width}{''.join(self.values)}"


@dataclass
class Profile:
    """Everything that differs between simulated models."""

    key: str                          # name used on the command line (--model)
    description: str
    cmdset: str | None                # reply to 'a' (None: the unit answers NA, i.e. an old unit)
    firmware_b: str | None            # reply to 'b' (new-style firmware, last char = locale)
    firmware_v: str | None            # reply to 'V' (old-style firmware / compatibility key)
    model_name: str | None            # reply to ^A
    identity: dict[str, str]          # fixed replies: serial 'n', dates 'm'/'x', id 'c', nominal 'g', ...
    eeprom: list[EepromVar] = field(default_factory=list)   # rotatable settings (caps only if 0x1A listed)
    extra_caps: list[EepromVar] = field(default_factory=list)  # caps records for other locales (not settable)
    supported: str = ""               # command characters the unit understands at all
    at_digits: int = 3                # '@' takes 3 digits on new units, 2 on old ones
    shutdown_ack: str = "OK\r\n"      # reply to accepted S/@/K; old units send a bare '*'
    alerts: str = "!$%+?=#|"          # alert characters the unit emits
    nominal_input: float = 230.0
    frequency: float = 50.00
    battery_nominal: float = 24.0
    full_runtime_min: float = 62.0    # runtime at 100 % charge and the simulated load
    load: float = 4.5
    temperature: float = 31.0

    def caps_reply(self) -> str:
        """Reply to ^Z (0x1A): '#' followed by one record per settable value and locale."""
        return "#" + "".join(v.record() for v in self.eeprom + self.extra_caps)

    @property
    def locale(self) -> str:
        fw = self.firmware_b or self.firmware_v or ""
        return fw[-1:] if fw else ""


# The protocol-3 command list a Smart-UPS 1500 (firmware 601.x) reports: ^A model, ^N load on, ^Z caps,
# then the query and action characters.  Chars NUT does not use (' + - 7 8 y z ~ DEL) are listed as a real unit does.
_SU1500_CMDS = ("\x01\x0e\x1a'+-789>@ABCDEFGKLMNOPQRSUWXYZ"
                "bcefgjklmnopqrsuxyz~\x7f")

SMART_UPS_1500 = Profile(
    key="smart-ups-1500",
    description="new-generation Smart-UPS 1500, 230 V, protocol 3 with EEPROM capabilities",
    cmdset="3.!$%+?=#|." + _SU1500_CMDS,
    firmware_b="601.3.I",
    firmware_v=None,
    model_name="Smart-UPS 1500",
    identity={"n": "AS0537230534", "m": "09/06/05", "x": "09/06/05", "c": "UPS_IDEN",
              "g": "024", ">": "000", "7": "0F", "y": "(C) APCC"},
    eeprom=[
        EepromVar("u", ["253", "264", "271", "280"], "I"),
        EepromVar("l", ["196", "188", "208", "204"], "I", "208"),
        EepromVar("o", ["230", "240", "220", "225"], "I"),
        EepromVar("e", ["00", "15", "50", "90"]),
        EepromVar("s", ["H", "M", "L", "L"]),
        EepromVar("q", ["02", "05", "07", "10"]),
        EepromVar("p", ["020", "090", "180", "300"], current="090"),
        EepromVar("k", ["0", "T", "L", "N"]),
        EepromVar("r", ["000", "060", "180", "300"]),
        EepromVar("E", ["336", "168", "ON ", "OFF"]),
    ],
    # the same firmware family also describes its 120 V ('D') and 100 V ('J') variants
    extra_caps=[
        EepromVar("u", ["127", "130", "133", "136"], "D"),
        EepromVar("l", ["106", "103", "100", "097"], "D"),
        EepromVar("o", ["115"], "D"),
        EepromVar("u", ["108", "110", "112", "114"], "J"),
        EepromVar("l", ["092", "090", "088", "086"], "J"),
        EepromVar("o", ["100"], "J"),
    ],
    supported="YRa\x1bV" + _SU1500_CMDS,
)

# An early-1990s Smart-UPS 1250 (120 V): no 'a', no ^A, no capabilities; identified by its 'V' reply "8QD",
# which NUT's compatibility table maps to a fixed command list.  '@' takes two digits; shutdowns answer '*'.
SMART_UPS_1250_OLD = Profile(
    key="smart-ups-1250-old",
    description="old Smart-UPS 1250 (firmware 8QD), no command-set query, no capabilities",
    cmdset=None,
    firmware_b=None,
    firmware_v="8QD",
    model_name=None,
    identity={"n": "09000717", "m": "03/11/94", "x": "03/11/94", "c": "UPS_IDEN", "g": "024", "7": "0F"},
    eeprom=[
        EepromVar("u", ["129", "132", "135", "138"], "D", "132"),
        EepromVar("l", ["097", "100", "103", "106"], "D", "103"),
        EepromVar("o", ["115"], "D"),
        EepromVar("e", ["00", "15", "50", "90"]),
        EepromVar("s", ["H", "M", "L", "L"]),
        EepromVar("q", ["02", "05", "07", "10"]),
        EepromVar("p", ["020", "180", "300", "600"]),
        EepromVar("k", ["0", "T", "L", "N"]),
        EepromVar("r", ["000", "060", "180", "300"]),
        EepromVar("E", ["336", "168", "ON ", "OFF"]),
    ],
    supported="YR\x1bV\x0e-@79ABCDEFGKLMNOPQSUWXZcefgjklmnopqrsuxz",
    at_digits=2,
    shutdown_ack="*",
    alerts="!$%+?=#",
    nominal_input=120.0,
    frequency=60.00,
    full_runtime_min=35.0,
    load=23.4,
    temperature=36.0,
)

PROFILES: dict[str, Profile] = {p.key: p for p in (SMART_UPS_1500, SMART_UPS_1250_OLD)}
