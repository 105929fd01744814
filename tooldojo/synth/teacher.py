"""The teacher: an LLM client that knows no prompts; one request/reply path shared by the HTTP teacher and
the offline teacher (the factory that picks one: :mod:`tooldojo.synth.teachers`).

A :class:`~tooldojo.synth.request.TeacherRequest`, built by a step (:mod:`tooldojo.synth.steps`), carries the
rendered chat messages, the step's response JSON schema, its re-ask and the structured variables the template
was rendered from (``variables`` feed the offline teacher and are never sent). :meth:`Teacher.ask` looks the
request up in the response cache, otherwise sends it, parses the reply (repairing code fences and surrounding
prose), validates it against the schema, and re-asks once with the errors (the request's re-ask) when it does
not validate. A reply that still fails is counted and logged, and
``ask`` returns no data for it. Only replies that validate enter the cache, so a rerun asks again for every
request that failed or was answered badly.

A circuit breaker stops the run (:class:`TeacherDown`, a :class:`~tooldojo.errors.TeacherError`) when the
teacher is unreachable or most recent requests fail, and ``max_cost_usd`` stops it once the measured cost
reaches the cap (:class:`BudgetReached`); answers received so far stay in the cache.

:class:`OpenAITeacher` drives ``openai.AsyncOpenAI`` against any OpenAI-compatible ``base_url``: the SDK's
own retries (429/5xx/timeouts, exponential backoff with jitter, ``Retry-After`` honoured), bounded
concurrency, requests-per-minute and tokens-per-minute limits (``aiolimiter``), a per-request timeout, and a
JSON-schema ``response_format`` that falls back to ``json_object`` and then to plain text when the server
rejects it (``structured_output: auto``). Every HTTP attempt and retry is counted per step through an
event hook on the HTTP client; an attempt that is a retry triggers a TCP probe of the server, so an outage
(nothing listening, DNS, TLS) stops the run within seconds instead of after every request's retries.
Transport failures are classified from the exception chain (the SDK's aiohttp transport reports a refused
connection or a reset as a ``ConnectTimeout``, i.e. ``APITimeoutError``).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import logging
import os
import re
import ssl
import time
from collections import defaultdict, deque
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlparse

import openai

from tooldojo.errors import TeacherError
from tooldojo.synth.cache import ResponseCache, cache_key
from tooldojo.synth.config import TeacherConfig
from tooldojo.synth.request import TeacherRequest
from tooldojo.synth.schemas import schema_errors
from tooldojo.synth.steps import STEPS
from tooldojo.synth.steps.reask import follow_up

log = logging.getLogger("tooldojo.synth")

_STEP: contextvars.ContextVar[str] = contextvars.ContextVar("tooldojo_teacher_step", default="")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0", "::1", "[::1]"}


@dataclass
class TeacherReply:
    """The parsed, schema-valid reply (``data``), or ``None`` with the reason in ``error``."""

    data: dict[str, Any] | None
    prompt_hash: str
    error: str | None = None
    cached: bool = False


@dataclass
class StepStats:
    """Accounting of one step (``tools``, ``upgrade``, ...)."""

    asked: int = 0
    """Requests the step made (cache hits included; re-asks count separately)."""
    cache_hits: int = 0
    sent: int = 0
    """Requests sent to the teacher (not answered from the cache), re-asks included."""
    attempts: int = 0
    """HTTP attempts, retries included (0 for the offline teacher)."""
    retries: int = 0
    failures: int = 0
    """Requests that failed after every retry (not cached; a rerun asks again)."""
    reasks: int = 0
    repaired: int = 0
    """Replies that were not JSON as a whole but were repaired (code fence or prose stripped)."""
    invalid: int = 0
    """Replies that still failed the response schema after the re-ask (dropped, logged, never cached)."""
    truncated: int = 0
    """Replies cut at ``max_tokens`` (``finish_reason: length``), asked again with twice the room."""
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: StepStats) -> None:
        for k, v in asdict(other).items():
            setattr(self, k, getattr(self, k) + v)


class Progress(Protocol):
    def started(self, step: str) -> None: ...
    def finished(self, step: str) -> None: ...


class RequestFailed(Exception):
    """One request failed after the SDK's retries (counted; the item it was for is dropped)."""

    retryable = True
    """A rerun may succeed (counted by the circuit breaker; the run ends ``partial``). ``False`` for a
    request this teacher can never answer (the offline teacher outside its catalog)."""


