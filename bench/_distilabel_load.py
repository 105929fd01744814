"""The teacher benchmark's load through distilabel's ``OpenAILLM.agenerate`` (run in distilabel's own venv).

Usage: ``python bench/_distilabel_load.py BASE_URL CONCURRENCY N``; prints one JSON line
``{"wall": s, "cpu": s, "ok": n}``. Same prompt, concurrency bound (a semaphore around ``agenerate``) and
request count as ``bench_teacher``; distilabel parses no JSON, validates nothing and caches nothing here.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

PROMPT = "Write one realistic tool for the weather domain as an OpenAI function schema. " * 12


async def main(base_url: str, concurrency: int, n: int) -> dict:
    from distilabel.models.llms import OpenAILLM

    llm = OpenAILLM(model="bench", base_url=base_url, api_key="x", max_retries=2, timeout=30)
    llm.load()
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> bool:
        async with sem:
            out = await llm.agenerate(input=[{"role": "user", "content": f"{PROMPT} #{i}"}],
                                      max_new_tokens=2048, temperature=0.8, top_p=0.95)
            return bool(out["generations"][0])

    await asyncio.gather(*(one(-1 - i) for i in range(concurrency)))
    t0, c0 = time.perf_counter(), time.process_time()
    oks = await asyncio.gather(*(one(i) for i in range(n)))
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "ok": sum(oks)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))))
