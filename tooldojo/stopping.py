"""Where generation stops: the stop strings of tooldojo's tasks and the helpers that apply them, shared by
evaluation (every backend) and GRPO rollouts (which should end where an evaluated answer ends)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

TURN_STARTS = ("\n### User", "\n### Assistant", "\n### Tool result")
"""The headers of tooldojo's chat template (``templates/chat/base.jinja``): a model that writes one has ended
its turn (a base model continuing the transcript, e.g. with another ``### Assistant`` turn)."""
STOPS = {"select": ("</tool_call>", "</answer>", *TURN_STARTS), "rank": ("</ranking>", *TURN_STARTS)}
"""Generation stops right after the first answer section (the scenario tasks ask for one call / one ranking),
or when the model starts a new turn."""


def trim_at_stop(text: str, stops: Sequence[str]) -> str:
    """Cut ``text`` right after the earliest stop string (kept), as local backends may overshoot by a token."""
    cut = None
    for stop in stops:
        i = text.find(stop)
        if i >= 0 and (cut is None or i + len(stop) < cut):
            cut = i + len(stop)
    return text if cut is None else text[:cut]


def stop_criterion(tokenizer: Any, stops: list[str], prompt_len: int, window: int = 16) -> Any:
    """A stopping criterion that ends each sequence once its last ``window`` new tokens contain a stop string.

    Cheaper than transformers' ``stop_strings`` (which precomputes tables over the whole vocabulary on every
    ``generate`` call, about a second for Gemma's 262k tokens): it decodes a few tokens per sequence per step.
    """
    import torch
    from transformers import StoppingCriteria

    class TailStop(StoppingCriteria):
        def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
            tail = input_ids[:, max(prompt_len, input_ids.shape[1] - window):]
            texts = tokenizer.batch_decode(tail, skip_special_tokens=True)
            done = [any(s in t for s in stops) for t in texts]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return TailStop()