class TeacherDown(TeacherError):
    """The circuit breaker tripped: the teacher is unreachable or most recent requests failed."""


class BudgetReached(TeacherError):
    """``max_cost_usd`` is reached; the run stops with every answer so far cached."""


# ---- reply parsing ---------------------------------------------------------------------------------
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _extract_object(text: str) -> Any:
    """The first JSON object in ``text`` (inside a code fence, or between the outermost braces)."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start:end + 1])
    for cand in candidates:
        for fixed in (cand, _TRAILING_COMMA.sub(r"\1", cand)):
            try:
                return json.loads(fixed)
            except json.JSONDecodeError:
                continue
    raise ValueError("no JSON object found")


def parse_reply(content: str | None, schema: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None, bool]:
    """``(data, error, repaired)``: the reply as a schema-valid object, or ``None`` and why not."""
    if not content or not content.strip():
        return None, "the reply was empty", False
    repaired = False
    try:
        data = json.loads(content)
    except json.JSONDecodeError as err:
        try:
            data = _extract_object(content)
            repaired = True
        except ValueError:
            return None, f"the reply is not JSON ({err.msg} at character {err.pos})", False
    if not isinstance(data, dict):
        return None, f"the reply is JSON but not an object (got {type(data).__name__})", repaired
    errors = schema_errors(schema, data)
    if errors:
        return None, "the reply does not match the schema: " + "; ".join(errors), repaired
    return data, None, repaired


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """A rough token count (characters / 4) for rate limiting and offline accounting."""
    return sum(len(str(m.get("content") or "")) for m in messages) // 4 + 4 * len(messages)


@lru_cache(maxsize=1)
def _shipped_templates():
    from tooldojo.synth.templates import TemplateSet

    return TemplateSet()


def _reask(request: TeacherRequest, error: str) -> list[dict[str, str]]:
    """The request's re-ask messages (the shipped ``reask.jinja`` for a request built without one)."""
    if request.reask is not None:
        return request.reask(error)
    return follow_up(_shipped_templates(), error, request.schema)


