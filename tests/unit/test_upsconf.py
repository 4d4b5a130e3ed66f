"""The shared ups.conf reader (common/upsconf.c rules): globals, [sections], `key = value`, bare flags."""

from __future__ import annotations

import logging

import pytest

from pnut.conf.upsconf import ConfError, Directive, parse_upsconf, read_upsconf


def test_globals_sections_and_flags():
    conf = parse_upsconf("maxretry = 3\nnowait\n\n# comment\n[ups1]\n  driver = dummy-ups\n  port = a.dev\n"
                         "  nolock\n[ups2]\ndriver=usbhid-ups\n")
    assert conf.globals == [Directive("maxretry", "3", 1), Directive("nowait", None, 2)]
    assert list(conf.sections) == ["ups1", "ups2"]
    assert conf.section("ups1") == [Directive("driver", "dummy-ups", 6), Directive("port", "a.dev", 7),
                                    Directive("nolock", None, 8)]
    assert conf.get("ups2", "driver") == "usbhid-ups"
    assert conf.section("nope") is None and conf.get("nope", "driver") is None


@pytest.mark.parametrize("line", ["k=v", "k = v", "k =v", "k= v", 'k = "v"', "k = v extra words", "k = v # note"])
def test_equals_forms(line):
    assert parse_upsconf(f"[u]\n{line}\n").get("u", "k") == "v"


def test_quoted_and_escaped_values():
    conf = parse_upsconf('[u]\ndesc = "Server room UPS"\npass = "123=456"\nesc = a\\=b\nhash = my#1\n')
    assert conf.get("u", "desc") == "Server room UPS"
    assert conf.get("u", "pass") == "123=456"
    assert conf.get("u", "esc") == "a=b"
    assert conf.get("u", "hash") == "my"           # '#' starts a comment even inside a word


def test_two_word_lines_are_ignored():
    conf = parse_upsconf("[u]\ndriver dummy-ups\n= x\nport = p\n")
    assert conf.section("u") == [Directive("port", "p", 4)]


def test_headers():
    conf = parse_upsconf("[a] trailing words\nk = 1\n[my ups]\nk = 2\n[]\nk = 3\n[a]\nk = 4\n")
    # "[my ups]" is two words, not a header: its line is ignored and k = 2 stays in [a]
    assert [d.value for d in conf.section("a")] == ["1", "2", "4"]
    assert conf.get("a", "k") == "4"                # later definitions win
    assert conf.get("", "k") == "3"
    assert "my ups" not in conf.sections


def test_section_names_are_case_sensitive():
    conf = parse_upsconf("[UPS]\nk = 1\n[ups]\nk = 2\n")
    assert conf.get("UPS", "k") == "1" and conf.get("ups", "k") == "2"


def test_global_lookups():
    conf = parse_upsconf("StatePath = /a\nstatepath = /b\nflag\nvalued = x\n[u]\nflag2\n")
    assert conf.global_value("statepath") == "/b"
    assert conf.global_value("STATEPATH") is None
    assert conf.global_value("STATEPATH", casefold=True) == "/b"
    assert conf.global_flag("flag") and not conf.global_flag("valued") and not conf.global_flag("flag2")


def test_parse_errors_are_logged_and_skipped(caplog):
    with caplog.at_level(logging.ERROR, logger="pnut"):
        conf = parse_upsconf('[u]\nport = p\ndriver = "dummy#ups"\n', "/etc/nut/ups.conf")
    assert conf.get("u", "port") == "p" and conf.get("u", "driver") is None
    assert "Parse error: /etc/nut/ups.conf:3: Unbalanced word due to unescaped # in quotes" in caplog.messages


def test_bytes_outside_ascii_are_dropped():
    assert parse_upsconf("[u]\ndesc = caf\xe9\n").get("u", "desc") == "caf"


def test_read_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NUT_CONFPATH", str(tmp_path))
    path = tmp_path / "ups.conf"
    with pytest.raises(ConfError) as e:
        read_upsconf()
    assert str(e.value) == f"Can't open {path}: Can't open {path}: No such file or directory"


def test_read_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NUT_CONFPATH", str(tmp_path))
    (tmp_path / "ups.conf").write_bytes(b"[u]\ndriver = d\n")
    conf = read_upsconf()
    assert conf.path == str(tmp_path / "ups.conf")
    assert conf.get("u", "driver") == "d"
    other = tmp_path / "other.conf"
    other.write_text("[v]\nport = q\n")
    assert read_upsconf(str(other)).get("v", "port") == "q"


def test_samples_parse_cleanly(caplog):
    """Our own samples read without errors (every line is a comment there)."""
    from pathlib import Path

    import pnut.conf
    sample = Path(pnut.conf.__file__).with_name("ups.conf.sample")
    if not sample.exists():
        pytest.skip("no ups.conf.sample")
    with caplog.at_level(logging.ERROR, logger="pnut"):
        conf = parse_upsconf(sample.read_text(), str(sample))
    assert caplog.messages == []
    assert conf.globals == [] and conf.sections == {}
