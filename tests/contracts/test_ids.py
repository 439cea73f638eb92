"""Identifiers: prefix, length and alphabet, and no repeats."""

from __future__ import annotations

from contracts.ids import _ALPHABET, new_id


def test_id_is_its_prefix_then_one_symbol_per_five_random_bits():
    for bits, symbols in ((80, 16), (128, 26), (130, 26), (1, 1), (5, 1), (6, 2)):
        prefix, _, rest = new_id("dlv", bits).partition("_")
        assert prefix == "dlv"
        assert len(rest) == symbols
        assert set(rest) <= set(_ALPHABET)


def test_ids_use_the_whole_alphabet_and_do_not_repeat():
    ids = [new_id("x") for _ in range(2_000)]
    assert len(set(ids)) == len(ids)
    assert set("".join(i[2:] for i in ids)) == set(_ALPHABET)
