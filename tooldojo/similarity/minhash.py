"""Vectorised MinHash signatures and a banded LSH index, compatible with datasketch.

Signatures are computed for a whole batch at once: each shingle is hashed once (word tokens through a
cache, character n-grams as array arithmetic), then every permutation is applied as one array operation
and the per-document minimum is a ``np.minimum.reduceat``. No Python call per shingle and permutation.

Compatibility with datasketch (``scheme="affine32"``, datasketch's default since 2.0):

- :meth:`MinHasher.hashfunc` is the 32-bit hash of one shingle; ``datasketch.MinHash(num_perm, seed,
  hashfunc=hasher.hashfunc)`` updated with :meth:`MinHasher.shingles` gives exactly the hash values of
  :meth:`MinHasher.signatures` (same permutations, same MurmurHash3 pre-mix).
- :meth:`MinHasher.minhash` wraps a signature row as a ``datasketch.LeanMinHash``.
- :class:`LSHIndex` bands signatures like ``datasketch.MinHashLSH`` (same ``b`` bands of ``r`` rows, ``b`` and
  ``r`` from datasketch's own optimiser when only a threshold is given) and returns the same candidates;
  :meth:`LSHIndex.to_datasketch` builds the equivalent ``MinHashLSH``. The index keeps sorted numpy band
  tables (about 12 bytes per item and band, where a ``MinHashLSH`` keeps a Python set per bucket) and the
  signatures for verification; it is saved and loaded with pickle, so a new batch can be deduplicated
  against an existing (e.g. published) dataset.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tooldojo.similarity.text import normalize, tokens


class MinHashConfig(BaseModel):
    """Near-duplicate text: MinHash signatures + LSH (datasketch-compatible, see ``similarity/minhash.py``)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    num_perm: int = Field(128, ge=16)
    threshold: float = Field(0.7, gt=0, lt=1)
    """Estimated Jaccard at or above which two texts are duplicates."""
    link_threshold: float = Field(0.5, gt=0, lt=1)
    """Jaccard at or above which two families are *close*: linked in a cluster, kept on one split side."""
    bands: int | None = None
    """Explicit LSH bands (with ``rows``); overrides ``threshold``'s optimal choice."""
    rows: int | None = None
    shingle: Literal["word", "char"] = "word"
    ngram: int = Field(3, ge=1)
    lowercase: bool = True
    strip_punctuation: bool = True
    seed: int = 1
    reference_index: Path | None = None
    """A saved index (``dedup/index/queries.pkl`` of an earlier run, or ``tooldojo dedup-index``): queries
    that duplicate an item in it are removed, e.g. to keep a new batch apart from a published dataset."""

    @model_validator(mode="after")
    def _check(self) -> MinHashConfig:
        if self.link_threshold > self.threshold:
            raise ValueError("link_threshold must not exceed threshold")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError("bands × rows must not exceed num_perm")
        return self


