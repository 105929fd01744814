"""The re-ask: the follow-up messages that ask once more when a reply does not match its schema.

Not a step of its own (it has no schema): every step's request carries it (:meth:`Step.request
<tooldojo.synth.steps.base.Step.request>`), rendered from the run's ``reask.jinja``.
"""

from __future__ import annotations

from typing import Any

NAME = "reask"
VARIABLES = frozenset({"error", "schema"})


def follow_up(templates: Any, error: str, schema: dict[str, Any]) -> list[dict[str, str]]:
    """The re-ask messages for ``error`` (why the reply failed) and the step's ``schema``, rendered by
    ``templates`` (a :class:`~tooldojo.synth.templates.TemplateSet`)."""
    return templates.render(NAME, error=error, schema=schema)
