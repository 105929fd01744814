"""Typed records exchanged between stages (synth -> dedup -> split -> train/eval).

A *family* is one tool and its upgraded variant: a ``weak`` tool that partly serves some queries and a
``strong`` tool that covers everything the weak one does and more (GenTool's Weak-to-Strong axis). Tools
are OpenAI function-calling schemas: ``{"name", "description", "parameters": <JSON Schema object>}``.

Queries belong to a family. ``needs`` is the weakest tool that fully serves the query; ``calls`` holds the
gold arguments for every family tool that can be called for it (the weak tool's call is present for a
``needs="strong"`` query when the weak tool serves it partly). From a query and a candidate tool set, the
gold answer and the gold ranking follow by rule (:func:`gold_for`), so every scenario is derived, not stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from pydantic import ValidationError

GENERATE_RESPONSE = "generate_response"
"""The pseudo-tool for answering directly when no candidate tool serves the query (GenTool)."""

GENERATE_RESPONSE_TOOL: dict[str, Any] = {
    "name": GENERATE_RESPONSE,
    "description": (
        "Answer the user directly, without calling any tool. Use this when none of the other "
        "available tools can serve the request."
    ),
    "parameters": {
        "type": "object",
        "properties": {"response": {"type": "string", "description": "The direct answer to the user."}},
        "required": [],
    },
}

Role = Literal["weak", "strong"]
Need = Literal["weak", "strong"]
Style = str
"""Query phrasing style (e.g. ``imperative``, ``question``, ``contextual``, ``casual``); held-out styles
make the *unseen queries* of the generalization scenarios."""

ExampleKind = Literal["zero", "one", "weak_only", "weak_strong"]
"""How the candidate set of an example was built from its query:

- ``zero``: no family tool among the candidates -> ``generate_response`` (Zero-to-One, before);
- ``one``: the tool the query needs was added -> call it (Zero-to-One, after);
- ``weak_only``: a ``needs="strong"`` query with only the weak tool offered -> call the weak tool;
- ``weak_strong``: both offered -> call the strong one, weak ranked next (Weak-to-Strong).
"""

SCENARIOS = (
    "seen_tool_unseen_query",
    "unseen_tool_seen_query",
    "unseen_tool_unseen_query",
    "weak_to_strong",
)
"""GenTool's four generalization scenarios as tooldojo defines them (see docs/method.md)."""
VALIDATION = "validation"
"""The eval split of training-side families held out for choosing settings (``split.validation_family_ratio``):
every kind of example of families no model trained on, like the unseen-tool scenarios, but never a test set."""


def stable_id(*parts: Any, prefix: str = "", length: int = 16) -> str:
    """A deterministic id from JSON-serialisable parts (sha256, hex-truncated)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return prefix + hashlib.sha256(blob.encode()).hexdigest()[:length]


class Provenance(BaseModel):
    """Where a synthesized record came from, so runs and template ablations are reproducible."""

    model_config = ConfigDict(extra="allow")

    template: str = ""
    template_version: str = ""
    template_set: str = ""
    template_set_hash: str = ""
    teacher_model: str = ""
    sampling: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    prompt_hash: str = ""
    source: str = "synth"
    """``synth`` (teacher-written), ``catalog`` (seed catalog), or ``import:<format>``."""


class ToolRecord(BaseModel):
    """One tool of a family."""

    tool_id: str
    family_id: str
    domain: str
    role: Role
    function: dict[str, Any]
    """OpenAI function schema: ``{"name", "description", "parameters"}``."""
    capability_gap: str | None = None
    """On the strong tool: what it can do that the weak one cannot (used by eval and rationales)."""
    provenance: Provenance = Field(default_factory=Provenance)

    @property
    def name(self) -> str:
        return self.function["name"]


class QueryRecord(BaseModel):
    """One user query of a family, with gold calls for every family tool that can be called for it."""

    query_id: str
    family_id: str
    text: str
    style: Style = "imperative"
    needs: Need
    calls: dict[str, dict[str, Any]]
    """Tool *name* -> gold arguments. The needed tool is always present."""
    answer: str = ""
    """A short direct answer for when no candidate tool serves the query: the ``response`` argument of the
    gold ``generate_response`` call (Zero-to-One, before the tool is added)."""
    provenance: Provenance = Field(default_factory=Provenance)


class Gold(BaseModel):
    """The gold answer for one query under one candidate set."""

    tool: str
    arguments: dict[str, Any]
    ranking: list[str]
    """Tools that serve the query, strongest first, then ``generate_response``. Tools after it (the
    distractors) are irrelevant and unordered, so they are not part of the gold ranking."""


def gold_for(query: QueryRecord, family_tools: dict[Role, str], candidates: list[str]) -> Gold:
    """The gold answer for ``query`` when the model is offered ``candidates`` (tool names).

    ``family_tools`` maps role -> tool name for the query's family. The best available tool wins: the
    strong tool if offered, else the weak tool if it can be called for the query, else ``generate_response``
    with the query's direct ``answer`` as its ``response`` (no arguments when the query has none).
    """
    offered = set(candidates)
    ranking = [
        family_tools[role]
        for role in ("strong", "weak")
        if role in family_tools and family_tools[role] in offered and family_tools[role] in query.calls
    ]
    if ranking:
        return Gold(tool=ranking[0], arguments=query.calls[ranking[0]], ranking=[*ranking, GENERATE_RESPONSE])
    arguments = {"response": query.answer} if query.answer else {}
    return Gold(tool=GENERATE_RESPONSE, arguments=arguments, ranking=[GENERATE_RESPONSE])


class Example(BaseModel):
    """One row of a scenario dataset: a query, a candidate tool set, and the gold answer under it.

    ``tools`` lists the candidate function schemas in the order shown to the model; ``generate_response``
    is always available and is added by the prompt format, not stored here.
    """

    example_id: str
    query_id: str
    family_id: str
    domain: str
    scenario: str
    """``train`` or one of :data:`SCENARIOS`."""
    kind: ExampleKind
    style: Style
    query: str
    tools: list[dict[str, Any]]
    gold_tool: str
    gold_arguments: dict[str, Any]
    gold_ranking: list[str]
    weak_tool: str | None = None
    strong_tool: str | None = None
    capability_gap: str | None = None
    needs: Need | None = None
    """The query's ``needs`` (which family tool fully serves it); ``None`` when unknown (e.g. imported rows)."""


def jsonl_lines(path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a JSON Lines file, each with its line number (from 1)."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                yield lineno, line


def first_error(err: ValidationError) -> tuple[str, str]:
    """``(field, message)`` of the first problem pydantic found in a row (field ``<row>``: the whole row)."""
    first = err.errors()[0]
    return ".".join(str(p) for p in first["loc"]) or "<row>", first["msg"]


def read_jsonl(path, model: type[BaseModel]) -> list:
    """Read a JSONL file of ``model`` rows (raises :class:`~tooldojo.errors.DataError` naming the line)."""
    from pydantic import ValidationError

    from tooldojo.errors import DataError

    rows = []
    for lineno, line in jsonl_lines(path):
        try:
            rows.append(model.model_validate_json(line))
        except ValidationError as err:
            loc, msg = first_error(err)
            raise DataError(
                f"line {lineno}: {msg}",
                field=f"{path}:{loc}",
                fix=f"make every line a valid {model.__name__} record",
            ) from None
    return rows
