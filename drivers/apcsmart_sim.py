"""A simulated APC Smart-UPS speaking the UPS-Link ("smart") serial protocol, for tests and demos.

`SmartUPS` is a sans-I/O state machine: bytes from the host go into `feed()`, replies and unsolicited alert
characters come back out; `tick()` lets simulated time pass (battery drain, grace delays, self-test).  The pty
runner and the control socket live in `apcsmart_sim_pty`; `python -m pnut.drivers.apcsmart_sim` starts both.
"""

from __future__ import annotations

import copy
import enum
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pnut.drivers.apcsmart_sim_models import PROFILES, Profile

CRLF = "\r\n"
ESC = "\x1b"
LOAD_ON = "\x0e"        # ^N
REPEATED = ("K", "Z", LOAD_ON)   # commands a unit only obeys when the same byte comes twice


class Status(enum.IntFlag):
    """Bits of the 'Q' status register, in the order NUT turns them into ups.status words."""

    CAL = 0x01
    TRIM = 0x02
    BOOST = 0x04
    OL = 0x08
    OB = 0x10
    OVER = 0x20
    LB = 0x40
    RB = 0x80


@dataclass
class Event:
    """One thing the simulated unit did or was told, with both clocks."""

    t: float            # simulator clock (monotonic seconds)
    wall: float         # time.time() at that moment
    kind: str           # e.g. "shutdown", "output-off", "output-on", "power-fail", "ignored", "eeprom"
    detail: str = ""


@dataclass
class ShutdownOrder:
    """A shutdown the unit accepted: what, when each byte came, and when it acts."""

    command: str                  # "S", "@", "K" or "Z"
    raw: bytes                    # every byte that made up the command ("KK", "@005", ...)
    byte_times: list[float]       # simulator-clock arrival time of each byte
    accepted_at: float            # when the command became effective (last byte)
    wall: float                   # time.time() of acceptance
    grace: float                  # seconds from acceptance to output off
    wake_delay: float             # minimum seconds off ('@nnn': nnn * 6 minutes)
    returns: bool                 # comes back by itself once mains is present
    off_at: float = 0.0
    done: bool = False            # output has gone off

    def __post_init__(self) -> None:
        self.off_at = self.accepted_at + self.grace


