"""The offline teacher: answers the synth requests from the seed catalog, with seeded sampling.

It receives exactly the requests the HTTP teacher would get (rendered templates, response schemas) and its
answers go through the same parsing, validation and caching path; it reads the structured ``variables``
beside the messages instead of the prompt text, and answers through the step's own offline answer
(``answer`` in ``tooldojo/synth/steps/<step>.py``):

- ``tools``: samples catalog families of the domain (none already named in ``avoid``), returns their weak tools;
- ``upgrade``: the catalog family's strong tool and capability gap;
- ``weaken``: the catalog's weak variant when the strong tool is a catalog tool; otherwise a rule
  (:func:`~tooldojo.synth.weakening.weaken_by_rule`: drop the most capable optional parameter, else make an
  array parameter scalar, else narrow an enum), named ``<name>_basic``, stating what was taken away;
- ``queries``: for a catalog family, fills its query patterns (matching each plan item's style and need
  where the catalog has one) with sampled slot values (:func:`~tooldojo.synth.catalog.fill`). For any other
  family (e.g. weakened imported tools) it answers with the request's ``seed_queries`` (the imported queries
  whose gold call is the strong tool): ``needs`` is ``strong`` when the gold call uses what the weak variant
  lacks (:func:`~tooldojo.synth.weakening.capability_diff`), the weak call is the strong call without it
  (none when that is not a valid call), and the style is the plan item's. Plan items left over get
  schema-driven queries (:mod:`tooldojo.synth.schema_queries`);
- ``arguments``: repairs arguments by rule (drops unknown keys, coerces types, clamps ranges, fixes enum case);
- ``verify``: accepts every query.

The random generator of each request is seeded by (seed, step, prompt hash), so answers are deterministic
for a seed and independent of the order requests arrive in.
"""

from __future__ import annotations

import json
import random
from functools import cached_property
from pathlib import Path
from typing import Any

from tooldojo.records import stable_id
from tooldojo.runs import file_fingerprint
from tooldojo.synth.catalog import catalog_dir, load_catalog
from tooldojo.synth.request import TeacherRequest
from tooldojo.synth.steps import STEPS
from tooldojo.synth.steps.base import OfflineContext, Unanswerable
from tooldojo.synth.teacher import RequestFailed, Teacher, estimate_tokens

OFFLINE_VERSION = "2"
"""Bumped when the offline teacher's answers change, so cached offline answers are not reused."""


class OfflineUnsupported(RequestFailed):
    """The catalog has nothing to answer this request with."""

    retryable = False


class OfflineTeacher(Teacher):
    """The seed-catalog teacher (``teacher.model == "offline"``); no network, deterministic for a seed."""

    def __init__(self, cfg, *, catalog_folder: str | None = None, **kwargs: Any):
        super().__init__(cfg, **kwargs)
        self.catalog_folder = catalog_folder
        self.model_label = "offline"

    @cached_property
    def context(self) -> OfflineContext:
        return OfflineContext(load_catalog(self.catalog_folder), self.catalog_folder)

    @cached_property
    def cache_model(self) -> str:  # type: ignore[override]
        folder = Path(self.catalog_folder) if self.catalog_folder else catalog_dir()
        return f"offline-v{OFFLINE_VERSION}:{file_fingerprint(folder)}"

    @property
    def sampling(self) -> dict[str, Any]:
        return {"seed": self.seed}

    async def _send(self, messages: list[dict[str, str]], request: TeacherRequest) -> tuple[str, dict[str, int]]:
        rng = random.Random(stable_id(self.seed, request.step, request.prompt_hash))
        step = STEPS.get(request.step)
        if step is None or step.offline is None:
            raise OfflineUnsupported(f"the offline teacher has no answer for step {request.step!r}")
        try:
            answer = step.offline(self.context, request.variables, rng)
        except Unanswerable as err:
            raise OfflineUnsupported(str(err)) from None
        content = json.dumps(answer, ensure_ascii=False)
        return content, {"prompt_tokens": estimate_tokens(messages), "completion_tokens": len(content) // 4}
