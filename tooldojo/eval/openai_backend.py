"""Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM/SGLang/llama.cpp servers, ...).

Requests run concurrently through the async ``openai`` client, at most ``concurrency`` in flight. Tools go
in ``tools=``; the reply's ``tool_calls`` are kept as they came, and a text reply is kept as text (the
evaluator parses both). The client retries rate limits, timeouts and server errors with backoff (honouring
``Retry-After``); what still fails is reported as retryable and not checkpointed, so a rerun retries it.
Authentication and unknown-model errors stop the run with one line saying what to fix. The API key is read
from the environment variable named in the config and is never written anywhere.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from tooldojo.errors import ConfigError
from tooldojo.eval.generation import EndpointError, GenRequest, GenResult, OnDone, new_token_cap


def api_key_from_env(var: str, base_url: str) -> str:
    """The API key from ``$var``; local servers that ignore keys get a placeholder."""
    key = os.environ.get(var)
    if key:
        return key
    if "api.openai.com" in base_url:
        raise ConfigError(f"${var} is not set", field="eval.api_key_env",
                          fix=f"export {var}=<your key> (or name another variable with eval.api_key_env)")
    return "EMPTY"


class OpenAIGenerator:
    """Async OpenAI-client backend with bounded concurrency."""

    def __init__(self, model: str, base_url: str, *, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 16,
                 max_new_tokens: int | None = None, temperature: float = 0.0, top_p: float = 1.0, seed: int = 0,
                 max_retries: int = 4, timeout: float = 120.0):
        if not model:
            raise ConfigError("no model name for the endpoint", field="eval.model",
                              fix="pass --model <name the endpoint serves>, e.g. gpt-4o-mini")
        self.model = model
        self.base_url = base_url
        self.api_key = api_key_from_env(api_key_env, base_url)
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed
        self.max_retries = max_retries
        self.timeout = timeout
        self.load_seconds = 0.0
        self.name = f"openai endpoint {base_url} model {model}"

    def generate(self, requests: list[GenRequest], on_done: OnDone) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self._run(requests, on_done))
            return
        # Called from inside an event loop (a notebook): run ours in a thread.
        errors: list[BaseException] = []

        def target() -> None:
            try:
                asyncio.run(self._run(requests, on_done))
            except BaseException as err:  # re-raised in the caller's thread
                errors.append(err)

        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
        if errors:
            raise errors[0]

    async def _run(self, requests: list[GenRequest], on_done: OnDone) -> None:
        from openai import AsyncOpenAI

        client = AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, max_retries=self.max_retries,
                             timeout=self.timeout)
        sem = asyncio.Semaphore(self.concurrency)

        async def one(req: GenRequest) -> GenResult:
            async with sem:
                return await self._request(client, req)

        try:
            tasks = [asyncio.create_task(one(r)) for r in requests]
            try:
                for fut in asyncio.as_completed(tasks):
                    on_done([await fut])
            except BaseException:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
        finally:
            await client.close()

    async def _request(self, client: Any, req: GenRequest) -> GenResult:
        import openai

        kwargs: dict[str, Any] = {"model": self.model, "messages": req.messages,
                                  "max_tokens": new_token_cap(req, self.max_new_tokens),
                                  "temperature": self.temperature, "seed": self.seed}
        if self.temperature > 0:
            kwargs["top_p"] = self.top_p
        if req.tools:
            kwargs["tools"] = req.tools
            if req.tool_choice:
                kwargs["tool_choice"] = req.tool_choice
        try:
            resp = await client.chat.completions.create(**kwargs)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as err:
            raise EndpointError(f"the endpoint refused the key ({err.status_code})", field="eval.api_key_env",
                                fix=f"export a valid key in ${self.api_key_env}") from None
        except openai.NotFoundError as err:
            raise EndpointError(f"not found at {self.base_url}: {_message(err)}", field="eval.model",
                                fix="check eval.model (the served model's name) and eval.base_url (ends in /v1)") from None
        except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as err:
            return GenResult(req.key, error=f"{type(err).__name__}: {_message(err)}", retryable=True)
        except openai.APIStatusError as err:  # 400/422: this request cannot be served (too long, bad tools)
            return GenResult(req.key, error=f"{type(err).__name__} {err.status_code}: {_message(err)}")
        if not resp.choices:
            return GenResult(req.key, error="the endpoint returned no choices")
        msg = resp.choices[0].message
        calls = [tc.model_dump(mode="json") for tc in (msg.tool_calls or [])]
        return GenResult(req.key, text=msg.content or "", tool_calls=calls)  # [] marks a chat reply without calls

    def close(self) -> None:
        pass


def _message(err: Exception) -> str:
    text = getattr(err, "message", None) or str(err)
    return text.splitlines()[0][:300] if text else type(err).__name__