_U64 = np.uint64
_MASK32 = np.uint64(0xFFFFFFFF)
_MUL = np.uint64(0x9E3779B97F4A7C15)  # shingle combination multiplier (odd)
_MUL_INT = int(_MUL)
_M64 = (1 << 64) - 1
EMPTY = np.uint32(0xFFFFFFFF)
"""Hash value of an empty set (no shingles), as in datasketch."""


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (datasketch's affine32 pre-mix), element-wise on uint32."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> _U64(33))


def _fold32(x: np.ndarray) -> np.ndarray:
    return ((x >> _U64(32)) ^ (x & _MASK32)).astype(np.uint32)


_TOKEN_CACHE: dict[str, int] = {}
"""Token -> 64-bit hash, shared by every hasher (a token's hash depends on nothing else); bounded."""
_TOKEN_CACHE_MAX = 4_000_000


def _token_hash(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")


def _char_hash(code_point: int) -> int:
    return int(_fmix64(np.array([code_point + 1], dtype=np.uint64))[0])


@lru_cache(maxsize=64)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's own affine32 permutation parameters ``(a, b)`` for ``num_perm`` and ``seed``."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return a.astype(np.uint32), b.astype(np.uint32)


@dataclass(frozen=True)
class MinHasher:
    """Shingling + vectorised MinHash signatures (see module docstring)."""

    num_perm: int = 128
    seed: int = 1
    shingle: Literal["word", "char"] = "word"
    ngram: int = 3
    lowercase: bool = True
    strip_punctuation: bool = True
    texts_per_chunk: int = 16384
    """Texts hashed per vectorised chunk."""
    shingles_per_block: int = 8192
    """Shingles per permutation block (block × num_perm × 4 bytes: cache-sized)."""

    @classmethod
    def from_config(cls, cfg: Any) -> MinHasher:
        """From a :class:`~tooldojo.dedup.config.MinHashConfig` (or anything with the same fields)."""
        return cls(num_perm=cfg.num_perm, seed=cfg.seed, shingle=cfg.shingle, ngram=cfg.ngram,
                   lowercase=cfg.lowercase, strip_punctuation=cfg.strip_punctuation)

    def settings(self) -> dict[str, Any]:
        return asdict(self)

    # -------------------------------------------------------------------------------- shingles
    def normalize(self, text: str) -> str:
        return normalize(text, lowercase=self.lowercase, strip_punctuation=self.strip_punctuation)

    def shingles(self, text: str) -> list[str]:
        """The shingles of one text (a text shorter than ``ngram`` is one shingle; an empty text has none)."""
        norm = self.normalize(text)
        if self.shingle == "word":
            toks = norm.split()
            if not toks:
                return []
            n = min(self.ngram, len(toks))
            return [" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)]
        if not norm:
            return []
        n = min(self.ngram, len(norm))
        return [norm[i:i + n] for i in range(len(norm) - n + 1)]

    def hashfunc(self, shingle: bytes | str) -> int:
        """32-bit hash of one shingle, usable as datasketch's ``hashfunc`` (identical to the vectorised path)."""
        s = shingle.decode("utf-8") if isinstance(shingle, bytes) else shingle
        parts = [_token_hash(t) for t in s.split(" ")] if self.shingle == "word" else [_char_hash(ord(c)) for c in s]
        x = 0
        for h in parts:
            x = (x * _MUL_INT + h) & _M64
        return ((x >> 32) ^ (x & 0xFFFFFFFF)) & 0xFFFFFFFF

    # ------------------------------------------------------------------------------ signatures
    @property
    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        return _permutations(self.num_perm, self.seed)

    def _units(self, texts: Sequence[str], cache: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-unit 64-bit hashes (word tokens or characters), flattened, and each text's unit count."""
        cache = _TOKEN_CACHE if cache is None else cache
        if self.shingle == "word":
            low, punct = self.lowercase, self.strip_punctuation
            toks = [tokens(t, lowercase=low, strip_punctuation=punct) for t in texts]
            lengths = np.fromiter((len(t) for t in toks), dtype=np.int64, count=len(toks))
            get = cache.get
            flat = list(chain.from_iterable(toks))
            hashes = [get(t) for t in flat]
            if None in hashes:
                for i, h in enumerate(hashes):
                    if h is None:
                        hashes[i] = cache[flat[i]] = _token_hash(flat[i])
                if len(cache) > _TOKEN_CACHE_MAX:  # bound the token cache on huge vocabularies
                    cache.clear()
            return np.array(hashes, dtype=np.uint64), lengths
        codes = [np.frombuffer(self.normalize(t).encode("utf-32-le"), dtype=np.uint32) for t in texts]
        lengths = np.fromiter((len(c) for c in codes), dtype=np.int64, count=len(codes))
        flat = np.concatenate(codes).astype(np.uint64) if codes else np.zeros(0, np.uint64)
        return _fmix64(flat + _U64(1)), lengths

    def shingle_hashes(self, texts: Sequence[str], cache: dict[str, int] | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
        """32-bit shingle hashes of every text, flattened (uint32), and the shingle count per text."""
        units, lengths = self._units(texts, cache)
        n = self.ngram
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.zeros(0, np.int64)
        # full windows: positions p with p + n <= end of its text
        total = len(units)
        if total >= n:
            x = np.zeros(total - n + 1, dtype=np.uint64)
            for k in range(n):
                x = x * _MUL + units[k:total - n + 1 + k]
            ends = starts + lengths
            owner = np.repeat(np.arange(len(lengths)), lengths)[: total - n + 1]
            valid = np.arange(total - n + 1) + n <= ends[owner]
            full_x, full_owner = x[valid], owner[valid]
        else:
            full_x, full_owner = np.zeros(0, np.uint64), np.zeros(0, np.int64)
        # texts shorter than n: one shingle of all their units
        short = np.flatnonzero((lengths > 0) & (lengths < n))
        if len(short):
            sx = np.zeros(len(short), dtype=np.uint64)
            for k in range(int(lengths[short].max())):
                has = lengths[short] > k
                idx = starts[short] + k
                sx = np.where(has, sx * _MUL + units[np.minimum(idx, max(total - 1, 0))], sx)
            all_x = np.concatenate([full_x, sx])
            all_owner = np.concatenate([full_owner, short])
            order = np.argsort(all_owner, kind="stable")
            all_x, all_owner = all_x[order], all_owner[order]
        else:
            all_x, all_owner = full_x, full_owner
        counts = np.bincount(all_owner, minlength=len(lengths)).astype(np.int64)
        return _fold32(all_x), counts

    def signatures(self, texts: Sequence[str], cache: dict[str, int] | None = None) -> np.ndarray:
        """MinHash signatures, shape ``(len(texts), num_perm)``, dtype uint32 (datasketch affine32 values)."""
        out = np.full((len(texts), self.num_perm), EMPTY, dtype=np.uint32)
        a, b = self.permutations
        a, b = a[:, None], b[:, None]
        for i in range(0, len(texts), self.texts_per_chunk):
            chunk = texts[i:i + self.texts_per_chunk]
            hv, counts = self.shingle_hashes(chunk, cache)
            hv = _fmix32(hv)
            ends = np.cumsum(counts)
            # permutations applied in cache-sized blocks of whole texts: (num_perm, shingles) arrays
            d0 = 0
            while d0 < len(chunk):
                s0 = int(ends[d0 - 1]) if d0 else 0
                d1 = max(int(np.searchsorted(ends, s0 + self.shingles_per_block, side="right")), d0 + 1)
                d1 = min(d1, len(chunk))
                cnt = counts[d0:d1]
                nonempty = np.flatnonzero(cnt)
                if len(nonempty):
                    offsets = np.concatenate([[0], np.cumsum(cnt[nonempty])[:-1]])
                    phv = a * hv[None, s0:int(ends[d1 - 1])] + b
                    out[i + d0 + nonempty] = np.minimum.reduceat(phv, offsets, axis=1).T
                d0 = d1
        return out

    def minhash(self, signature: np.ndarray):
        """A signature row as a ``datasketch.LeanMinHash``."""
        from datasketch import LeanMinHash

        return LeanMinHash(seed=self.seed, hashvalues=signature, scheme="affine32")


def jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of paired signature rows (same shape) or one row against many."""
    return (np.asarray(sig_a) == np.asarray(sig_b)).mean(axis=-1)


def pair_jaccard(sigs_a: np.ndarray, ia: np.ndarray, sigs_b: np.ndarray, ib: np.ndarray,
                 block: int = 1 << 15) -> np.ndarray:
    """Estimated Jaccard of rows ``sigs_a[ia[k]]`` and ``sigs_b[ib[k]]`` for every k, in blocks."""
    out = np.empty(len(ia), dtype=np.float32)
    for s in range(0, len(ia), block):
        out[s:s + block] = (sigs_a[ia[s:s + block]] == sigs_b[ib[s:s + block]]).mean(axis=1)
    return out


@lru_cache(maxsize=128)
def lsh_params(num_perm: int, threshold: float, bands: int | None = None, rows: int | None = None
               ) -> tuple[int, int]:
    """``(bands, rows)``: explicit, or datasketch ``MinHashLSH``'s optimum for ``threshold``."""
    from datasketch import MinHashLSH

    if bands is not None or rows is not None:
        if bands is None or rows is None:
            from tooldojo.errors import ConfigError

            raise ConfigError("give both bands and rows, or neither", field="dedup.minhash.bands/rows",
                              fix="set both (e.g. bands: 16, rows: 8) or remove both to use the threshold")
        lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows))
    else:
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


_BAND_MUL = np.array([_fmix64(np.array([i + 1], np.uint64))[0] | 1 for i in range(4096)], dtype=np.uint64)


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per band and row, shape ``(n, bands)``: equal band values give equal keys (as
    ``MinHashLSH`` buckets on the band's bytes; different values collide with probability ~2^-64)."""
    n = len(sigs)
    wide = sigs[:, : bands * rows].astype(np.uint64).reshape(n, bands, rows)
    x = (wide * _BAND_MUL[:rows]).sum(axis=2, dtype=np.uint64)  # wraps mod 2^64, as the loop did
    return _fmix64(x ^ np.arange(bands, dtype=np.uint64)[None, :])


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted unique values of an int array (sort-based: faster than hash-based ``np.unique`` here)."""
    a = np.sort(a)
    if len(a) < 2:
        return a
    return a[np.concatenate([[True], a[1:] != a[:-1]])]


def bucket_pairs(band: np.ndarray, keys: np.ndarray, members: np.ndarray, *, all_pairs_up_to: int = 16
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, j)``, ``i < j`` (not deduplicated), of rows ``members`` that share a bucket (equal
    ``band`` and band key ``keys``, as from :func:`band_keys`): the one LSH bucket rule, wherever the buckets
    were gathered. A bucket of up to ``all_pairs_up_to`` members gives all its pairs; a larger bucket links
    each member to the bucket's first member and to its predecessor, in row order (linear, so a bucket of
    identical items cannot blow up into a quadratic number of pairs)."""
    order = np.lexsort((members, keys, band))  # by bucket, then row: each bucket's members in row order
    band, keys, members = band[order], keys[order], members[order]
    if len(keys):
        change = np.flatnonzero((keys[1:] != keys[:-1]) | (band[1:] != band[:-1])) + 1
        starts = np.concatenate([[0], change]).astype(np.int64)
        lengths = np.diff(np.concatenate([starts, [len(keys)]]))
    else:
        starts = lengths = np.zeros(0, np.int64)
    ii, jj = [], []
    for size in range(2, all_pairs_up_to + 1):
        sel = starts[lengths == size]
        if not len(sel):
            continue
        mem = members[sel[:, None] + np.arange(size)[None, :]]
        a, b = np.triu_indices(size, 1)
        ii.append(mem[:, a].ravel())
        jj.append(mem[:, b].ravel())
    big = lengths > all_pairs_up_to
    for s, m in zip(starts[big], lengths[big], strict=True):
        mem = members[s:s + m]
        ii += [np.full(m - 1, mem[0]), mem[:-1]]
        jj += [mem[1:], mem[1:]]
    if not ii:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    i, j = np.concatenate(ii).astype(np.int64), np.concatenate(jj).astype(np.int64)
    return np.minimum(i, j), np.maximum(i, j)


def band_pairs(sigs: np.ndarray, bands: int, rows: int, *, first: int = 0, last: int | None = None,
               all_pairs_up_to: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """:func:`bucket_pairs` of the rows of ``sigs`` over bands ``first..last`` (default: every band); not
    deduplicated. Band groups can be done apart (e.g. one task each) and joined with :func:`distinct_pairs`."""
    last = bands if last is None else last
    keys = band_keys(np.ascontiguousarray(sigs[:, first * rows:last * rows]), last - first, rows)
    n, b = keys.shape
    return bucket_pairs(np.tile(np.arange(b, dtype=np.int32), n), keys.ravel(), np.repeat(np.arange(n), b),
                        all_pairs_up_to=all_pairs_up_to)


def distinct_pairs(i: np.ndarray, j: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pairs of rows (of ``n``) among ``(i, j)`` (``i < j``), sorted by ``(i, j)``."""
    if not len(i):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    code = _unique(np.asarray(i, np.int64) * n + np.asarray(j, np.int64))
    return code // n, code % n


def candidate_pairs(sigs: np.ndarray, bands: int, rows: int, *, all_pairs_up_to: int = 16
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, j)``, ``i < j``, that share at least one LSH bucket within ``sigs`` (:func:`bucket_pairs`'
    rule), distinct and sorted."""
    return distinct_pairs(*band_pairs(sigs, bands, rows, all_pairs_up_to=all_pairs_up_to), len(sigs))


def similar_pairs(sigs: np.ndarray, bands: int, rows: int, min_similarity: float = 0.0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LSH candidate pairs within ``sigs`` with estimated Jaccard ``>= min_similarity``: ``(i, j, sim)``."""
    return verified_pairs(sigs, *candidate_pairs(sigs, bands, rows), min_similarity)


def verified_pairs(sigs: np.ndarray, i: np.ndarray, j: np.ndarray, min_similarity: float = 0.0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidate pairs ``(i, j)`` of rows of ``sigs`` whose estimated Jaccard is ``>= min_similarity``,
    with it: ``(i, j, sim)``."""
    sim = pair_jaccard(sigs, i, sigs, j)
    keep = sim >= min_similarity
    return i[keep], j[keep], sim[keep]


class LSHIndex:
    """A MinHash LSH index over numpy band tables (see module docstring); pickle with :meth:`save`/:meth:`load`.

    ``threshold`` is the Jaccard similarity a candidate must reach (estimated from the stored signatures)
    to count as a duplicate in :meth:`query`; ``bands``/``rows`` default to datasketch's optimum for it.
    """

    def __init__(self, hasher: MinHasher | None = None, threshold: float = 0.7, bands: int | None = None,
                 rows: int | None = None, max_bucket: int = 256):
        self.hasher = hasher or MinHasher()
        self.threshold = threshold
        self.bands, self.rows = lsh_params(self.hasher.num_perm, threshold, bands, rows)
        self.max_bucket = max_bucket
        """Members of one bucket considered per query (a cap that bounds time on degenerate buckets)."""
        self.keys: list[Hashable] = []
        self._buf = np.zeros((0, self.hasher.num_perm), dtype=np.uint32)
        """Signature store with spare capacity (grown by half when full: amortised copies)."""
        self._tables = [np.zeros(0, np.uint64) for _ in range(self.bands)]
        self._ids = [np.zeros(0, np.int64) for _ in range(self.bands)]

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def signatures(self) -> np.ndarray:
        """All stored signatures, shape ``(len(self), num_perm)`` (a view of the store)."""
        return self._buf[: len(self.keys)]

    def gather(self, positions: np.ndarray) -> np.ndarray:
        """Stored signatures at index ``positions``."""
        return self._buf[np.asarray(positions, dtype=np.int64)]

    def add(self, sigs: np.ndarray, keys: Iterable[Hashable] | None = None) -> None:
        """Insert signatures (rows of ``sigs``) under ``keys`` (default: running positions)."""
        sigs = np.ascontiguousarray(sigs, dtype=np.uint32)
        if sigs.ndim != 2 or sigs.shape[1] != self.hasher.num_perm:
            raise ValueError(f"expected signatures of shape (n, {self.hasher.num_perm}), got {sigs.shape}")
        start = len(self.keys)
        keys = list(range(start, start + len(sigs))) if keys is None else list(keys)
        if len(keys) != len(sigs):
            raise ValueError("one key per signature row")
        bk = band_keys(sigs, self.bands, self.rows)
        ids = np.arange(start, start + len(sigs), dtype=np.int64)
        for band in range(self.bands):
            order = np.argsort(bk[:, band])
            new_keys, new_ids = bk[order, band], ids[order]
            pos = np.searchsorted(self._tables[band], new_keys, side="right")
            self._tables[band] = np.insert(self._tables[band], pos, new_keys)
            self._ids[band] = np.insert(self._ids[band], pos, new_ids)
        if start + len(sigs) > len(self._buf):
            grown = np.zeros((max(start + len(sigs), len(self._buf) * 3 // 2, 1024), self.hasher.num_perm),
                             dtype=np.uint32)
            grown[:start] = self._buf[:start]
            self._buf = grown
        self._buf[start:start + len(sigs)] = sigs
        self.keys.extend(keys)

    def add_texts(self, texts: Sequence[str], keys: Iterable[Hashable] | None = None) -> np.ndarray:
        """Hash ``texts`` with the index's own :class:`MinHasher` and insert them; returns the signatures."""
        sigs = self.hasher.signatures(texts)
        self.add(sigs, keys)
        return sigs

    def candidates(self, sigs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pairs ``(query_row, index_position)`` sharing a bucket (``MinHashLSH.query``'s candidates)."""
        if not len(self.keys) or not len(sigs):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        bk = band_keys(np.ascontiguousarray(sigs, dtype=np.uint32), self.bands, self.rows)
        qs, cs = [], []
        for band in range(self.bands):
            table = self._tables[band]
            order = np.argsort(bk[:, band])  # sorted needles: cache-friendly binary searches
            needles = bk[order, band]
            lo = np.searchsorted(table, needles, side="left")
            found = np.flatnonzero(table[np.minimum(lo, len(table) - 1)] == needles)
            if not len(found):
                continue
            lo = lo[found]
            hi = np.searchsorted(table, needles[found], side="right")
            rep = np.minimum(hi - lo, self.max_bucket)
            q = np.repeat(order[found], rep)
            offs = np.arange(rep.sum()) - np.repeat(np.cumsum(rep) - rep, rep)
            qs.append(q)
            cs.append(self._ids[band][np.repeat(lo, rep) + offs])
        if not qs:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        q, c = np.concatenate(qs), np.concatenate(cs)
        code = _unique(q * len(self.keys) + c)
        return code // len(self.keys), code % len(self.keys)

    def query(self, sigs: np.ndarray, min_similarity: float | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Verified matches ``(query_row, index_position, jaccard)`` with jaccard ``>= min_similarity``
        (default: the index's threshold). ``self.keys[index_position]`` is the matched item's key."""
        q, c = self.candidates(sigs)
        sigs = np.asarray(sigs, dtype=np.uint32)
        sim = np.empty(len(q), dtype=np.float32)
        for s0 in range(0, len(q), 1 << 15):
            sl = slice(s0, s0 + (1 << 15))
            sim[sl] = (sigs[q[sl]] == self.gather(c[sl])).mean(axis=1)
        keep = sim >= (self.threshold if min_similarity is None else min_similarity)
        return q[keep], c[keep], sim[keep]

    def best_match(self, sigs: np.ndarray, min_similarity: float | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
        """For each query row: the index position of its most similar verified match (-1 if none) and
        the similarity (0 if none)."""
        q, c, s = self.query(sigs, min_similarity)
        best = np.full(len(sigs), -1, dtype=np.int64)
        best_sim = np.zeros(len(sigs), dtype=np.float32)
        order = np.lexsort((c, -s))  # highest similarity first, then earliest item
        q, c, s = q[order], c[order], s[order]
        first = np.unique(q, return_index=True)[1]
        best[q[first]] = c[first]
        best_sim[q[first]] = s[first]
        return best, best_sim

    def to_datasketch(self):
        """The equivalent ``datasketch.MinHashLSH`` (same bands and rows), holding a ``LeanMinHash`` per key."""
        from datasketch import MinHashLSH

        lsh = MinHashLSH(num_perm=self.hasher.num_perm, params=(self.bands, self.rows))
        with lsh.insertion_session() as session:
            for key, sig in zip(self.keys, self.signatures, strict=True):
                session.insert(key, self.hasher.minhash(sig), check_duplication=False)
        return lsh

    # ------------------------------------------------------------------------------ persistence
    def __getstate__(self) -> dict[str, Any]:
        return {"version": 1, "hasher": self.hasher.settings(), "threshold": self.threshold,
                "bands": self.bands, "rows": self.rows, "max_bucket": self.max_bucket, "keys": self.keys,
                "sigs": np.ascontiguousarray(self.signatures), "tables": self._tables, "ids": self._ids}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.hasher = MinHasher(**state["hasher"])
        self.threshold, self.bands, self.rows = state["threshold"], state["bands"], state["rows"]
        self.max_bucket, self.keys = state["max_bucket"], state["keys"]
        self._buf = state["sigs"]
        self._tables, self._ids = state["tables"], state["ids"]

    def save(self, path: str | Path) -> Path:
        """Pickle the index atomically to ``path``."""
        from tooldojo.runs import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> LSHIndex:
        """Load an index saved with :meth:`save` (raises :class:`~tooldojo.errors.DataError` if it is not one)."""
        from tooldojo.errors import DataError

        path = Path(path)
        if not path.exists():
            raise DataError("index file not found", field=str(path), fix="pass a file written by LSHIndex.save")
        with open(path, "rb") as fh:
            obj = pickle.load(fh)
        if not isinstance(obj, cls):
            raise DataError(f"not an LSHIndex (got {type(obj).__name__})", field=str(path),
                            fix="pass a file written by LSHIndex.save / `tooldojo dedup`")
        return obj


@dataclass
class BatchDedup:
    """What :func:`dedup_batch` decided for each row of a batch."""

    duplicate_of: np.ndarray
    """Index position of the kept item each row duplicates, or -1 if the row is kept (and was added)."""
    similarity: np.ndarray
    """Estimated Jaccard with that item (0 for kept rows)."""


def dedup_batch(index: LSHIndex, sigs: np.ndarray, keys: Sequence[Hashable] | None = None) -> BatchDedup:
    """Deduplicate one batch against ``index`` and within itself, then add the kept rows to the index.

    A row is a duplicate if it matches (Jaccard >= ``index.threshold``) an item already in the index, or an
    earlier row of this batch that is kept; earlier rows win. Kept rows get index positions in batch order.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(sigs)
    base = len(index)
    best, best_sim = index.best_match(sigs)
    i, j, s = similar_pairs(sigs, index.bands, index.rows, index.threshold)
    dup_of = np.full(n, -1, dtype=np.int64)
    sim = np.zeros(n, dtype=np.float32)
    matched = best >= 0
    dup_of[matched], sim[matched] = best[matched], best_sim[matched]
    # within the batch: greedy in batch order over the verified pair graph (components bound the work)
    free = ~matched
    if len(i):
        graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
        _, labels = connected_components(graph, directed=False)
        adj: dict[int, list[tuple[int, float]]] = {}
        for a, b, w in zip(i.tolist(), j.tolist(), s.tolist(), strict=True):
            adj.setdefault(b, []).append((a, w))
        comp_rows = np.flatnonzero(np.bincount(labels, minlength=labels.max() + 1)[labels] > 1)
        kept_local: set[int] = set()
        for r in comp_rows.tolist():  # ascending = batch order
            if not free[r]:
                continue
            earlier = [(a, w) for a, w in adj.get(r, []) if a in kept_local]
            if earlier:
                a, w = max(earlier, key=lambda t: (t[1], -t[0]))
                dup_of[r], sim[r] = -2 - a, w  # provisional: row a of this batch
                free[r] = False
            else:
                kept_local.add(r)
    kept = np.flatnonzero(dup_of == -1)
    positions = np.full(n, -1, dtype=np.int64)
    positions[kept] = base + np.arange(len(kept))
    local = dup_of <= -2
    dup_of[local] = positions[-2 - dup_of[local]]
    index.add(sigs[kept], None if keys is None else [keys[k] for k in kept])
    return BatchDedup(duplicate_of=dup_of, similarity=sim)
