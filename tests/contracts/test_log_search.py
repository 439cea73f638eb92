"""Free-text log search in Python (the live tail's and the CLI's test of a line); the store's
SQL answers the same cases over HTTP in tests/logs/routes/test_logs.py."""

from __future__ import annotations

import pytest

from contracts.log_search import Matcher, parse, words

MESSAGE = "Connection RESET by peer: user_id=42 timeout after 30s (retry #2) -> École"


@pytest.mark.parametrize(
    ("q", "matches"),
    [
        ("", True),
        ("reset", True),
        ("RESET connection", True),
        ("res", False),
        ("res*", True),
        ("*eset", True),
        ("con*peer", True),
        ("*", True),
        ("timeouts", False),
        ("user_id=42", True),
        ("id=42", True),  # `_` separates words, as in the text index
        ("user_id=4", False),
        ("ser_id=42", False),
        ("30s", True),
        ("30", False),
        ('"reset by peer"', True),
        ('"reset  by peer"', False),
        ('"by reset"', False),
        ('"set by pe"', True),
        ('"peer: user', True),  # an unclosed quote runs to the end
        ("->", True),
        ("école", False),  # only ASCII letters fold: É stays É, as in ClickHouse's lower()
        ("École", True),
        ("#2", True),
        ("retry missing", False),
    ],
)
def test_a_query_matches_whole_words_unless_it_asks_for_substrings(q: str, matches: bool) -> None:
    assert Matcher(q)(MESSAGE) is matches


def test_terms_and_words_follow_the_text_index_tokenizer() -> None:
    assert words("user_id=42 École-Ü") == ["user", "id", "42", "École", "Ü"]
    assert [(t.text, t.kind) for t in parse('A*b "C d" e-F')] == [
        ("a*b", "wildcard"),
        ("c d", "phrase"),
        ("e-f", "word"),
    ]
    phrase = parse('"ion reset by pe"')[0]
    assert phrase.whole_words == ["reset", "by"]  # inside the phrase: whole
    assert phrase.edge_words == ["ion", "pe"]  # at its ends: parts of words
