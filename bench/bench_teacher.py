"""Teacher client throughput against the local OpenAI-compatible stub with a fixed 100 ms latency.

For concurrency 16, 64 and 256: requests/s, as a fraction of the limit (concurrency / latency), and the
client's CPU time per request. The stub runs in its own process (``python -m tests.openai_stub``), so the
client's CPU time is its own. Rows:

- ``tooldojo teacher``: :class:`tooldojo.synth.teacher.OpenAITeacher` as synth uses it: the SDK's request
  path (``AsyncOpenAI.post``, retries on) over the aiohttp transport, JSON-schema ``response_format``, reply
  parsing and schema validation, accounting, and the SQLite cache (every request new, so every answer is
  written and committed);
- ``openai create()``: the plain SDK call ``AsyncOpenAI.chat.completions.create`` with the default httpx
  transport and an ``asyncio.Semaphore``, for comparison;
- ``bare aiohttp (ceiling)``: the same requests as bare aiohttp POSTs, nothing else: the most this harness
  (stub server and client on the same cores) delivers.

- ``distilabel``: the same load through distilabel's ``OpenAILLM.agenerate`` (``bench/_distilabel_load.py``),
  run by ``--distilabel-python PATH`` (a Python whose environment has ``distilabel[openai]``; it pins
  packages tooldojo does not, so it lives in its own venv). ``bespokelabs-curator`` is not compared: it
  installs, but its client is litellm and it reports telemetry over the network, which this offline
  benchmark cannot allow.

Run: ``python -m bench.bench_teacher`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

from bench._report import table, write_section
from tests.openai_stub import spawn as spawn_stub

ROOT = Path(__file__).resolve().parent.parent
LATENCY = 0.1
SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
PROMPT = "Write one realistic tool for the weather domain as an OpenAI function schema. " * 12


async def run_teacher(base_url: str, concurrency: int, n: int, offset: int) -> tuple[float, float, int]:
    from tooldojo.synth.cache import ResponseCache
    from tooldojo.synth.config import TeacherConfig
    from tooldojo.synth.teacher import OpenAITeacher, TeacherRequest

    with tempfile.TemporaryDirectory() as tmp:
        cfg = TeacherConfig(model="bench", base_url=base_url, concurrency=concurrency, max_retries=2, timeout_s=30)
        teacher = OpenAITeacher(cfg, cache=ResponseCache(Path(tmp) / "cache.sqlite"))

        def req(i: int) -> TeacherRequest:
            return TeacherRequest("bench", [{"role": "system", "content": "Reply with JSON."},
                                            {"role": "user", "content": f"{PROMPT} #{offset + i}"}], SCHEMA)

        async with teacher:
            await asyncio.gather(*(teacher.ask(req(-1 - i)) for i in range(concurrency)))  # warm connections
            t0, c0 = time.perf_counter(), time.process_time()
            replies = await asyncio.gather(*(teacher.ask(req(i)) for i in range(n)))
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        ok = sum(r.data is not None for r in replies)
        teacher.cache.close()
    return wall, cpu, ok


async def run_sdk(base_url: str, concurrency: int, n: int) -> tuple[float, float, int]:
    import httpx2
    import openai

    http = openai.DefaultAsyncHttpxClient(limits=httpx2.Limits(max_connections=concurrency,
                                                               max_keepalive_connections=concurrency))
    client = openai.AsyncOpenAI(base_url=base_url, api_key="x", http_client=http, max_retries=2)
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> bool:
        async with sem:
            r = await client.chat.completions.create(
                model="bench", messages=[{"role": "user", "content": f"{PROMPT} #{i}"}], temperature=0.8,
                response_format={"type": "json_schema", "json_schema": {"name": "b", "schema": SCHEMA}})
            return bool(r.choices[0].message.content)

    await asyncio.gather(*(one(i) for i in range(concurrency)))
    t0, c0 = time.perf_counter(), time.process_time()
    oks = await asyncio.gather(*(one(i) for i in range(n)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    await client.close()
    return wall, cpu, sum(oks)


async def run_raw(base_url: str, concurrency: int, n: int) -> tuple[float, float, int]:
    """The harness's ceiling: bare aiohttp POSTs (no SDK, no parsing beyond ``json()``, no validation, no cache)."""
    import aiohttp

    body = {"model": "bench", "temperature": 0.8,
            "response_format": {"type": "json_schema", "json_schema": {"name": "b", "schema": SCHEMA}}}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int) -> bool:
            async with sem, session.post(f"{base_url}/chat/completions", json={
                    **body, "messages": [{"role": "user", "content": f"{PROMPT} #{i}"}]}) as resp:
                return bool((await resp.json())["choices"][0]["message"]["content"])

        await asyncio.gather(*(one(i) for i in range(concurrency)))
        t0, c0 = time.perf_counter(), time.process_time()
        oks = await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - t0, time.process_time() - c0, sum(oks)


