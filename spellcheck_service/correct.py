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
        better = checker.correction(lower)
        if not better or better == lower:
            return word
        changed += 1
        return _cased_like(better, word)

    return WORD.sub(replace, text), changed
