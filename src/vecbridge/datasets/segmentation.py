"""Plain-text helpers for the corpus builders: sentence splitting and word tokens."""

from __future__ import annotations

import re

# lower-case abbreviations (without the final dot) after which a '.' does not end a sentence
ABBREVIATIONS = frozenset(
    "mr mrs ms dr st prof sr jr vs etc inc ltd co corp gov gen col capt lt sgt rev no mt ft jan feb mar apr "
    "jun jul aug sep sept oct nov dec u.s u.k e.g i.e a.m p.m approx dept est fig vol op cf".split()
)
_BOUNDARY = re.compile(r"([.!?]+[\"'\u201d\u2019)\]]*)\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])")
_LAST_TOKEN = re.compile(r"(\S+)$")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def split_sentences(paragraph: str) -> list[str]:
    """Split one paragraph into sentences at ``. ! ?`` followed by space and a capital or digit.

    A dot after a known abbreviation (``Mr.``, ``U.S.``) or a single capital initial
    (``J. Smith``) does not end a sentence. Whitespace inside a sentence is collapsed.
    """
    text = " ".join(paragraph.split())
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group(1).rstrip("\"'\u201d\u2019)]") == ".":
            last = _LAST_TOKEN.search(text, start, m.start(1))
            if last:
                word = last.group(1).lstrip("\"'(\u201c\u2018[").lower()
                if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                    continue
        piece = text[start:m.end(1)].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def word_count(sentence: str) -> int:
    return len(sentence.split())


def tokenize_words(text: str) -> list[str]:
    """Lower-case word tokens (letters, with an inner apostrophe kept: ``don't``)."""
    return _WORD.findall(text.lower())


def paragraphs_of_lines(lines: list[str]) -> list[str]:
    """Join wrapped lines into paragraphs (blank lines separate paragraphs)."""
    paras: list[str] = []
    cur: list[str] = []
    for line in lines:
        s = line.strip()
        if s:
            cur.append(s)
        elif cur:
            paras.append(" ".join(cur))
            cur = []
    if cur:
        paras.append(" ".join(cur))
    return paras