def run_distilabel(python: str, base_url: str, concurrency: int, n: int) -> tuple[float, float, int]:
    import json

    out = subprocess.run([python, str(ROOT / "bench" / "_distilabel_load.py"), base_url, str(concurrency), str(n)],
                         capture_output=True, text=True, check=True, timeout=600)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return res["wall"], res["cpu"], res["ok"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument("--no-write", action="store_true", help="print only; do not update docs/benchmarks.md")
    ap.add_argument("--distilabel-python", help="a Python with distilabel[openai] installed, to compare")
    args = ap.parse_args(argv)
    rounds = 2 if args.quick else 20  # requests per connection: n = rounds * concurrency
    concurrencies = (16, 64) if args.quick else (16, 64, 256)
    proc, base_url = spawn_stub(LATENCY)
    rows = []
    try:
        for c in concurrencies:
            n = rounds * c
            rows.append(_row("tooldojo teacher", c, n, *asyncio.run(run_teacher(base_url, c, n, offset=c * 100_000))))
            rows.append(_row("openai create()", c, n, *asyncio.run(run_sdk(base_url, c, n))))
            rows.append(_row("bare aiohttp (ceiling)", c, n, *asyncio.run(run_raw(base_url, c, n))))
            if args.distilabel_python:
                rows.append(_row("distilabel", c, n, *run_distilabel(args.distilabel_python, base_url, c, n)))
    finally:
        proc.terminate()
        proc.wait(10)
    ratios = []
    for c in concurrencies:
        by = {r["client"]: r for r in rows if r["concurrency"] == c}
        if "distilabel" in by:
            ratios.append(f"{c}: {by['tooldojo teacher']['req/s'] / by['distilabel']['req/s']:.2f}×")
    body = (f"Stub server in its own process, fixed {LATENCY * 1000:.0f} ms latency per request; the limit is "
            "concurrency ÷ latency. Client CPU is the client process's CPU time (the server's is not "
            "included). `tooldojo teacher` includes reply parsing, schema validation and a committed SQLite "
            "cache write per request. `bare aiohttp (ceiling)` sends the same requests with nothing else (no SDK, "
            "no validation, no cache): what this harness — server and client sharing the 2 cores — can deliver."
            "\n\n" + table(rows))
    if ratios:
        body += "\n\nThroughput ratio tooldojo teacher / distilabel at concurrency " + ", ".join(ratios) + "."
    elif not args.quick:
        body += "\n\ndistilabel was not compared in this run (pass `--distilabel-python`)."
    if args.quick or args.no_write:
        print(body)
    else:
        write_section("teacher", "Teacher client throughput (synth)", body)


def _row(name: str, c: int, n: int, wall: float, cpu: float, ok: int) -> dict:
    rps = n / wall
    row = {"client": name, "concurrency": c, "requests": n, "ok": ok, "req/s": rps, "limit req/s": c / LATENCY,
           "of limit": f"{rps / (c / LATENCY):.0%}", "client CPU ms/req": cpu / n * 1e3}
    print(row, flush=True)
    return row


if __name__ == "__main__":
    main()