# ---- the shared request path -------------------------------------------------------------------------
class Teacher:
    """Cache, parse, validate, re-ask, account. Subclasses implement :meth:`_send`."""

    model_label = ""

    def __init__(self, cfg: TeacherConfig, *, seed: int = 0, cache: ResponseCache | None = None,
                 progress: Progress | None = None):
        self.cfg = cfg
        self.seed = seed
        self.cache = cache if cfg.cache else None
        self.progress = progress
        self.stats: dict[str, StepStats] = defaultdict(StepStats)
        self.model_label = cfg.model
        self.down: TeacherDown | None = None
        """Set when the circuit breaker tripped; every later request raises it."""
        self._recent: deque[tuple[bool, str]] = deque(maxlen=cfg.breaker_window or 1)
        self._usage: dict[str, dict[str, int]] = {}

    @property
    def cache_model(self) -> str:
        """The model part of the cache key."""
        return f"{self.cfg.model}@{self.cfg.base_url or 'openai'}"

    @property
    def sampling(self) -> dict[str, Any]:
        c = self.cfg
        return {"temperature": c.temperature, "top_p": c.top_p, "max_tokens": c.max_tokens, "seed": self.seed}

    async def __aenter__(self) -> Teacher:
        await self.open()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def open(self) -> None:
        """Prepare connections (checks that the server is reachable)."""

    async def close(self) -> None:
        """Release connections."""

    async def _send(self, messages: list[dict[str, str]], request: TeacherRequest) -> tuple[str, dict[str, int]]:
        raise NotImplementedError

    def _cost(self, st: StepStats) -> float | None:
        if not self.cfg.price_per_million:
            return None
        p, c = self.cfg.price_per_million
        return (st.prompt_tokens * p + st.completion_tokens * c) / 1e6

    def _check_budget(self) -> None:
        cap = self.cfg.max_cost_usd
        if cap is None or self.cfg.price_per_million is None:
            return
        total = StepStats()
        for st in self.stats.values():
            total.add(st)
        spent = self._cost(total) or 0.0
        if spent >= cap:
            raise BudgetReached(f"the teacher cost reached ${spent:.4f} of the ${cap:g} cap; "
                                "every answer so far is cached", field="--max-cost (synth.teacher.max_cost_usd)",
                                fix="raise the cap and rerun the same command to continue")

    async def _complete(self, messages: list[dict[str, str]], request: TeacherRequest) -> tuple[str, bool, str]:
        """The reply content for ``messages``, from the cache or the teacher: ``(content, cached, key)``.
        Nothing is stored here: :meth:`ask` caches a reply once it validates."""
        st = self.stats[request.step]
        key = cache_key(self.cache_model, messages, self.sampling, request.schema)
        if self.cache is not None:
            hit = self.cache.get(key)
            if inspect.isawaitable(hit):  # a remote store (the Ray executor's) answers asynchronously
                hit = await hit
            if hit is not None:
                st.cache_hits += 1
                return hit[0], True, key
        if self.down is not None:
            raise self.down
        self._check_budget()
        st.sent += 1
        content, usage = await self._send(messages, request)
        st.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        st.completion_tokens += int(usage.get("completion_tokens") or 0)
        self._usage[key] = usage
        return content, False, key

    async def _store(self, key: str, content: str, step: str) -> None:
        if self.cache is None:
            return
        stored = self.cache.put(key, content, step=step, model=self.cache_model, usage=self._usage.pop(key, {}))
        if inspect.isawaitable(stored):
            await stored

    async def forget(self, request: TeacherRequest) -> None:
        """Remove the cached reply to ``request`` that a later check rejected (e.g. it answers another
        family's request), so a rerun asks again."""
        if self.cache is not None:
            await self._delete(cache_key(self.cache_model, request.messages, self.sampling, request.schema))

    async def _delete(self, key: str) -> None:
        assert self.cache is not None
        gone = self.cache.delete(key)
        if inspect.isawaitable(gone):
            await gone

    def _outcome(self, ok: bool, error: str = "") -> None:
        """Feed the circuit breaker one sent request's outcome; trip it when most recent ones failed."""
        window = self.cfg.breaker_window
        if not window:
            return
        self._recent.append((ok, error))
        n = len(self._recent)
        failed = [e for good, e in self._recent if not good]
        if n >= min(window, 10) and len(failed) >= self.cfg.breaker_failure_ratio * n:
            self.trip(f"{len(failed)} of the last {n} teacher requests failed (last: {failed[-1][:160]})")

    def trip(self, reason: str) -> None:
        """Stop the run: every later request raises :class:`TeacherDown` with ``reason``."""
        if self.down is None:
            where = self.cfg.base_url or "OpenAI"
            self.down = TeacherDown(f"stopped: the teacher at {where} failed: {reason}",
                                    field="--base-url (synth.teacher.base_url)",
                                    fix="check that the server is up, then rerun the same command: every answer "
                                        "received is cached")
            log.error("%s", self.down)

    async def ask(self, request: TeacherRequest) -> TeacherReply:
        """Send ``request`` (or answer it from the cache) and return its parsed, schema-valid reply."""
        st = self.stats[request.step]
        st.asked += 1
        if self.progress:
            self.progress.started(request.step)
        try:
            content, cached, key = await self._complete(request.messages, request)
            data, error, repaired = parse_reply(content, request.schema)
            if data is None and cached:  # an invalid row (written by an older version): forget it, ask again
                await self._delete(key)
                st.cache_hits -= 1
                content, cached, key = await self._complete(request.messages, request)
                data, error, repaired = parse_reply(content, request.schema)
            valid_hit = cached and data is not None
            if data is None:
                st.reasks += 1
                follow = [*request.messages, {"role": "assistant", "content": content or ""},
                          *_reask(request, error)]
                content, cached2, key2 = await self._complete(follow, request)
                cached = cached and cached2
                data, error, repaired = parse_reply(content, request.schema)
                if data is None:
                    st.invalid += 1
                    self._usage.pop(key, None)
                    self._usage.pop(key2, None)
                    if not cached:
                        self._outcome(False, f"invalid reply: {error}")
                    log.warning("teacher reply for step %s (prompt %s) still invalid after re-ask: %s",
                                request.step, request.prompt_hash, error)
                    return TeacherReply(None, request.prompt_hash, error=f"invalid reply: {error}", cached=cached)
                if not cached2:
                    await self._store(key2, content, request.step)
            if not valid_hit:  # the request's own key gets the valid answer too, so a rerun needs no re-ask
                await self._store(key, content, request.step)
            if not cached:
                self._outcome(True)
            if repaired:
                st.repaired += 1
            return TeacherReply(data, request.prompt_hash, cached=cached)
        except RequestFailed as err:
            st.failures += 1
            if not err.retryable:
                return TeacherReply(None, request.prompt_hash, error=f"unanswerable: {err}")
            self._outcome(False, str(err))
            log.warning("teacher request for step %s failed: %s", request.step, err)
            return TeacherReply(None, request.prompt_hash, error=f"request failed: {err}")
        finally:
            if self.progress:
                self.progress.finished(request.step)

    def accounting(self) -> dict[str, Any]:
        """Per-step and total accounting (tokens, requests, retries, failures, cost when priced)."""
        out: dict[str, Any] = {}
        total = StepStats()
        order = tuple(STEPS)
        for step in sorted(self.stats, key=lambda s: (order.index(s) if s in order else len(order), s)):
            total.add(self.stats[step])
            out[step] = self._with_cost(self.stats[step])
        out["total"] = self._with_cost(total)
        return out

    def _with_cost(self, st: StepStats) -> dict[str, Any]:
        row: dict[str, Any] = asdict(st)
        cost = self._cost(st)
        if cost is not None:
            row["cost_usd"] = round(cost, 6)
        return row

    def describe(self) -> dict[str, Any]:
        return {"model": self.model_label, "base_url": self.cfg.base_url, "sampling": self.sampling}


