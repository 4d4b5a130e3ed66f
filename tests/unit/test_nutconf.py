"""nut.conf reader: the shell-assignment subset that both /bin/sh and systemd's EnvironmentFile accept."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import pnut.conf
from pnut.conf.nutconf import Mode, parse_nutconf, read_nutconf


@pytest.mark.parametrize("text,mode", [
    ("MODE=standalone\n", Mode.STANDALONE), ("MODE=netserver", Mode.NETSERVER),
    ("MODE='netclient'\n", Mode.NETCLIENT), ('MODE="none"\n', Mode.NONE), ("", Mode.NONE),
    ("# MODE=standalone\n", Mode.NONE), ("MODE=net\"server\"\n", Mode.NETSERVER),
])
def test_mode(text, mode):
    conf = parse_nutconf(text)
    assert conf.mode is mode and not conf.errors


def test_unknown_mode():
    conf = parse_nutconf("MODE=Standalone\n")
    assert conf.mode is None and conf.mode_text == "Standalone"
    assert not conf.upsd_enabled() and not conf.upsmon_enabled()


@pytest.mark.parametrize("mode,upsd,upsmon", [
    ("none", False, False), ("standalone", True, True), ("netserver", True, True), ("netclient", False, True),
])
def test_what_debian_wrappers_start(mode, upsd, upsmon):
    conf = parse_nutconf(f"MODE={mode}\n")
    assert (conf.upsd_enabled(), conf.upsmon_enabled()) == (upsd, upsmon)


def test_other_keys_quotes_comments_and_export():
    conf = parse_nutconf(
        "MODE=standalone   # the usual\n"
        "UPSD_OPTIONS='-D -u root'\n"
        'UPSMON_OPTIONS="-p \\"x\\" \\\\ $HOME"\n'
        "POWEROFF_WAIT=15m\n"
        "ALLOW_NO_DEVICE=true\n"
        "export ALLOW_NO_DEVICE\n"
        "export POWEROFF_QUIET=true A=1 B=\n"
        "EMPTY=\n"
        "JOINED=ab\\\ncd\n"
        "MULTI='line1\nline2'\n"
        "C=3 D=4\n")
    assert not conf.errors
    assert conf.values == {
        "MODE": "standalone", "UPSD_OPTIONS": "-D -u root", "UPSMON_OPTIONS": '-p "x" \\ $HOME',
        "POWEROFF_WAIT": "15m", "ALLOW_NO_DEVICE": "true", "POWEROFF_QUIET": "true", "A": "1", "B": "",
        "EMPTY": "", "JOINED": "abcd", "MULTI": "line1\nline2", "C": "3", "D": "4"}
    assert conf.exported == {"ALLOW_NO_DEVICE", "POWEROFF_QUIET", "A", "B"}
    assert conf.get("NOPE") is None and conf.get("NOPE", "x") == "x"


@pytest.mark.parametrize("text,lineno,reason", [
    ("MODE = none\n", 1, "no spaces are allowed around '='"),
    ("\nMODE= none\n", 2, "no spaces are allowed around '='"),
    ("MODE =none\n", 1, "no spaces are allowed around '='"),
    ("MODE=a b\n", 1, "not an assignment: b"),
    ("upsd -D\n", 1, "not an assignment: upsd"),
    ("MODE='open\n", 1, "unterminated quote"),
    ("MODE=x; rm -rf /\n", 1, "shell syntax ';' is not supported"),
    ("export\n", 1, "export without a name"),
    ("1X=2\n", 1, "not an assignment: 1X=2"),
])
def test_errors_carry_line_numbers(text, lineno, reason):
    conf = parse_nutconf(text, "/etc/nut/nut.conf")
    assert [(e.lineno, e.reason) for e in conf.errors] == [(lineno, reason)]
    assert str(conf.errors[0]) == f"/etc/nut/nut.conf:{lineno}: {reason}"
    assert "MODE" not in conf.values                # a rejected line sets nothing


def test_good_lines_survive_a_bad_one():
    conf = parse_nutconf("MODE = bad\nMODE=netclient\n")
    assert conf.mode is Mode.NETCLIENT and len(conf.errors) == 1


def test_read_missing_and_present(tmp_path, monkeypatch):
    monkeypatch.setenv("NUT_CONFPATH", str(tmp_path))
    conf = read_nutconf()
    assert conf.found is False and conf.mode is Mode.NONE and conf.path == str(tmp_path / "nut.conf")
    (tmp_path / "nut.conf").write_text("MODE=netserver\n")
    conf = read_nutconf()
    assert conf.found and conf.mode is Mode.NETSERVER


SAMPLE = Path(pnut.conf.__file__).with_name("nut.conf.sample")


def test_sample_reads_cleanly():
    conf = parse_nutconf(SAMPLE.read_text(), str(SAMPLE))
    assert conf.errors == []
    assert conf.mode is Mode.NONE
    assert conf.values == {"MODE": "none"}


@pytest.mark.skipif(not shutil.which("sh"), reason="needs /bin/sh")
@pytest.mark.parametrize("text", [
    "MODE=standalone # c\nUPSD_OPTIONS='-D -u root'\n",
    'A="x \\"y\\" \\\\ z"\nB=p\\ q\nexport C=1 D\nE=\nMULTI=\'l1\nl2\'\n',
    'X=a"b c"d\'e f\'g\nJ=ab\\\ncd\n',
])
def test_agrees_with_the_shell(text, tmp_path):
    """What /bin/sh gets from sourcing the file is what the reader returns."""
    path = tmp_path / "nut.conf"
    path.write_text(text)
    conf = parse_nutconf(text)
    names = " ".join(conf.values)
    script = f'. "{path}"; for n in {names}; do eval "printf \'%s=%s\\\\0\' \\"$n\\" \\"\\${{$n}}\\""; done'
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10, env={},
                         check=False).stdout
    from_shell = dict(item.split("=", 1) for item in out.split("\0") if item)
    assert from_shell == conf.values


def test_garbage_always_terminates():
    """Every input ends with values or errors, never a hang or an exception (fixed seed, bounded)."""
    import random
    rng = random.Random(2026)
    alphabet = "AB_=' \"\\#\n\t;x$`"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        conf = parse_nutconf(text)
        assert isinstance(conf.values, dict)
