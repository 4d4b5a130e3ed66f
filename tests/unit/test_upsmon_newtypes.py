"""The notify types later NUT added after 2.8.0 (ECO, ALARM, OVER, TRIM, BOOST, OTHER and their NOT forms):
raised and cleared by the sans-I/O monitor, NUT's stock texts, default flags and %s substitution, and no
influence on the shutdown verdict."""

from __future__ import annotations

import pytest

from pnut.upsmon.config import parse_upsmon_conf
from pnut.upsmon.monitor import Decider
from pnut.upsmon.notify import Flag, Notifier, format_message
from pnut.upsmon.notify import NotifyType as N

PRIMARY = "MONITOR ups@h 1 u p primary\nHOSTSYNC 15\nDEADTIME 15\nPOLLFREQ 5\nPOLLFREQALERT 1\n"


def make(text: str = PRIMARY):
    conf = parse_upsmon_conf(text)
    seen: list[tuple] = []
    d = Decider(conf, lambda t, s, x=None: seen.append((t, s, x)))
    return d, seen


def feed(d: Decider, statuses, alarm=None):
    u = d.upses[0]
    for i, st in enumerate(statuses):
        d.status(u, st, 100 + i, alarm)
    return u


def types(seen):
    return [t for t, _, _ in seen]


# --- stock texts: NUT's own strings (clients/upsmon.h notifylist, NUT after 2.8.0) ------------------------

STOCK = {
    "ECO": "UPS %s: in ECO mode (as defined by vendor)",
    "NOTECO": "UPS %s: no longer in ECO mode",
    "ALARM": "UPS %s: one or more active alarms: [%s]",
    "NOTALARM": "UPS %s is no longer in an alarm state (no active alarms)",
    "OVER": "UPS %s: overloaded",
    "NOTOVER": "UPS %s: no longer overloaded",
    "TRIM": "UPS %s: trimming incoming voltage",
    "NOTTRIM": "UPS %s: no longer trimming incoming voltage",
    "BOOST": "UPS %s: boosting incoming voltage",
    "NOTBOOST": "UPS %s: no longer boosting incoming voltage",
    "OTHER": "UPS %s: has at least one unclassified status token: [%s]",
    "NOTOTHER": "UPS %s has no unclassified status tokens anymore",
}


@pytest.mark.parametrize("name", sorted(STOCK))
def test_stock_text_and_default_flags(name):
    t = N.lookup(name.lower())
    assert t is not None and t.value == STOCK[name]
    assert Notifier().flags_for(t) == Flag.SYSLOG | Flag.WALL


def test_cal_keeps_the_280_default_flag():
    assert Notifier().flags_for(N.CAL) == Flag.SYSLOG


def test_second_placeholder_carries_the_extra():
    assert format_message(N.ALARM.value, "ups@h", "Replace battery!") == \
        "UPS ups@h: one or more active alarms: [Replace battery!]"
    assert format_message(N.OTHER.value, "ups@h", "TEST") == \
        "UPS ups@h: has at least one unclassified status token: [TEST]"
    assert format_message("%s over", "ups@h", "ignored") == "ups@h over"


def test_notifymsg_override_with_two_placeholders():
    conf = parse_upsmon_conf(PRIMARY + 'NOTIFYMSG ALARM "%s alarm: %s"\nNOTIFYFLAG ALARM SYSLOG\n')
    assert conf.notifymsg[N.ALARM] == "%s alarm: %s"
    assert conf.notifyflag[N.ALARM] == Flag.SYSLOG
    n = Notifier(messages=conf.notifymsg, dry_run=True)
    notice = n.notify(N.ALARM, "ups@h", "On fire")
    assert notice.message == "ups@h alarm: On fire"


# --- raised and cleared by status words ----------------------------------------------------------------

@pytest.mark.parametrize("word", ["ECO", "OVER", "TRIM", "BOOST"])
def test_simple_pairs(word):
    d, seen = make()
    feed(d, ["OL", f"OL {word}", f"OL {word}", "OL", "OL"])
    assert types(seen) == [N[word], N["NOT" + word]]
    assert seen[0][1] == "ups@h"


