"""NUT's parseconf rules (checked against the real 2.8.0 programs where noted)."""

from __future__ import annotations

import pytest

from pnut.conf.parseconf import (
    ERR_HASH_IN_QUOTES,
    ParseError,
    Tokenizer,
    encode,
    iter_lines,
    join,
    split_line,
)


def words(text):
    return [(line.words, line.error) for line in iter_lines(text)]


def test_basic_words_quotes_escapes_and_equals():
    assert split_line('SET ups.id "a b" x=y') == ["SET", "ups.id", "a b", "x", "=", "y"]
    assert split_line(r'a\"b "q\"uo\\te"') == ['a"b', 'q"uo\\te']
    assert split_line("ups.model: a=b c#d") == ["ups.model:", "a", "=", "b", "c"]


def test_hash_in_quotes_ends_the_line_and_the_rest_is_a_new_line():
    # ups.conf `port = "t#.dev"`: real dummy-ups 2.8.0 reports the error, then sees a flag '.dev"'
    assert words('port = "t#.dev"\n') == [(["port", "=", "t"], ERR_HASH_IN_QUOTES), (['.dev"'], None)]
    with pytest.raises(ParseError):
        split_line('"a#b"')


def test_control_bytes_are_dropped_and_unterminated_quote_runs_to_eof():
    assert split_line("a\x01b \xffc") == ["ab", "c"]
    # `port = "t.dev` at the end of ups.conf: real 2.8.0 still uses t.dev
    assert words('port = "t.dev\n') == [(["port", "=", "t.dev"], None)]


def test_last_line_without_newline():
    assert words("a b") == [(["a", "b"], None)]
    assert words("a") == []          # parseconf quirk: a lone unterminated word is lost


def test_line_continuation_and_limits():
    assert words("a \\\nb\n") == [(["a", "b"], None)]
    tok = Tokenizer()
    line = next(iter(tok.feed(" ".join(str(i) for i in range(40)) + "\n")))
    assert len(line.words) == 32


def test_encode_and_join():
    assert encode('a"b\\c#d') == 'a\\"b\\\\c\\#d'
    assert join(["SET", "ups.id", "a b"]) == 'SET ups.id "a b"'
