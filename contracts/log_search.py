"""Free-text log search (`q`): what a query means, shared by the store, the live tail and the CLI.

Whole words, like the usual log tools: `q` is split on whitespace and every term must match
(AND). Case is folded for ASCII letters only (`A-Z`), as ClickHouse's `lower()` does, and a
word is a run of ASCII letters and digits and any non-ASCII characters, every other ASCII
character separates words, as the text index's tokenizer (`splitByNonAlpha`) does.

- `timeout`: the word `timeout` (not `timeouts`, not `xtimeout`).
- `user_id=42`, `bench-end-marker`: a term with punctuation matches where it appears as
  written with whole words at its ends (`id=42` does not match `user_id=420`).
- `timeo*`, `*out`, `con*reset`: `*` stands for any characters and the term matches
  anywhere in the message, inside words too (a substring, slower to serve).
- `"connection reset"`: a quoted phrase matches as written anywhere (a substring).

A term without any letter or digit (`->`) is a substring too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# ASCII letters fold to lower case; every other character is kept as it is.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# Characters of words once folded: ASCII letters and digits, and every non-ASCII character.
WORD_CHARS = "0-9a-z\x80-\U0010ffff"
_WORD = re.compile(f"[{WORD_CHARS}]+")
_TERMS = re.compile(r'"([^"]*)"?|([^\s"]+)')

TermKind = Literal["word", "phrase", "wildcard"]


def fold(text: str) -> str:
    """`text` with ASCII letters in lower case (what ClickHouse's `lower()` does)."""
    return text.translate(_ASCII_LOWER)


def words(text: str) -> list[str]:
    """The words of `text` (folded), as the text index tokenizes it."""
    return _WORD.findall(fold(text))


def is_word_char(char: str) -> bool:
    return bool(_WORD.fullmatch(char))


@dataclass(frozen=True, slots=True)
class Term:
    """One term of a query, folded: a word (whole words), or a phrase or wildcard (substring)."""

    text: str
    kind: TermKind

    @property
    def pieces(self) -> list[str]:
        """The literal parts of the term: split on `*` for a wildcard, else the text."""
        return [p for p in self.text.split("*") if p] if self.kind == "wildcard" else [self.text]

    @property
    def whole_words(self) -> list[str]:
        """Words the term requires whole in a matching message: every word of a word term;
        in a phrase or wildcard piece, only those with a separator on both sides (the words
        at a substring's ends may be parts of longer words)."""
        if self.kind == "word":
            return words(self.text)
        inner: list[str] = []
        for piece in self.pieces:
            for found in _WORD.finditer(piece):
                if found.start() > 0 and found.end() < len(piece):
                    inner.append(found.group())
        return inner

    @property
    def edge_words(self) -> list[str]:
        """Words of a phrase or wildcard piece touching its ends (parts of words in a match)."""
        if self.kind == "word":
            return []
        edges: list[str] = []
        for piece in self.pieces:
            for found in _WORD.finditer(piece):
                if found.start() == 0 or found.end() == len(piece):
                    edges.append(found.group())
        return edges

    @property
    def is_substring(self) -> bool:
        """Whether the term is matched as a substring (phrase, wildcard, no word in it)."""
        return self.kind != "word" or not _WORD.search(self.text)

    @property
    def bounded_start(self) -> bool:
        """A word term starting with a word character: that word must start there."""
        return not self.is_substring and is_word_char(self.text[0])

    @property
    def bounded_end(self) -> bool:
        """A word term ending with a word character: that word must end there."""
        return not self.is_substring and is_word_char(self.text[-1])

    def pattern(self) -> re.Pattern[str]:
        """A Python regular expression matching a folded message (the live tail, the CLI)."""
        if self.kind == "wildcard":
            return re.compile(".*".join(re.escape(p) for p in self.text.split("*")), re.DOTALL)
        body = re.escape(self.text)
        before = f"(?<![{WORD_CHARS}])" if self.bounded_start else ""
        after = f"(?![{WORD_CHARS}])" if self.bounded_end else ""
        return re.compile(before + body + after)


def parse(q: str | None) -> list[Term]:
    """The terms of `q` (empty: no free-text filter). An unclosed quote runs to the end."""
    terms: list[Term] = []
    for found in _TERMS.finditer(q or ""):
        phrase, plain = found.group(1), found.group(2)
        if phrase is not None:
            if phrase.strip():
                terms.append(Term(fold(phrase), "phrase"))
        elif "*" in plain:
            if plain.strip("*"):
                terms.append(Term(fold(plain), "wildcard"))
        else:
            terms.append(Term(fold(plain), "word"))
    return terms


class Matcher:
    """Whether a message matches `q`, in Python (the live tail and the CLI filter lines
    themselves); the store answers the same query in SQL (services/logs/store/lines.py)."""

    def __init__(self, q: str | None) -> None:
        self.patterns = [term.pattern() for term in parse(q)]

    def __call__(self, message: str) -> bool:
        if not self.patterns:
            return True
        folded = fold(message)
        return all(p.search(folded) for p in self.patterns)
