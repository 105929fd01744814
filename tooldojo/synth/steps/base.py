"""What a teacher step is: a template, a response schema, request building and an offline answer.

A :class:`Step` is the declaration one step module (``tooldojo/synth/steps/<name>.py``) exports as ``STEP``;
the module also holds the step's request builder and the checks of its reply. The teacher that sends the
request knows none of this: it gets a :class:`~tooldojo.synth.request.TeacherRequest` (messages, schema,
re-ask) and returns the parsed, schema-valid reply.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from tooldojo.synth.catalog import DomainFile, Family
from tooldojo.synth.request import TeacherRequest
from tooldojo.synth.steps.reask import follow_up


class Templates(Protocol):
    """What a step needs of :class:`~tooldojo.synth.templates.TemplateSet`."""

    def render(self, name: str, **variables: Any) -> list[dict[str, str]]: ...


@dataclass(frozen=True)
class Rejected:
    """Why a step's reply (or an item of it) is left out: a drop reason and its detail (``drops.jsonl``)."""

    reason: str
    detail: str = ""


class Unanswerable(Exception):
    """The offline teacher has nothing to answer this request with (the seed catalog lacks it)."""


class OfflineContext:
    """The seed catalog as the offline answers look it up: by tool name, and its folder."""

    def __init__(self, catalog: dict[str, DomainFile], folder: str | None):
        self.catalog = catalog
        self.folder = folder

    @cached_property
    def by_name(self) -> dict[str, tuple[str, Family, str]]:
        """Tool name -> (domain, family, role)."""
        out = {}
        for domain, dom in self.catalog.items():
            for fam in dom.families:
                out[fam.weak["name"]] = (domain, fam, "weak")
                out[fam.strong["name"]] = (domain, fam, "strong")
        return out


OfflineAnswer = Callable[[OfflineContext, dict[str, Any], random.Random], dict[str, Any]]
"""``answer(context, variables, rng)``: the offline teacher's reply object to one request of the step."""


@dataclass(frozen=True)
class Step:
    """One teacher step: its template is ``templates/<name>.jinja``."""

    name: str
    schema: dict[str, Any]
    """The JSON Schema the reply must match (sent as ``response_format`` when the server supports it)."""
    variables: frozenset[str]
    """The variables the template renders with (``TemplateSet.check`` refuses any other)."""
    offline: OfflineAnswer | None = None

    def request(self, templates: Templates, **variables: Any) -> TeacherRequest:
        """The step's template rendered with ``variables``, its schema and its re-ask."""
        schema = self.schema
        return TeacherRequest(self.name, templates.render(self.name, **variables), schema, variables,
                              reask=lambda error: follow_up(templates, error, schema))
