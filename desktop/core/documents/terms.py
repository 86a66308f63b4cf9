"""What full-text search looks up: the words of a question, and the codes and numbers in it.

SQLite's ``unicode61`` tokenizer splits ``Q731-B`` into ``q731`` and ``b`` and ``1,342`` into
``1`` and ``342``, so a code or a number with separators can only be found by its parts, which
match everywhere. Python's ``sqlite3`` cannot register an FTS5 tokenizer of our own, so each
chunk carries a second indexed column, ``terms``, with the joined forms of what the text
writes with separators: ``q731b`` for ``Q731-B`` (and ``Q731.B``, ``Q731/B``, ``Q731_B``),
every contiguous part of a longer code (``inv20240031``, ``20240031`` for ``INV-2024-0031``),
and ``1342`` for ``1,342`` or ``1.342`` or ``1 342`` written with a no-break space. A question
is analysed the same way, so a code matches as one token, and its parts still match alone.

Codes and numbers of a question are its *anchors*: a chunk holding the only occurrences of one
in the collection is what the user is looking for, whatever the vectors say (retrieval.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_SEGMENT = r"[^\W_]+"
# A code: alphanumeric runs joined by single connectors (hyphen, dot, slash, underscore,
# backslash); a number with thousands separators (comma, dot, apostrophe, no-break spaces).
_CODE = re.compile(rf"{_SEGMENT}(?:[-./_\\]{_SEGMENT})+")
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}([,.'’\u00a0\u202f])\d{3}(?:\2\d{3})*)(?:[.,]\d+)?(?!\w)")
_DECIMAL = re.compile(r"\d+[.,]\d+")
_WORD = re.compile(_SEGMENT)
_PARTS = re.compile(_SEGMENT)
MAX_SPAN_PARTS = 6  # codes with more parts (paths, URLs) get their whole and adjacent pairs

# Words of a question that say nothing about its subject. Left out of the full-text query,
# they would match most chunks, which BM25 then has to score (slow at 100,000 chunks) for
# nothing; the vectors still see the whole question.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing done down during each
    few for from further get gets got had has have having he her here hers him his how i if in
    into is it its itself just me more most my no nor not of off on once only or other our out
    over own same she should so some such than that the their them then there these they this
    those through to too under until up very was we were what when where which while who whom
    whose why will with would you your please tell explain describe find show know give say
    said many much there's what's let us may might must shall within without""".split()
)


def fold(word: str) -> str:
    """Lower case without diacritics, as ``unicode61 remove_diacritics 2`` indexes a word."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _spans(parts: list[str]) -> list[str]:
    """The joined forms of a code's parts: every contiguous run of two or more (only the
    whole and adjacent pairs for long ones)."""
    count = len(parts)
    if count > MAX_SPAN_PARTS:
        runs = [(0, count)] + [(i, i + 2) for i in range(count - 1)]
    else:
        runs = [(i, j) for i in range(count) for j in range(i + 2, count + 1)]
    return ["".join(parts[i:j]) for i, j in runs]


def joined_terms(text: str) -> list[str]:
    """The joined forms of the codes and separated numbers in ``text``, each once, in order."""
    found: list[str] = []
    for match in _CODE.finditer(text):
        if not _DECIMAL.fullmatch(match.group()):  # 3.14 is a number, not a code
            found.extend(_spans([fold(p) for p in _PARTS.findall(match.group())]))
    for match in _NUMBER.finditer(text):
        found.append(re.sub(r"\D", "", match.group(1)))
    return list(dict.fromkeys(found))


def index_terms(text: str) -> str:
    """What a chunk's ``terms`` column holds (space-separated)."""
    return " ".join(joined_terms(text))


def _specific(word: str) -> bool:
    """A word that names one thing: a number of three digits or more, or letters with digits
    (``m8``, ``q731``)."""
    has_digit = any(ch.isdigit() for ch in word)
    return has_digit and (len(word) >= 3 or any(ch.isalpha() for ch in word))


@dataclass(frozen=True)
class QueryTerms:
    words: tuple[str, ...]  # what the full-text query ORs, folded, each once
    anchors: tuple[str, ...]  # codes and numbers among them (joined forms first)
    # What the question is about by name: whole codes, numbers, proper names (capitalised
    # inside a sentence). Documents holding none of them cannot answer it.
    identifiers: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # runs of capitalised words ("abdon condori"): FTS5 phrases

    @property
    def content(self) -> tuple[str, ...]:
        """The words that are neither anchors nor parts of a code."""
        return tuple(w for w in self.words if w not in self.anchors)


_NAME_RUN = re.compile(r"\b[A-Z][^\W\d_]+(?:\s+[A-Z][^\W\d_]+)+")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n)\s*[\"'“‘(]*([^\W_]+)")


def identifiers(question: str) -> list[str]:
    """Whole codes, numbers (three digits or more) and proper names of a question, folded."""
    found = [
        "".join(fold(p) for p in _PARTS.findall(m.group()))
        for m in _CODE.finditer(question)
        if not _DECIMAL.fullmatch(m.group())
    ]
    found += [re.sub(r"\D", "", m.group(1)) for m in _NUMBER.finditer(question)]
    first = {m.start(1) for m in _SENTENCE_START.finditer(question)}
    inside_codes = [(m.start(), m.end()) for m in _CODE.finditer(question)]
    for match in _WORD.finditer(question):
        word = match.group()
        if any(a <= match.start() < b for a, b in inside_codes):
            continue
        name = word[0].isupper() and match.start() not in first and fold(word) not in STOPWORDS
        if _specific(fold(word)) or name:
            found.append(fold(word))
    return list(dict.fromkeys(found))


def analyse(question: str) -> QueryTerms:
    """A question → the words to look up (its words but stopwords, plus the joined forms of
    its codes and numbers) and its anchors. With nothing but stopwords, all its words."""
    joined = joined_terms(question)
    # the digit groups of 1,342 are not numbers of their own
    groups = {g for m in _NUMBER.finditer(question) for g in re.findall(r"\d+", m.group(1))}
    words = list(dict.fromkeys(fold(w) for w in _WORD.findall(question) if w not in groups))
    kept = [w for w in words if w not in STOPWORDS] or words
    terms = list(dict.fromkeys([*joined, *kept]))
    anchors = [t for t in terms if t in joined or _specific(t)]
    names = [
        " ".join(fold(w) for w in run.split())
        for run in _NAME_RUN.findall(question)
        if not any(fold(w) in STOPWORDS for w in run.split())
    ]
    return QueryTerms(
        tuple(terms), tuple(anchors), tuple(identifiers(question)), tuple(dict.fromkeys(names))
    )


def fts_terms(text: str) -> list[str]:
    """The words full-text search looks up for ``text`` (see :func:`analyse`)."""
    return list(analyse(text).words)