@dataclass
class SmartUPS:
    """The unit: protocol engine plus a small electrical model (mains, battery, output)."""

    model: str | Profile = "smart-ups-1500"
    clock: Callable[[], float] = time.monotonic
    wallclock: Callable[[], float] = time.time
    drain_rate: float = 0.5          # % of charge lost per second on battery
    charge_rate: float = 0.2         # % gained per second on mains
    repeat_min: float = 1.0          # second byte of K/Z/^N must come at least this long after the first ...
    repeat_max: float = 5.0          # ... and no later than this (NUT sends it ~1.5 s later)
    selftest_time: float = 3.0       # seconds a 'W' self-test runs
    simfail_time: float = 5.0        # seconds a 'U' simulated power failure lasts
    silent_when_off: bool = True     # output off with no mains: the unit is dead and answers nothing

    profile: Profile = field(init=False)
    events: deque[Event] = field(init=False)
    shutdowns: list[ShutdownOrder] = field(init=False)
    received: deque[tuple[float, bytes]] = field(init=False)

    def __post_init__(self) -> None:
        base = PROFILES[self.model] if isinstance(self.model, str) else self.model
        self.profile = copy.deepcopy(base)
        p = self.profile
        self.events = deque(maxlen=10000)
        self.shutdowns = []
        self.received = deque(maxlen=20000)
        self.eeprom = {v.char: v for v in p.eeprom}
        self.strings = {c: p.identity[c] for c in "cx" if c in p.identity}
        self.smart = False
        self.mains = True
        self.input_voltage = p.nominal_input + 6.1 if p.nominal_input > 200 else p.nominal_input - 0.4
        self.output_on = True
        self.charge = 100.0
        self.full_runtime_min = p.full_runtime_min
        self.load = p.load
        self.forced_lb: bool | None = None
        self.replace_battery = False
        self.overload = False
        self.calibrating = False
        self.transfer_reason = "O"
        self.test_result = "NO"
        self.selftest_until: float | None = None
        self.simfail_until: float | None = None
        self.mains_back_at: float | None = None
        self.pending: ShutdownOrder | None = None
        self._t = self.clock()
        self._vmax = self._vmin = self.input_voltage
        self._collect: tuple[str, bytearray, list[float]] | None = None   # '@' digits or '-' string being read
        self._first: tuple[str, float] | None = None                     # first byte of a repeated command
        self._last_var: str | None = None                                 # target of a following '-'
        self._flags = self.status()
        self._out = bytearray()

    # ------------------------------------------------------------------ host side (bytes in, bytes out)

    def feed(self, data: bytes) -> bytes:
        """Process bytes written by the host; return everything the unit sends back (replies and alerts)."""
        self._advance()
        for b in data:
            now = self.clock()
            self.received.append((now, bytes([b])))
            if self.silent_when_off and not self.output_on and not self.mains:
                continue
            self._byte(chr(b), now)
            self._alerts()
        return self._take()

    def tick(self) -> bytes:
        """Let simulated time pass; return alerts the unit sends on its own."""
        self._advance()
        return self._take()

    # ------------------------------------------------------------------ control side (tests and demos)

    def power_fail(self, reason: str = "L") -> None:
        """Mains fails now; `reason` is the transfer cause reported by 'G'."""
        self._advance()
        if self.mains:
            self.mains = False
            self.transfer_reason = reason
            self._event("power-fail", f"reason {reason}")
        self._alerts()

    def power_restore(self) -> None:
        """Mains comes back now."""
        self._advance()
        if not self.mains:
            self.mains = True
            self.mains_back_at = self.clock()
            self._event("power-restore")
        self._advance()
        self._alerts()

    def set_charge(self, percent: float) -> None:
        self._advance()
        self.charge = max(0.0, min(100.0, float(percent)))
        self._alerts()

    def set_runtime(self, minutes: float) -> None:
        """Make the present charge last `minutes` (scales the whole runtime curve)."""
        self._advance()
        self.full_runtime_min = float(minutes) * 100.0 / max(self.charge, 0.1)
        self._alerts()

    def set_low_battery(self, on: bool | None) -> None:
        """Force the LB bit on or off; None returns to the runtime-based rule."""
        self._advance()
        self.forced_lb = on
        self._alerts()

    def set_replace_battery(self, on: bool) -> None:
        self._advance()
        self.replace_battery = bool(on)
        self._alerts()

    def set_overload(self, on: bool) -> None:
        self._advance()
        self.overload = bool(on)
        self.load = 110.0 if on else self.profile.load
        self._alerts()

    def set_eeprom(self, char: str, value: str) -> None:
        """Put an EEPROM setting straight to `value`, permitted or not (e.g. a 5 s grace delay for a test)."""
        self._advance()
        self.eeprom[char].current = value
        self._event("eeprom", f"{char}={value!r} (control)")

    def set_input_voltage(self, volts: float) -> None:
        self._advance()
        self.input_voltage = float(volts)
        self._track_voltage()
        self._alerts()

    def runtime_minutes(self) -> float:
        return self.full_runtime_min * self.charge / 100.0

    def on_battery(self) -> bool:
        return self.output_on and (not self.mains or self.simfail_until is not None)

    def status(self) -> Status:
        """The status register as 'Q' reports it."""
        flags = Status(0)
        if self.replace_battery:
            flags |= Status.RB
        if not self.output_on:
            return flags
        flags |= Status.OB if self.on_battery() else Status.OL
        if self.calibrating:
            flags |= Status.CAL
        if self.overload:
            flags |= Status.OVER
        low = self.on_battery() and self.runtime_minutes() < int(self._eeprom_value("q", "02"))
        if self.forced_lb is not None:
            low = self.forced_lb
        if low:
            flags |= Status.LB
        if self.mains and self.output_on and not self.on_battery():
            high, lowv = self._trim_boost_limits()
            if self.input_voltage > high:
                flags |= Status.TRIM
            elif self.input_voltage < lowv:
                flags |= Status.BOOST
        return flags

    def snapshot(self) -> dict[str, object]:
        """A readable summary for tests and the control socket."""
        self._advance()
        return {
            "model": self.profile.key, "smart": self.smart, "mains": self.mains, "output": self.output_on,
            "status": f"{int(self.status()):02X}", "charge": round(self.charge, 2),
            "runtime_min": round(self.runtime_minutes(), 2), "test_result": self.test_result,
            "calibrating": self.calibrating,
            "eeprom": {c: v.current for c, v in self.eeprom.items()}, "strings": dict(self.strings),
            "pending": self.pending.command if self.pending and not self.pending.done else None,
        }

    # ------------------------------------------------------------------ internals: one byte

    def _byte(self, c: str, now: float) -> None:
        if self._collect is not None:
            if self._collect_byte(c, now):
                return
        first, self._first = self._first, None
        if c in REPEATED and self.smart and c in self.profile.supported:
            self._repeated(c, now, first)
            self._last_var = None
            return
        if first is not None:
            self._event("ignored", f"{_show(first[0])} not repeated (next byte {_show(c)})")
        if not self.smart:
            if c == "Y":
                self.smart = True
                self._reply("SM")
            return          # a unit in "dumb" mode ignores everything else
        if c == "-":
            self._next_value(now)
            return
        self._last_var = None
        if c not in self.profile.supported:
            self._reply("NA")
            return
        handler = getattr(self, "_cmd_" + _NAMES.get(c, ""), None)
        if handler is not None:
            handler(now)
            return
        value = self._query(c)
        if value is None:
            self._reply("NA")
            return
        if c in self.eeprom or c in self.strings:
            self._last_var = c
        self._reply(value)

    def _query(self, c: str) -> str | None:
        p = self.profile
        on = self.output_on
        match c:
            case "Q":
                return f"{int(self.status()):02X}"
            case "C":
                return f"{p.temperature:05.1f}"
            case "P":
                return f"{self.load if on else 0.0:05.1f}"
            case "L":
                return f"{self._line_voltage():05.1f}"
            case "M":
                value, self._vmax = self._vmax, self._line_voltage()
                return f"{value:05.1f}"
            case "N":
                value, self._vmin = self._vmin, self._line_voltage()
                return f"{value:05.1f}"
            case "F":
                return f"{p.frequency if self.mains else 0.0:05.2f}"
            case "O":
                return f"{self._output_voltage():05.1f}"
            case "f":
                return f"{self.charge:05.1f}"
            case "B":
                sag = 1.0 if self.on_battery() else 0.0
                return f"{p.battery_nominal * (1.0 + 0.1417 * self.charge / 100.0) - sag:05.2f}"
            case "j":
                return f"{int(self.runtime_minutes()):04d}:"
            case "G":
                return self.transfer_reason
            case "X":
                return self.test_result
            case "9":
                return "FF" if self.mains else "00"
            case "a":
                return p.cmdset
            case "b":
                return p.firmware_b
            case "V":
                return p.firmware_v
            case "\x01":
                return p.model_name
            case "\x1a":
                return p.caps_reply() if p.eeprom and p.cmdset and "\x1a" in p.cmdset else None
        if c in self.eeprom:
            return self.eeprom[c].current
        if c in self.strings:
            return self.strings[c]
        return p.identity.get(c)

    # ------------------------------------------------------------------ internals: commands

    def _cmd_smart(self, now: float) -> None:
        self._reply("SM")

    def _cmd_dumb(self, now: float) -> None:
        self.smart = False
        self._reply("BYE")

    def _cmd_escape(self, now: float) -> None:
        self._reply("NA")

    def _cmd_panel_test(self, now: float) -> None:
        self._event("panel-test", "front panel lights and beeper test")
        self._reply("OK")

    def _cmd_simulate_failure(self, now: float) -> None:
        if not (self.mains and self.output_on) or self.simfail_until is not None:
            self._reply("NA")
            return
        self.simfail_until = now + self.simfail_time
        self.transfer_reason = "S"
        self._event("simulated-power-failure", f"{self.simfail_time:g} s on battery")
        self._reply("OK")

    def _cmd_self_test(self, now: float) -> None:
        if not (self.mains and self.output_on):
            self._reply("NO")
            return
        if self.selftest_until is None:
            self.selftest_until = now + self.selftest_time
            self._event("self-test", "started")
        self._reply("OK")

    def _cmd_calibrate(self, now: float) -> None:
        if self.calibrating:
            self.calibrating = False
            self._event("calibration", "stopped by host")
            self._reply("OK")
        elif self.mains and self.output_on and self.charge >= 99.95:
            self.calibrating = True
            self._event("calibration", "started")
            self._reply("OK")
        else:
            self._reply("NO")       # a unit calibrates only from full charge, on mains

    def _cmd_soft_shutdown(self, now: float) -> None:
        # 'S' only works on battery; on mains a real unit refuses it
        if not self.on_battery():
            self._event("ignored", "S while on line")
            self._reply("NA")
            return
        self._accept("S", b"S", [now], now, wake_delay=0.0, returns=True)

    def _cmd_grace_shutdown(self, now: float) -> None:
        self._collect = ("@", bytearray(b"@"), [now])      # digits follow; no reply until they are all in

    def _repeated(self, c: str, now: float, first: tuple[str, float] | None) -> None:
        if first is None or first[0] != c:
            if first is not None:
                self._event("ignored", f"{_show(first[0])} not repeated (next byte {_show(c)})")
            self._first = (c, now)          # wait silently for the confirmation byte
            return
        gap = now - first[1]
        if gap < self.repeat_min:
            self._event("ignored", f"{_show(c)} repeated too soon ({gap:.2f} s)")
            self._first = first             # keep waiting for a properly spaced repeat
            return
        if gap > self.repeat_max:
            self._event("ignored", f"{_show(c)} repeated too late ({gap:.2f} s)")
            self._first = (c, now)
            return
        times = [first[1], now]
        if c == "K":
            self._accept("K", b"KK", times, now, wake_delay=0.0, returns=False)
        elif c == "Z":
            order = ShutdownOrder("Z", b"ZZ", times, now, self.wallclock(), 0.0, 0.0, False)
            self._record(order)
            self._switch_off(now, order)    # immediate; the unit says nothing
        else:
            self._event("load-on", f"after {gap:.2f} s")
            if self.pending and not self.pending.done:
                self.pending = None
            if self.mains or self.charge > 0:
                self.output_on = True

    def _collect_byte(self, c: str, now: float) -> bool:
        """Feed a byte to a multi-byte command in progress; False if it ends that command unfinished."""
        kind, buf, times = self._collect  # type: ignore[misc]
        if kind == "@":
            if not c.isdigit():
                self._collect = None
                self._event("ignored", f"@ with digits {buf[1:].decode()!r} cut short by {_show(c)}")
                return False
            buf.append(ord(c))
            times.append(now)
            if len(buf) - 1 < self.profile.at_digits:
                return True
            self._collect = None
            wake = int(buf[1:].decode()) * 6 * 60.0
            self._accept("@", bytes(buf), times, now, wake_delay=wake, returns=True)
            return True
        buf.append(ord(c))          # '-' + 8 chars: new value of a string variable, CR padded
        times.append(now)
        if len(buf) < 9:
            return True
        self._collect = None
        value = buf[1:].decode("latin-1").rstrip("\r")
        self.strings[kind] = value
        self._event("eeprom", f"{kind}={value!r}")
        self._reply("OK")
        self._alert("|")
        return True

    def _next_value(self, now: float) -> None:
        target, self._last_var = self._last_var, None
        if target in self.strings:
            self._collect = (target, bytearray(b"-"), [now])
            return
        var = self.eeprom.get(target or "")
        if var is None or len(var.values) < 2:
            self._reply("NA" if var is None else "NO")
            return
        i = var.values.index(var.current) if var.current in var.values else -1
        var.current = var.values[(i + 1) % len(var.values)]
        self._event("eeprom", f"{var.char}={var.current!r}")
        self._reply("OK")
        self._alert("|")

    def _accept(self, command: str, raw: bytes, times: list[float], now: float,
                wake_delay: float, returns: bool) -> None:
        grace = float(int(self._eeprom_value("p", "020")))
        order = ShutdownOrder(command, raw, times, now, self.wallclock(), grace, wake_delay, returns)
        self._record(order)
        self._out += self.profile.shutdown_ack.encode("latin-1")

    def _record(self, order: ShutdownOrder) -> None:
        self.shutdowns.append(order)
        self.pending = order
        self._event("shutdown", f"{order.raw.decode('latin-1')!r} grace {order.grace:g} s, "
                                f"wake delay {order.wake_delay:g} s, {'returns' if order.returns else 'stays off'}")

    def _switch_off(self, now: float, order: ShutdownOrder | None, why: str = "") -> None:
        if order is not None:
            order.done = True
        if self.output_on:
            self.output_on = False
            self.calibrating = False
            self.simfail_until = None
            self._event("output-off", why or (f"after {order.command!r}" if order else ""))

    # ------------------------------------------------------------------ internals: time and physics

    def _advance(self) -> None:
        now = self.clock()
        dt = max(0.0, now - self._t)
        self._t = now
        if self.simfail_until is not None and now >= self.simfail_until:
            self.simfail_until = None
        if self.on_battery() or self.calibrating:
            self.charge = max(0.0, self.charge - self.drain_rate * dt)
            if self.charge <= 0.0 and self.on_battery():
                self._switch_off(now, None, "battery exhausted")
        elif self.mains:
            self.charge = min(100.0, self.charge + self.charge_rate * dt)
        if self.calibrating and self.charge <= 25.0:
            self.calibrating = False
            self._event("calibration", "finished")
        if self.selftest_until is not None and now >= self.selftest_until:
            self.selftest_until = None
            self.test_result = "BT" if self.replace_battery else "OK"
            self._event("self-test", f"result {self.test_result}")
        if self._collect is not None and now - self._collect[2][-1] > 2.0:
            self._event("ignored", f"incomplete {self._collect[1].decode('latin-1')!r}")
            self._collect = None
        order = self.pending
        if order is not None and not order.done and now >= order.off_at:
            self._switch_off(now, order)
        if order is not None and order.done and order.returns and not self.output_on and self.mains:
            back = max(order.off_at + order.wake_delay,
                       (self.mains_back_at or 0.0) + float(int(self._eeprom_value("r", "000"))))
            if now >= back and self.charge >= float(int(self._eeprom_value("e", "00"))):
                self.output_on = True
                self.pending = None
                self._event("output-on", f"return after {order.command!r}")
        if not self.output_on and not self.mains and self.smart:
            self.smart = False          # unpowered: it will boot in dumb mode when mains returns
        self._track_voltage()
        self._alerts()

    def _alerts(self) -> None:
        """Send the alert characters for status changes since the last look (only in smart mode)."""
        new = self.status()
        old, self._flags = self._flags, new
        if not self.smart or new == old:
            return
        if Status.OB in new and Status.OB not in old:
            self._alert("!")
        if Status.OL in new and Status.OB in old:
            self._alert("$")
        if Status.LB in new and Status.LB not in old:
            self._alert("%")
        if Status.LB in old and Status.LB not in new:
            self._alert("+")
        if Status.RB in new and Status.RB not in old:
            self._alert("#")
        if Status.OVER in new and Status.OVER not in old:
            self._alert("?")
        if Status.OVER in old and Status.OVER not in new:
            self._alert("=")

    def _alert(self, ch: str) -> None:
        if ch in self.profile.alerts:
            self._out += ch.encode("latin-1")

    def _line_voltage(self) -> float:
        return self.input_voltage if self.mains else 0.0

    def _output_voltage(self) -> float:
        if not self.output_on:
            return 0.0
        nominal = float(int(self._eeprom_value("o", f"{int(self.profile.nominal_input):03d}")))
        if self.on_battery():
            return nominal
        high, low = self._trim_boost_limits()
        if self.input_voltage > high or self.input_voltage < low:
            return nominal
        return self.input_voltage

    def _trim_boost_limits(self) -> tuple[float, float]:
        nominal = self.profile.nominal_input
        return nominal * 1.09, nominal * 0.91

    def _track_voltage(self) -> None:
        v = self._line_voltage()
        self._vmax = max(self._vmax, v)
        self._vmin = min(self._vmin, v)

    def _eeprom_value(self, c: str, default: str) -> str:
        var = self.eeprom.get(c)
        value = var.current if var else default
        return value if value.strip().isdigit() else default

    def _reply(self, text: str) -> None:
        self._out += (text + CRLF).encode("latin-1")

    def _event(self, kind: str, detail: str = "") -> None:
        self.events.append(Event(self.clock(), self.wallclock(), kind, detail))

    def _take(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out


_NAMES = {"Y": "smart", "R": "dumb", ESC: "escape", "A": "panel_test", "U": "simulate_failure",
          "W": "self_test", "D": "calibrate", "S": "soft_shutdown", "@": "grace_shutdown"}


def _show(c: str) -> str:
    return c if c.isprintable() else f"^{chr(ord(c) + 64)}" if ord(c) < 32 else f"\\x{ord(c):02x}"


def main(argv: list[str] | None = None) -> int:
    """`python -m pnut.drivers.apcsmart_sim`: run the simulator on a pseudo-terminal."""
    from pnut.drivers.apcsmart_sim_pty import main as pty_main
    return pty_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