# ---- the HTTP teacher ----------------------------------------------------------------------------------
def is_local_url(base_url: str | None) -> bool:
    """True for a server on this machine (vLLM, llama.cpp, Ollama...), which needs no real key."""
    if not base_url:
        return False
    host = (urlparse(base_url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.startswith("127.")


def resolve_api_key(cfg: TeacherConfig) -> str:
    """The key from the environment variable ``cfg.api_key_env`` (local servers get a placeholder)."""
    key = os.environ.get(cfg.api_key_env, "").strip()
    if key:
        return key
    if is_local_url(cfg.base_url):
        return "not-needed"
    where = cfg.base_url or "OpenAI"
    raise TeacherError(
        f"environment variable {cfg.api_key_env} is not set (needed for the teacher at {where})",
        field="synth.teacher.api_key_env",
        fix=f"export {cfg.api_key_env}=<your key> (a server that needs no key accepts any value, e.g. EMPTY)",
    )


FATAL_TRANSPORT = ("refused", "dns", "tls")
"""Transport failures that mean the teacher cannot be reached at all: the run stops at once."""


def transport_failure(err: BaseException) -> tuple[str, str]:
    """``(kind, detail)`` of a failed request from its exception chain: ``refused`` (nothing listening),
    ``dns``, ``tls``, ``reset`` (the connection dropped or the body was cut), ``timeout``, or ``connect``.

    The SDK's aiohttp transport maps every ``aiohttp.ClientConnectionError`` (a refused connection, a
    server that disconnected) to ``httpx.ConnectTimeout``, so ``APITimeoutError`` alone says little; the
    original aiohttp/OS error is further down the ``__cause__`` chain."""
    import socket

    import aiohttp
    import httpx2

    chain: list[BaseException] = []
    cur: BaseException | None = err
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    for e in chain:
        os_err = getattr(e, "os_error", None)
        detail = f"{type(e).__name__}: {e}"[:200]
        if isinstance(e, aiohttp.ClientConnectorDNSError | socket.gaierror):
            return "dns", detail
        if isinstance(e, aiohttp.ClientSSLError | ssl.SSLError):
            return "tls", detail
        if isinstance(e, ConnectionRefusedError) or isinstance(os_err, ConnectionRefusedError):
            return "refused", detail
        if isinstance(e, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | ConnectionResetError
                      | aiohttp.ClientConnectionResetError | BrokenPipeError):
            return "reset", detail
        if isinstance(e, aiohttp.SocketTimeoutError | aiohttp.ServerTimeoutError | TimeoutError):
            return "timeout", detail
    for e in chain:
        if isinstance(e, httpx2.TimeoutException | openai.APITimeoutError):
            return "timeout", f"{type(e).__name__}: {e}"[:200]
        if isinstance(e, httpx2.ReadError | httpx2.RemoteProtocolError):
            return "reset", f"{type(e).__name__}: {e}"[:200]
    last = chain[-1]
    return "connect", f"{type(last).__name__}: {last}"[:200]


async def unreachable(base_url: str | None, timeout: float = 5.0) -> str | None:
    """Why no TCP connection to ``base_url``'s host and port can be opened (``None``: it can)."""
    import socket

    url = urlparse(base_url or "https://api.openai.com/v1")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(url.hostname, port), timeout)
    except TimeoutError:
        return f"connect to {url.hostname}:{port} timed out after {timeout:g}s"
    except ConnectionRefusedError:
        return f"connection refused: nothing listens on {url.hostname}:{port}"
    except socket.gaierror as err:
        return f"DNS lookup of {url.hostname} failed ({err.strerror})"
    except OSError as err:
        return err.strerror or type(err).__name__
    writer.close()
    return None


async def check_reachable(base_url: str | None, timeout: float = 5.0) -> None:
    """Fail with one line naming ``--base-url`` when nothing listens at ``base_url``."""
    url = urlparse(base_url or "https://api.openai.com/v1")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise TeacherError(f"{base_url!r} is not an http(s) URL", field="--base-url (synth.teacher.base_url)",
                           fix="pass e.g. --base-url http://localhost:8000/v1")
    reason = await unreachable(base_url, timeout)
    if reason is not None:
        raise TeacherError(
            f"cannot reach the teacher at {base_url or url.geturl()} ({reason})",
            field="--base-url (synth.teacher.base_url)",
            fix="start the server or pass the right --base-url (e.g. http://localhost:8000/v1), "
                "or use --teacher offline",
        )


class _Stopped(openai.OpenAIError):
    """Raised by the attempt hook once the breaker tripped (the SDK passes an ``OpenAIError`` on unretried)."""


class _FormatRejected(Exception):
    """The server answered 400 about ``response_format``: downgrade and send again."""

    def __init__(self, mode: str, why: str):
        super().__init__(why)
        self.mode = mode


_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "structured", "guided", "schema")
_SCHEMA_HINT = "\n\nReply with only one JSON object that matches this JSON Schema:\n```json\n{schema}\n```"


