"""The APC Smart-UPS simulator's protocol engine, driven byte by byte on a fake clock."""

from __future__ import annotations

import pytest

from pnut.drivers.apcsmart_sim import SmartUPS, Status
from pnut.drivers.apcsmart_sim_models import PROFILES


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clk() -> Clock:
    return Clock()


def make(clk: Clock, model: str = "smart-ups-1500", **kw) -> SmartUPS:
    ups = SmartUPS(model, clock=clk, wallclock=clk, **kw)
    assert ups.feed(b"Y") == b"SM\r\n"
    return ups


def ask(ups: SmartUPS, data: str) -> str:
    return ups.feed(data.encode("latin-1")).decode("latin-1")


def test_dumb_until_Y_then_smart(clk):
    ups = SmartUPS(clock=clk, wallclock=clk)
    assert ups.feed(b"Q") == b""                  # a unit in dumb mode says nothing
    assert ups.feed(b"Y") == b"SM\r\n"
    assert ask(ups, "Q") == "08\r\n"
    assert ask(ups, "R") == "BYE\r\n"
    assert ask(ups, "Q") == ""


def test_identification_new_model(clk):
    ups = make(clk)
    assert ask(ups, "V") == "NA\r\n"
    assert ask(ups, "b") == "601.3.I\r\n"
    assert ask(ups, "\x01") == "Smart-UPS 1500\r\n"
    assert ask(ups, "n") == "AS0537230534\r\n"
    cmdset = ask(ups, "a")
    assert cmdset.startswith("3.!$%+?=#|.") and cmdset.endswith("\r\n")
    assert "\x1a" in cmdset and "." not in cmdset[11:]
    caps = ask(ups, "\x1a")
    assert caps.startswith("#uI4325326427128") and caps.endswith("\r\n")
    assert "E443336168ON OFF" in caps


def test_identification_old_model(clk):
    ups = make(clk, "smart-ups-1250-old")
    assert ask(ups, "V") == "8QD\r\n"
    for c in ("a", "b", "\x1a", "\x01"):
        assert ask(ups, c) == "NA\r\n"
    assert ask(ups, "L") == "119.6\r\n"


def test_value_formats(clk):
    ups = make(clk)
    replies = {c: ask(ups, c) for c in "CPLFOfBjgGXp9E"}
    assert replies == {"C": "031.0\r\n", "P": "004.5\r\n", "L": "236.1\r\n", "F": "50.00\r\n",
                       "O": "236.1\r\n", "f": "100.0\r\n", "B": "27.40\r\n", "j": "0062:\r\n",
                       "g": "024\r\n", "G": "O\r\n", "X": "NO\r\n", "p": "090\r\n", "9": "FF\r\n",
                       "E": "336\r\n"}
    assert ask(ups, "?") == "NA\r\n"


def test_power_failure_alerts_and_drain(clk):
    ups = make(clk, drain_rate=0.5)
    ups.power_fail()
    assert ups.tick() == b"!"
    assert ask(ups, "Q") == "10\r\n"
    assert ask(ups, "L") == "000.0\r\n"
    assert ask(ups, "G") == "L\r\n"
    clk.t += 10
    assert ask(ups, "f") == "095.0\r\n"
    ups.set_runtime(1)                              # under the 2-minute low-battery warning
    assert ups.tick() == b"%"
    assert ask(ups, "Q") == "50\r\n"
    ups.power_restore()
    assert ups.tick() == b"$+"
    assert ask(ups, "Q") == "08\r\n"


def test_forced_flags(clk):
    ups = make(clk)
    ups.set_low_battery(True)
    ups.set_replace_battery(True)
    ups.set_overload(True)
    assert ups.tick() == b"%#?"
    assert Status(int(ask(ups, "Q"), 16)) == Status.OL | Status.LB | Status.RB | Status.OVER
    ups.set_overload(False)
    assert ups.tick() == b"="


def test_K_needs_a_spaced_repeat(clk):
    ups = make(clk)
    assert ask(ups, "K") == ""
    clk.t += 0.3
    assert ask(ups, "K") == ""                      # too soon: still waiting
    clk.t += 1.2
    assert ask(ups, "K") == "OK\r\n"
    (order,) = ups.shutdowns
    assert (order.command, order.raw, order.grace, order.returns) == ("K", b"KK", 90.0, False)
    assert order.byte_times == [1000.0, 1001.5]
    clk.t += 89
    assert ask(ups, "Q") == "08\r\n"
    clk.t += 2
    assert ask(ups, "Q") == "00\r\n"                # off, and it stays off on mains
    clk.t += 600
    assert ask(ups, "Q") == "00\r\n"
    assert ask(ups, "\x0e") == ""
    clk.t += 1.5
    assert ask(ups, "\x0e") == ""
    assert ask(ups, "Q") == "08\r\n"


def test_repeat_too_late_or_interrupted_is_ignored(clk):
    ups = make(clk)
    ask(ups, "Z")
    clk.t += 6
    assert ask(ups, "Z") == ""                      # too late: this counts as a new first byte
    assert ups.shutdowns == []
    assert ask(ups, "Q") == "08\r\n"                # another byte in between cancels the pending Z
    clk.t += 1.5
    assert ask(ups, "Z") == ""
    assert ups.shutdowns == []
    assert any(e.kind == "ignored" for e in ups.events)


