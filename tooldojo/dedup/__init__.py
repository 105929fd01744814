"""The dedup stage: MinHash-LSH and embedding filters over synthesized tools and queries.

Library entry points (imported lazily so ``tooldojo --help`` stays fast): :func:`run_dedup`,
:func:`dedup_records`, :class:`MinHasher`, :class:`LSHIndex`, :func:`dedup_batch`.
"""

from __future__ import annotations

from tooldojo.lazy import lazy_exports

_EXPORTS = {
    "run_dedup": "tooldojo.dedup.stage",
    "dedup_records": "tooldojo.dedup.stage",
    "DedupResult": "tooldojo.dedup.stage",
    "MinHasher": "tooldojo.similarity.minhash",
    "LSHIndex": "tooldojo.similarity.minhash",
    "dedup_batch": "tooldojo.similarity.minhash",
    "load_inputs": "tooldojo.dedup.inputs",
    "tool_text": "tooldojo.similarity.text",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
