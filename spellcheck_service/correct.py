"""Correcting one text: each word the dictionary does not know is replaced by its likeliest
correction, keeping the text's punctuation, spacing and the word's capitalisation."""

from __future__ import annotations

import functools
import re

from spellchecker import SpellChecker

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


@functools.cache
def _checker() -> SpellChecker:
    return SpellChecker(language="en")


# Longer words are looked up one edit away only: two edits of a long word are tens of
# thousands of candidates, a quarter second each, and a long word is rarely two edits wrong.
LONG_WORD = 8


@functools.lru_cache(maxsize=100_000)
def _correction(word: str) -> str | None:
    """A word's correction; a class repeats its misspellings, so each is searched once."""
    checker = _checker()
    if len(word) < LONG_WORD:
        return checker.correction(word)
    checker.distance = 1
    try:
        return checker.correction(word)
    finally:
        checker.distance = 2


def _cased_like(word: str, model: str) -> str:
    if model.isupper() and len(model) > 1:
        return word.upper()
    if model[0].isupper():
        return word[0].upper() + word[1:]
    return word


def correct(text: str) -> tuple[str, int]:
    """The corrected text and how many words were changed."""
    checker = _checker()
    changed = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal changed
        word = match[0]
        lower = word.lower()
        if lower in checker:
            return word
        better = _correction(lower)
        if not better or better == lower:
            return word
        changed += 1
        return _cased_like(better, word)

    return WORD.sub(replace, text), changed