class OpenAITeacher(Teacher):
    """A teacher on any OpenAI-compatible chat-completions endpoint (see the module docstring)."""

    def __init__(self, cfg: TeacherConfig, **kwargs: Any):
        super().__init__(cfg, **kwargs)
        self.api_key = resolve_api_key(cfg)
        self.mode = "json_schema" if cfg.structured_output == "auto" else cfg.structured_output
        self.mode_changes: list[str] = []
        self._client = None
        self._sem: asyncio.Semaphore | None = None
        self._rpm = self._tpm = None
        self._posts: set[asyncio.Task] = set()
        self._probe: asyncio.Task | None = None
        self._last_probe = 0.0

    async def open(self) -> None:
        import httpx2
        from aiolimiter import AsyncLimiter

        await check_reachable(self.cfg.base_url)
        c = self.cfg
        limits = httpx2.Limits(max_connections=c.concurrency, max_keepalive_connections=c.concurrency)
        kwargs = {"limits": limits, "timeout": c.timeout_s, "event_hooks": {"request": [self._on_attempt]}}
        try:  # aiohttp transport: about twice the throughput of httpx's own pool at high concurrency
            http = openai.DefaultAioHttpClient(**kwargs)
        except RuntimeError:
            http = openai.DefaultAsyncHttpxClient(**kwargs)
        self._client = openai.AsyncOpenAI(api_key=self.api_key, base_url=c.base_url, timeout=c.timeout_s,
                                          max_retries=c.max_retries, http_client=http)
        self._sem = asyncio.Semaphore(c.concurrency)
        self._rpm = AsyncLimiter(c.requests_per_minute, 60) if c.requests_per_minute else None
        self._tpm = AsyncLimiter(c.tokens_per_minute, 60) if c.tokens_per_minute else None

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _on_attempt(self, request: Any) -> None:
        if self.down is not None:  # an OpenAIError propagates through the SDK's retry loop unretried
            raise _Stopped()
        st = self.stats[_STEP.get() or "other"]
        st.attempts += 1
        if request.headers.get("x-stainless-retry-count", "0") not in ("", "0"):
            st.retries += 1
            now = time.monotonic()  # a retry means an attempt failed: is the server still there?
            if (self._probe is None or self._probe.done()) and now - self._last_probe >= 1.0:
                self._last_probe = now
                self._probe = asyncio.create_task(self._check_server())

    async def _check_server(self) -> None:
        reason = await unreachable(self.cfg.base_url, timeout=min(5.0, self.cfg.timeout_s))
        if reason is not None:
            self.trip(reason)

    def trip(self, reason: str) -> None:
        super().trip(reason)
        for task in list(self._posts):  # requests waiting in the SDK's backoff end now
            if task is not asyncio.current_task():
                task.cancel()

    def _body(self, messages: list[dict[str, str]], request: TeacherRequest, mode: str) -> dict[str, Any]:
        if mode != "json_schema":
            hint = _SCHEMA_HINT.format(schema=json.dumps(request.schema, ensure_ascii=False))
            messages = [*messages[:-1], {**messages[-1], "content": messages[-1]["content"] + hint}]
        body: dict[str, Any] = {"model": self.cfg.model, "messages": messages, **self.sampling}
        if mode == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": f"tooldojo_{request.step}", "schema": request.schema, "strict": False}}
        elif mode == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    async def _send(self, messages: list[dict[str, str]], request: TeacherRequest) -> tuple[str, dict[str, int]]:
        assert self._client is not None and self._sem is not None, "use the teacher inside `async with`"
        token = _STEP.set(request.step)
        try:
            async with self._sem:
                if self._rpm is not None:
                    await self._rpm.acquire()
                if self._tpm is not None:
                    await self._tpm.acquire(min(estimate_tokens(messages), self.cfg.tokens_per_minute))
                resp = await self._post(messages, request)
                data, message, finish = _completion(resp)
                if finish == "length":  # cut at max_tokens: ask once more with twice the room
                    self.stats[request.step].truncated += 1
                    room = min(2 * self.cfg.max_tokens, 32768)
                    resp = await self._post(messages, request, max_tokens=room)
                    data, message, finish = _completion(resp)
                    if finish == "length":
                        raise RequestFailed(f"the reply was cut at max_tokens={room} (finish_reason: length)")
        finally:
            _STEP.reset(token)
        content = message.get("content") or ""
        usage = {k: int((data.get("usage") or {}).get(k) or 0) for k in ("prompt_tokens", "completion_tokens")}
        if self._tpm is not None and usage["completion_tokens"]:
            await self._tpm.acquire(min(usage["completion_tokens"], self.cfg.tokens_per_minute))
        return content, usage

    async def _post(self, messages: list[dict[str, str]], request: TeacherRequest, **override: Any) -> Any:
        """One chat completion through the SDK (its retries included), as a task :meth:`trip` can cancel."""
        while True:
            mode = self.mode
            body = {**self._body(messages, request, mode), **override}
            task = asyncio.ensure_future(self._post_once(body, mode))
            self._posts.add(task)
            try:
                return await task
            except _FormatRejected as err:
                self._downgrade(err.mode, str(err))
            except (asyncio.CancelledError, _Stopped):
                current = asyncio.current_task()
                if self.down is not None and not (current and current.cancelling()):
                    raise self.down from None
                raise
            finally:
                self._posts.discard(task)

    async def _post_once(self, body: dict[str, Any], mode: str) -> Any:
        import httpx2

        try:
            return await self._client.post("/chat/completions", body=body, cast_to=httpx2.Response)
        except openai.BadRequestError as err:
            text = str(err).lower()
            if (self.cfg.structured_output == "auto" and mode != "none"
                    and any(w in text for w in _FORMAT_WORDS)):
                raise _FormatRejected(mode, str(err)) from None
            raise RequestFailed(f"400 Bad Request: {_error_message(err)}") from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as err:
            raise TeacherError(f"the teacher refused the API key ({_error_message(err)})",
                               field="synth.teacher.api_key_env",
                               fix=f"set {self.cfg.api_key_env} to a valid key") from None
        except openai.NotFoundError as err:
            raise TeacherError(f"not found at the teacher: {_error_message(err)}",
                               field="synth.teacher.model / --base-url",
                               fix="check the model name and that --base-url ends in /v1") from None
        except _Stopped:
            raise
        except openai.APIConnectionError as err:  # APITimeoutError included: the transport decides
            kind, detail = transport_failure(err)
            if kind in FATAL_TRANSPORT:
                self.trip(f"{kind}: {detail}")
                raise self.down from None  # type: ignore[misc]
            each = f" of {self.cfg.timeout_s:g}s" if kind == "timeout" else ""
            raise RequestFailed(f"{kind} after {self.cfg.max_retries + 1} attempts{each}: {detail}") from None
        except openai.APIStatusError as err:
            raise RequestFailed(f"HTTP {err.status_code} after retries: {_error_message(err)}") from None

    def _downgrade(self, used: str, why: str) -> None:
        order = ["json_schema", "json_object", "none"]
        if self.mode == used:  # other requests may have downgraded already
            self.mode = order[order.index(used) + 1]
            self.mode_changes.append(f"{used} -> {self.mode}")
            log.warning("teacher rejected response_format %s (%s); using %s from now on", used,
                        why.splitlines()[0][:160], self.mode)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "structured_output": self.mode, "structured_output_changes": self.mode_changes}


def _completion(resp: Any) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """``(body, message, finish_reason)`` of a chat-completion response."""
    try:
        data = json.loads(resp.content)
        choice = data["choices"][0]
        return data, choice["message"], choice.get("finish_reason")
    except (ValueError, KeyError, IndexError, TypeError):
        raise RequestFailed(f"the server's response is not a chat completion: {resp.text[:200]!r}") from None


def _error_message(err: Any) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body["error"] if isinstance(body.get("error"), dict) else body
        if inner.get("message"):
            return str(inner["message"])
    return str(err).splitlines()[0][:200]
