"""The teacher steps, one module each (``tooldojo/synth/steps/<name>.py``), and their registry.

A step module holds everything about its step: the template name, the response schema, the variables the
template gets, request building, the checks of its reply and the offline teacher's answer. Everything that
lists steps (the template set, the response schemas, the offline teacher, the accounting order) reads
:data:`STEPS`.
"""

from __future__ import annotations

from typing import Any

from tooldojo.synth.steps import arguments, queries, reask, tools, upgrade, verify, weaken
from tooldojo.synth.steps.base import Step

STEPS: dict[str, Step] = {m.STEP.name: m.STEP for m in (tools, upgrade, weaken, queries, arguments, verify)}
"""Step name -> step, in pipeline order (the accounting's order)."""

RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {name: step.schema for name, step in STEPS.items()}
"""Step name -> the JSON Schema its reply must match."""

TEMPLATE_VARIABLES: dict[str, frozenset[str]] = {**{name: s.variables for name, s in STEPS.items()},
                                                 reask.NAME: reask.VARIABLES}
"""Template name -> the variables it renders with: one ``<name>.jinja`` per step, and the re-ask."""

TEMPLATE_NAMES: tuple[str, ...] = tuple(TEMPLATE_VARIABLES)
"""Every teacher prompt tooldojo renders, one ``<name>.jinja`` file each."""

__all__ = ["RESPONSE_SCHEMAS", "STEPS", "TEMPLATE_NAMES", "TEMPLATE_VARIABLES", "Step"]