def test_Z_is_immediate_and_silent(clk):
    ups = make(clk)
    ask(ups, "Z")
    clk.t += 1.5
    assert ask(ups, "Z") == ""
    assert ups.shutdowns[0].command == "Z"
    assert ask(ups, "Q") == "00\r\n"


def test_S_only_on_battery_and_returns(clk):
    ups = make(clk)
    assert ask(ups, "S") == "NA\r\n"
    assert ups.shutdowns == []
    ups.power_fail()
    ups.tick()
    assert ask(ups, "S") == "OK\r\n"
    (order,) = ups.shutdowns
    assert order.returns and order.off_at == order.accepted_at + 90
    clk.t += 91
    assert ups.tick() == b""
    assert not ups.output_on
    assert ask(ups, "Y") == ""                      # no mains, output off: the unit is dead
    ups.power_restore()
    assert ups.output_on                            # delay.start 000, restart charge 00
    assert ask(ups, "Q") == ""                      # it was unpowered: back in dumb mode
    assert ask(ups, "YQ") == "SM\r\n08\r\n"


def test_grace_delay_from_eeprom_or_control(clk):
    ups = make(clk)
    ups.set_eeprom("p", "005")
    assert ask(ups, "p") == "005\r\n"
    assert ask(ups, "@000") == "OK\r\n"
    clk.t += 4.9
    assert ups.tick() == b"" and ups.output_on
    clk.t += 0.2
    ups.tick()
    assert ups.shutdowns[0].off_at == 1005.0
    # '@000' on mains: off after the grace delay, then straight back (no extra wake-up delay, r = 000)
    assert [e.kind for e in ups.events][-2:] == ["output-off", "output-on"]


def test_at_command_three_digits_sets_wakeup_delay(clk):
    ups = make(clk)
    assert ask(ups, "@") == ""
    assert ask(ups, "00") == ""
    assert ask(ups, "5") == "OK\r\n"
    (order,) = ups.shutdowns
    assert (order.raw, order.wake_delay, order.returns) == (b"@005", 1800.0, True)
    clk.t += 91
    ups.tick()
    assert not ups.output_on
    clk.t += 1700
    ups.tick()
    assert not ups.output_on                        # mains is on, but the wake-up delay runs
    clk.t += 200
    ups.tick()
    assert ups.output_on


def test_old_model_two_digit_at_and_star_ack(clk):
    ups = make(clk, "smart-ups-1250-old")
    assert ask(ups, "@05") == "*"
    assert ups.shutdowns[0].wake_delay == 1800.0
    assert ask(ups, "K") == ""
    clk.t += 1.5
    assert ask(ups, "K") == "*"


def test_at_cut_short(clk):
    ups = make(clk)
    assert ask(ups, "@0Q") == "08\r\n"
    assert ups.shutdowns == []


def test_eeprom_rotation(clk):
    ups = make(clk)
    assert ask(ups, "p") == "090\r\n"
    assert ask(ups, "-") == "OK\r\n|"
    assert ask(ups, "p") == "180\r\n"
    assert ask(ups, "-") == "OK\r\n|"
    assert ask(ups, "-") == "NA\r\n"                # '-' must follow a query
    assert ask(ups, "p") == "300\r\n"
    assert ask(ups, "p-p-") == "300\r\nOK\r\n|020\r\nOK\r\n|"
    assert ask(ups, "p") == "090\r\n"


def test_string_set(clk):
    ups = make(clk)
    assert ask(ups, "c") == "UPS_IDEN\r\n"
    assert ask(ups, "-") == ""
    assert ask(ups, "rack1\r\r\r") == "OK\r\n|"
    assert ask(ups, "c") == "rack1\r\n"


def test_self_test_calibration_and_simulated_failure(clk):
    ups = make(clk)
    assert ask(ups, "W") == "OK\r\n"
    clk.t += 3.5
    assert ask(ups, "X") == "OK\r\n"
    assert ask(ups, "A") == "OK\r\n"
    assert ask(ups, "D") == "OK\r\n"
    assert Status.CAL in Status(int(ask(ups, "Q"), 16))
    assert ask(ups, "D") == "OK\r\n"
    assert ask(ups, "Q") == "08\r\n"
    ups.set_charge(80)
    assert ask(ups, "D") == "NO\r\n"                # calibration needs a full battery
    assert ask(ups, "U") == "OK\r\n!"
    assert ask(ups, "Q") == "10\r\n"
    assert ask(ups, "G") == "S\r\n"
    clk.t += 5.5
    assert ups.tick() == b"$"


def test_battery_exhaustion_switches_off(clk):
    ups = make(clk, drain_rate=10.0)
    ups.power_fail()
    clk.t += 11
    ups.tick()
    assert not ups.output_on
    assert any(e.kind == "output-off" and "exhausted" in e.detail for e in ups.events)


def test_profiles_are_consistent():
    for p in PROFILES.values():
        if p.cmdset:
            assert all(c in p.supported for c in p.cmdset.split(".")[2])
        assert len(p.caps_reply()) < 512
