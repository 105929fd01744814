"""A local OpenAI-compatible chat-completions server for hermetic tests and benchmarks.

``OpenAIStub`` is a real HTTP server (aiohttp) on ``127.0.0.1`` running in a background thread with its own
event loop, so it works from plain tests, from code that calls ``asyncio.run`` and from subprocesses that
get ``base_url``. Use it as a context manager (or the function-scoped ``openai_stub`` pytest fixture)::

    with OpenAIStub(responder=lambda body: '{"answer": 42}', latency_s=0.05) as stub:
        client = openai.OpenAI(base_url=stub.base_url, api_key="x")
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert stub.requests[0]["model"] == "m"

API:

- ``OpenAIStub(responder=None, latency_s=0.0)``: ``responder(request_body: dict) -> str | dict`` returns the
  assistant message *content* (a string) or a full message dict (e.g. ``{"role": "assistant", "content":
  None, "tool_calls": [...]}``). The default responder answers the fixed JSON object ``{"ok": true}``.
  ``latency_s`` is slept (asynchronously) before every answer. A responder that raises produces a 500.
- ``base_url``: ``"http://127.0.0.1:<port>/v1"``; ``POST /v1/chat/completions`` and ``GET /v1/models``.
- ``requests``: every received request body (parsed JSON), in arrival order, faulted ones included.
- ``queue_fault(kind, times=1, retry_after=None)``: the next ``times`` requests fail in the given way, in
  the order faults were queued:

  - ``"429"``: status 429 (rate limit), with a ``Retry-After: <retry_after>`` header when given;
  - ``"500"``: status 500;
  - ``"timeout"``: sleeps ``timeout_sleep_s`` (default 30 s, an attribute) before answering, i.e. past the
    client's timeout; the pending answer is cancelled when the stub stops;
  - ``"malformed_json"``: status 200 whose content is not JSON as a whole: the normal content wrapped in
    prose and a Markdown code fence (a client can extract it);
  - ``"truncated_json"``: status 200 whose content is the normal content cut in the middle
    (``finish_reason="length"``; not repairable, a client must re-ask);
  - ``"reject_json_schema"``: status 400 for a request whose ``response_format`` is ``json_schema``, like
    servers that lack structured output; requests without it pass and do not consume the fault;
  - ``"non_json"``: status 200 whose content is prose, no JSON at all;
  - ``"wrong_json"``: status 200 with a valid answer to *another* request of the same step (the last one
    seen that differs), like a proxy or server that mixes up replies; the request's own answer when there
    is no other yet;
  - transport faults: ``"reset"`` (the connection is dropped before any response), ``"truncated_body"``
    (headers announce the full body, half of it is sent, then the connection drops), ``"slow_drip"`` (the
    body trickles out in small chunks ``drip_s`` apart; a client with a short timeout gives up).

- ``faults_from``: no fault (queued or random) before this request index (default 0).
- ``fault_rate`` and ``fault_kinds`` (with ``fault_seed``): besides queued faults, each request fails with
  probability ``fault_rate`` as a kind drawn from ``fault_kinds`` (seeded, so a run's fault mix is
  reproducible). A refused connection is the stub stopped: ``stop()`` (nothing listens on the port any more;
  ``stop_after(n)`` stops it from a background thread once ``n`` requests arrived).

- Every 200 answer reports ``usage`` (``prompt_tokens`` ~ characters of the messages / 4, ``completion_tokens``
  ~ characters of the content / 4, ``total_tokens``).
- ``fault_log``: ``(request index, kind)`` for every fault served; ``max_in_flight``: the most requests
  handled at once (to check a client's concurrency bound). ``responder`` and ``latency_s`` are plain
  attributes and may be changed between requests.

Standalone (benchmarks run the server in its own process so it does not share the client's GIL)::

    python -m tests.openai_stub --port 8123 --latency 0.1
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

Responder = Callable[[dict[str, Any]], "str | dict[str, Any]"]
FAULTS = ("429", "500", "timeout", "malformed_json", "truncated_json", "reject_json_schema", "non_json",
          "wrong_json", "reset", "truncated_body", "slow_drip")


def default_responder(body: dict[str, Any]) -> str:
    """The default answer: the fixed JSON object ``{"ok": true}``."""
    return '{"ok": true}'


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _prompt_text(body: dict[str, Any]) -> str:
    parts = []
    for msg in body.get("messages") or []:
        content = msg.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None,
           param: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    return web.json_response(body, status=status, headers=headers)


class OpenAIStub:
    """An OpenAI-compatible chat-completions server on 127.0.0.1 (see the module docstring)."""

    def __init__(self, responder: Responder | None = None, latency_s: float = 0.0, *, port: int = 0):
        self.responder = responder or default_responder
        self.latency_s = latency_s
        self.timeout_sleep_s = 30.0
        self.requests: list[dict[str, Any]] = []
        self.fault_log: list[tuple[int, str]] = []
        self._faults: deque[list[Any]] = deque()  # [kind, remaining, retry_after]
        self._lock = threading.Lock()
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._counter = 0
        self._in_flight = 0
        self.max_in_flight = 0
        self.base_url = ""
        self.fault_rate = 0.0
        self.faults_from = 0
        self.fault_kinds: tuple[str, ...] = ()
        self.fault_seed = 0
        self.drip_s = 0.2
        self._rng: random.Random | None = None
        self._last_by_step: dict[str, dict[str, Any]] = {}
        self._stop_after: int | None = None
        self.stopped_at: float | None = None
        """``time.perf_counter()`` when :meth:`stop` began."""

    # ---- control -------------------------------------------------------------------------------
    def queue_fault(self, kind: str, times: int = 1, retry_after: float | None = None) -> None:
        """Make the next ``times`` requests fail as ``kind`` (one of :data:`FAULTS`)."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; choose from {FAULTS}")
        with self._lock:
            self._faults.append([kind, int(times), retry_after])

    def stop_after(self, n: int) -> None:
        """Stop the server (a refused connection from then on) once ``n`` requests have arrived."""
        self._stop_after = n

    def _take_fault(self, body: dict[str, Any], index: int) -> tuple[str, float | None] | None:
        if index < self.faults_from:
            return None
        with self._lock:
            if self.fault_rate and self.fault_kinds:
                if self._rng is None:
                    self._rng = random.Random(self.fault_seed)
                if self._rng.random() < self.fault_rate:
                    return self._rng.choice(self.fault_kinds), 1.0
            for entry in self._faults:
                kind, _, retry_after = entry
                if kind == "reject_json_schema":
                    fmt = body.get("response_format") or {}
                    if fmt.get("type") != "json_schema":
                        continue
                entry[1] -= 1
                if entry[1] <= 0:
                    self._faults.remove(entry)
                return kind, retry_after
        return None

    # ---- server --------------------------------------------------------------------------------
    def __enter__(self) -> OpenAIStub:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="openai-stub", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._startup_error is not None:
            raise RuntimeError(f"OpenAIStub failed to start: {self._startup_error}")

    def stop(self) -> None:
        if self._loop is None:
            return
        self.stopped_at = time.perf_counter()
        loop = self._loop
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        with contextlib.suppress(Exception):
            fut.result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as err:
            self._startup_error = err
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        return app

    async def _startup(self) -> None:
        self._runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port, shutdown_timeout=0.1)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        self._port = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self._port}/v1"

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- handlers ------------------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "stub", "object": "model", "owned_by": "stub"}]})

    async def _chat(self, request: web.Request) -> web.Response:
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            return await self._answer(request)
        finally:
            self._in_flight -= 1

    async def _answer(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "request body is not JSON", "invalid_request_error")
        with self._lock:
            index = len(self.requests)
            self.requests.append(body)
        if self._stop_after is not None and index + 1 >= self._stop_after:
            self._stop_after = None
            threading.Thread(target=self.stop, daemon=True).start()
        fault = self._take_fault(body, index)
        kind = fault[0] if fault else None
        if fault:
            self.fault_log.append((index, fault[0]))
        if kind == "429":
            headers = {"Retry-After": f"{fault[1]:g}"} if fault[1] is not None else None
            return _error(429, "Rate limit reached (stub)", "rate_limit_exceeded", headers)
        if kind == "500":
            return _error(500, "Internal server error (stub)", "server_error")
        if kind == "reject_json_schema":
            return _error(400, "response_format of type json_schema is not supported by this server",
                          "invalid_request_error", param="response_format")
        if kind == "reset":
            request.transport.abort()  # type: ignore[union-attr]
            raise asyncio.CancelledError
        if kind == "timeout":
            await asyncio.sleep(self.timeout_sleep_s)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        step = str(((body.get("response_format") or {}).get("json_schema") or {}).get("name", ""))
        answered = body
        if kind == "wrong_json":
            other = self._last_by_step.get(step)
            answered = other if other is not None and other != body else body
        self._last_by_step[step] = body
        try:
            answer = self.responder(answered)
        except Exception as err:  # a broken responder is a server error, visible to the test
            return _error(500, f"responder failed: {type(err).__name__}: {err}", "server_error")
        if isinstance(answer, dict):
            message = {"role": "assistant", **answer}
        else:
            message = {"role": "assistant", "content": answer}
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        content = message.get("content")
        if isinstance(content, str) and kind == "malformed_json":
            message["content"] = f"Sure! Here is the JSON you asked for:\n```json\n{content}\n```\nHope it helps."
        elif isinstance(content, str) and kind == "truncated_json":
            message["content"] = content[: max(1, len(content) // 2)]
            finish = "length"
        elif kind == "non_json":
            message["content"] = "I am sorry, I cannot help with generating that data right now."
        completion_text = message.get("content") or json.dumps(message.get("tool_calls") or "")
        prompt_tokens, completion_tokens = _tokens(_prompt_text(body)), _tokens(completion_text)
        self._counter += 1
        payload = {
            "id": f"chatcmpl-stub-{self._counter}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "stub"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }
        if kind in ("truncated_body", "slow_drip"):
            return await self._stream(request, json.dumps(payload).encode(), cut=kind == "truncated_body")
        return web.json_response(payload)

    async def _stream(self, request: web.Request, data: bytes, *, cut: bool) -> web.StreamResponse:
        """The body with its full ``Content-Length``: half of it then a dropped connection (``cut``), or all
        of it in 16 chunks ``drip_s`` apart."""
        resp = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": str(len(data))})
        await resp.prepare(request)
        if cut:
            await resp.write(data[: len(data) // 2])
            request.transport.abort()  # type: ignore[union-attr]
            raise asyncio.CancelledError
        step = max(1, -(-len(data) // 16))
        for i in range(0, len(data), step):
            await resp.write(data[i:i + step])
            await asyncio.sleep(self.drip_s)
        await resp.write_eof()
        return resp


def spawn(latency: float = 0.0):
    """Start the stub in its own process (so its CPU time is not the client's); returns ``(process, base_url)``.
    Stop it with ``process.terminate()``."""
    import subprocess
    import sys
    from pathlib import Path

    proc = subprocess.Popen([sys.executable, "-m", "tests.openai_stub", "--latency", str(latency)],
                            cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    if not line or line[0] != "READY":
        proc.kill()
        raise RuntimeError("the stub server did not start")
    return proc, line[1]


def main(argv: list[str] | None = None) -> None:
    """Serve the stub in the foreground (for benchmarks): prints ``READY <base_url>`` once listening."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds slept before every answer")
    args = ap.parse_args(argv)
    stub = OpenAIStub(latency_s=args.latency, port=args.port)

    async def serve() -> None:
        await stub._startup()
        print(f"READY {stub.base_url}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
