"""conf/paths.py: where NUT programs look for things, and how the NUT_* variables override it (the rules of
common/common.c in NUT 2.8.0, with Debian's built-in directories)."""

from __future__ import annotations

import pytest

from pnut.conf import paths

VARS = ("NUT_CONFPATH", "NUT_STATEPATH", "NUT_ALTPIDPATH", "NUT_PIDPATH")


@pytest.fixture
def env(monkeypatch):
    for v in VARS:
        monkeypatch.delenv(v, raising=False)
    return monkeypatch


def test_debian_defaults(env):
    assert paths.confpath() == "/etc/nut"
    assert paths.statepath() == "/run/nut"
    assert paths.altpidpath() == "/run/nut"
    assert paths.pidpath() == "/run/nut"
    assert paths.conffile("ups.conf") == "/etc/nut/ups.conf"
    assert (paths.DRVPATH, paths.DATADIR, paths.PORT) == ("/lib/nut", "/usr/share/nut", 3493)
    assert (paths.RUN_AS_USER, paths.RUN_AS_GROUP) == ("nut", "nut")


def test_confpath_is_used_even_when_empty(env):
    env.setenv("NUT_CONFPATH", "/tmp/c")
    assert paths.confpath() == "/tmp/c"
    assert paths.conffile("upsd.conf") == "/tmp/c/upsd.conf"
    env.setenv("NUT_CONFPATH", "")
    assert paths.confpath() == ""
    assert paths.conffile("ups.conf") == "/ups.conf"     # NUT's "%s/ups.conf"
    env.setenv("NUT_CONFPATH", "/tmp/c/")
    assert paths.conffile("ups.conf") == "/tmp/c//ups.conf"


def test_statepath_ignores_an_empty_value(env):
    env.setenv("NUT_STATEPATH", "/tmp/s")
    assert paths.statepath() == "/tmp/s"
    env.setenv("NUT_STATEPATH", "")
    assert paths.statepath() == "/run/nut"


@pytest.mark.parametrize("alt,state,expected", [
    (None, None, "/run/nut"),
    ("/a", None, "/a"),
    ("/a", "/s", "/a"),
    (None, "/s", "/s"),
    ("", "/s", "/s"),             # an empty NUT_ALTPIDPATH counts as unset
    ("", "", "/run/nut"),
    (None, "", "/run/nut"),
])
def test_altpidpath_falls_back_to_statepath(env, alt, state, expected):
    if alt is not None:
        env.setenv("NUT_ALTPIDPATH", alt)
    if state is not None:
        env.setenv("NUT_STATEPATH", state)
    assert paths.altpidpath() == expected


def test_pidpath(env):
    env.setenv("NUT_STATEPATH", "/s")           # not consulted: 2.8.0 has no variable for PIDPATH at all
    assert paths.pidpath() == "/run/nut"
    env.setenv("NUT_PIDPATH", "/p")             # later NUT's variable, honoured by pnut
    assert paths.pidpath() == "/p"
    env.setenv("NUT_PIDPATH", "")
    assert paths.pidpath() == "/run/nut"


def test_values_are_read_at_call_time(env):
    assert paths.statepath() == "/run/nut"
    env.setenv("NUT_STATEPATH", "/later")
    assert paths.statepath() == "/later"
