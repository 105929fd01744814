"""The record a teacher step hands to the teacher: rendered messages, the response schema, the re-ask."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tooldojo.records import stable_id


@dataclass
class TeacherRequest:
    """One teacher request: ``messages`` are sent; ``variables`` are for the offline teacher only.

    ``reask(error)`` gives the follow-up messages that ask once more when the reply does not validate
    (built by the step from the run's ``reask.jinja``; ``None``: the shipped one)."""

    step: str
    messages: list[dict[str, str]]
    schema: dict[str, Any]
    variables: dict[str, Any] = field(default_factory=dict)
    reask: Callable[[str], list[dict[str, str]]] | None = field(default=None, repr=False, compare=False)

    @property
    def prompt_hash(self) -> str:
        return stable_id(self.messages)
