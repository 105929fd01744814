"""Direct answers: what the model says through ``generate_response`` while no offered tool serves a query.

A teacher writes one per query (the optional ``answer`` of the ``queries`` step). Where it gives none, and
on the offline teacher, the answer is templated from the tool the query needs: it says plainly what is
missing, so the ``zero`` target teaches an honest reply rather than an empty call.
"""

from __future__ import annotations

import re
from typing import Any

_FIRST_CLAUSE = re.compile(r"^(.+?)(?:[:;,(]|\.(?:\s|$)|\s(?:with|plus|including|optionally|and optionally)\s)")
_DANGLING = {"a", "an", "the", "of", "on", "in", "at", "to", "for", "by", "from", "with", "and", "or", "its",
             "their", "that", "which", "any", "one", "each", "per", "over", "into", "is", "are"}
_FIRST_SENTENCE = re.compile(r"^(.+?)(?:[:;]|\.(?:\s|$))")


def capability_phrase(fn: dict[str, Any]) -> str:
    """The first clause of a tool's description (up to a comma, colon, bracket, or "with"/"plus"/"including"),
    lower-cased to continue a sentence (``"Get the current weather at a location: ..."`` -> ``"get the current
    weather at a location"``); the tool name in words without a description."""
    desc = " ".join(str(fn.get("description") or "").split())
    m = _FIRST_CLAUSE.match(desc)
    if m is None or len(m.group(1).split()) < 4:  # "Create a new, ..." : the whole first sentence
        m = _FIRST_SENTENCE.match(desc)
    phrase = (m.group(1) if m else desc).strip().rstrip(".")
    if not phrase:
        return str(fn.get("name", "do this")).replace("_", " ")
    return phrase[0].lower() + phrase[1:] if not phrase[:2].isupper() else phrase


MAX_WORDS = 12
"""The capability phrase of a templated answer is cut to this many words: the whole ``zero`` target (reasoning,
call and answer) stays near the length of the other targets, within the presets' generation budgets."""


def templated_answer(fn: dict[str, Any]) -> str:
    """A short direct answer for a query that ``fn`` serves, for when ``fn`` is not available."""
    words = capability_phrase(fn).split()[:MAX_WORDS]
    while len(words) > 1 and words[-1].lower() in _DANGLING:  # a cut phrase ends on a content word
        words.pop()
    return f"I can't do that without a tool that can {' '.join(words)}."