def test_lowercase_word_counts():
    d, seen = make()
    feed(d, ["OL trim", "OL"])
    assert types(seen) == [N.TRIM, N.NOTTRIM]


def test_present_at_startup_is_notified():
    d, seen = make()
    feed(d, ["OL BOOST"])
    assert types(seen) == [N.BOOST]


def test_clearing_comes_before_the_new_words():
    d, seen = make()
    feed(d, ["OL TRIM", "OL BOOST"])
    assert types(seen) == [N.TRIM, N.NOTTRIM, N.BOOST]


def test_alarm_carries_ups_alarm_and_renotifies_on_change():
    d, seen = make()
    u = d.upses[0]
    d.status(u, "OL", 100)
    d.status(u, "OL ALARM", 101, "Replace battery!")
    d.status(u, "OL ALARM", 102, "Replace battery!")
    d.status(u, "OL ALARM", 103, "Replace battery! Fan failure!")
    d.status(u, "OL ALARM", 104, None)              # ups.alarm unreadable this time: no change assumed
    d.status(u, "OL", 105)
    assert seen == [(N.ALARM, "ups@h", "Replace battery!"),
                    (N.ALARM, "ups@h", "Replace battery! Fan failure!"),
                    (N.NOTALARM, "ups@h", None)]


def test_alarm_without_ups_alarm_says_na():
    d, seen = make()
    feed(d, ["OL ALARM"])
    assert seen == [(N.ALARM, "ups@h", "n/a")]


def test_alarm_polls_faster_until_cleared():
    d, _ = make()
    feed(d, ["OL"])
    assert d.sleepval == 5
    feed(d, ["OL ALARM"])
    assert d.sleepval == 1
    feed(d, ["OL"])
    assert d.sleepval == 5


def test_over_polls_faster_only_with_overduration():
    d, _ = make()
    feed(d, ["OL", "OL OVER"])
    assert d.sleepval == 5
    d, _ = make(PRIMARY + "OVERDURATION 30\n")
    feed(d, ["OL", "OL OVER"])
    assert d.sleepval == 1


# --- OTHER / NOTOTHER: status words upsmon does not know ----------------------------------------------

def test_other_appears_changes_and_goes():
    d, seen = make()
    feed(d, ["OL", "OL TEST", "OL TEST", "OL TEST FOO", "OL FOO", "OL", "OL"])
    assert seen == [(N.OTHER, "ups@h", "TEST"),
                    (N.OTHER, "ups@h", "TEST FOO"),
                    (N.OTHER, "ups@h", "FOO"),
                    (N.NOTOTHER, "ups@h", None)]


def test_known_quiet_words_are_not_other():
    d, seen = make()
    feed(d, ["OL CHRG", "OB DISCHRG", "OL HB RB"])
    assert N.OTHER not in types(seen)


# --- no influence on the shutdown verdict ---------------------------------------------------------------

@pytest.mark.parametrize("extra", ["ECO", "ALARM", "OVER", "TRIM", "BOOST", "WEIRD"])
def test_new_words_never_make_a_ups_critical(extra):
    d, _ = make()
    feed(d, ["OL", f"OL {extra}", f"OB {extra}"])
    assert not d.must_shutdown(110)


@pytest.mark.parametrize("extra", ["ECO", "ALARM", "OVER", "TRIM", "BOOST", "WEIRD"])
def test_new_words_never_prevent_a_shutdown(extra):
    d, seen = make()
    feed(d, ["OL", f"OB LB {extra}"])
    assert d.must_shutdown(110)
    assert N.LOWBATT in types(seen)


def test_notifier_delivers_extra_in_dry_run():
    n = Notifier(dry_run=True)
    d = Decider(parse_upsmon_conf(PRIMARY), n.notify)
    d.status(d.upses[0], "OL ALARM", 100, "Overheat")
    assert [x.message for x in n.sent] == ["UPS ups@h: one or more active alarms: [Overheat]"]
