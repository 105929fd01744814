"""Generation with vLLM (optional; used by ``backend: auto`` when vLLM is installed on a CUDA machine).

Prompts are rendered with the model's own chat template through transformers (exactly as the transformers
backend does) and handed to vLLM as token ids, so both backends see identical inputs.
"""

from __future__ import annotations

import time
from typing import Any

from tooldojo.eval.generation import GenRequest, GenResult, LocalModel, OnDone, new_token_cap
from tooldojo.eval.hf_backend import render_prompt
from tooldojo.stopping import trim_at_stop


class VLLMGenerator:
    """vLLM backend: continuous batching and paged KV cache on CUDA."""

    def __init__(self, model: LocalModel, *, max_new_tokens: int | None = None, temperature: float = 0.0,
                 top_p: float = 1.0, dtype: str = "auto", seed: int = 0, chunk_size: int = 512,
                 gpu_memory_utilization: float = 0.85):
        from vllm import LLM

        from tooldojo.models import load_tokenizer

        t0 = time.perf_counter()
        self.tokenizer = load_tokenizer(model.tokenizer_source)
        self.llm = LLM(model=model.path, dtype=dtype, seed=seed, enable_prefix_caching=True,
                       gpu_memory_utilization=gpu_memory_utilization)
        self.load_seconds = time.perf_counter() - t0
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed
        self.chunk_size = chunk_size
        self.name = f"vllm (cuda) {model.path}"

    def _params(self, req: GenRequest) -> Any:
        from vllm import SamplingParams

        stop = list(req.stop)
        return SamplingParams(temperature=self.temperature, top_p=self.top_p if self.temperature > 0 else 1.0,
                              max_tokens=new_token_cap(req, self.max_new_tokens), stop=stop or None,
                              include_stop_str_in_output=True, seed=self.seed)

    def generate(self, requests: list[GenRequest], on_done: OnDone) -> None:
        for start in range(0, len(requests), self.chunk_size):
            chunk = requests[start:start + self.chunk_size]
            prompts = [{"prompt_token_ids": self.tokenizer(render_prompt(self.tokenizer, r.messages, r.tools),
                                                           add_special_tokens=False)["input_ids"]}
                       for r in chunk]
            params = [self._params(r) for r in chunk]
            outputs = self.llm.generate(prompts, params, use_tqdm=False)
            on_done([GenResult(r.key, text=trim_at_stop(o.outputs[0].text, r.stop))
                     for r, o in zip(chunk, outputs, strict=True)])

    def close(self) -> None:
        import gc

        del self.llm
        gc.collect()
