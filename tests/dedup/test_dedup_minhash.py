"""Vectorised MinHash and the LSH index: identical to datasketch, persistent, and correct on duplicates."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from tooldojo.similarity.minhash import LSHIndex, MinHasher, dedup_batch, lsh_params

TEXTS = [
    "Find bakeries in Paris.", "find BAKERIES in paris!!", "hi", "", "a b", "   ",
    "What is the weather like in Paris tomorrow morning?", "café crème à Paris, s'il vous plaît",
    "Book a table for two at an Italian restaurant near the Louvre tonight at 8pm",
]


@pytest.mark.parametrize(("shingle", "ngram"), [("word", 3), ("word", 1), ("char", 5)])
def test_signatures_equal_datasketch(shingle, ngram):
    hasher = MinHasher(shingle=shingle, ngram=ngram, num_perm=64, seed=7, shingles_per_block=16)
    sigs = hasher.signatures(TEXTS * 3)  # several permutation blocks
    assert sigs.shape == (len(TEXTS) * 3, 64) and sigs.dtype == np.uint32
    for text, sig in zip(TEXTS * 3, sigs, strict=True):
        ref = MinHash(num_perm=64, seed=7, hashfunc=hasher.hashfunc)
        ref.update_batch([s.encode() for s in hasher.shingles(text)])
        assert np.array_equal(ref.hashvalues, sig), text
    lean = hasher.minhash(sigs[0])
    assert lean.jaccard(hasher.minhash(sigs[1])) == 1.0  # case, punctuation and spacing are normalised


def test_normalisation_can_be_turned_off():
    strict = MinHasher(lowercase=False, strip_punctuation=False)
    a, b = strict.signatures(["Find bakeries in Paris.", "find bakeries in paris"])
    assert not np.array_equal(a, b)


def _corpus(n=600, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(400)]
    base = [" ".join(rng.choice(words, 14)) for _ in range(n)]
    dups = [t + " please" for t in base[: n // 5]]  # one word added: Jaccard 12/13
    return base, dups


@pytest.mark.parametrize("params", [{"threshold": 0.7}, {"bands": 16, "rows": 8}])
def test_lsh_candidates_equal_minhashlsh(params):
    hasher = MinHasher(num_perm=128)
    base, dups = _corpus()
    index = LSHIndex(hasher, **params)
    sigs = hasher.signatures(base)
    index.add(sigs, [f"k{i}" for i in range(len(base))])
    lsh = MinHashLSH(num_perm=128, threshold=params.get("threshold", 0.9),
                     params=(params["bands"], params["rows"]) if "bands" in params else None)
    assert (lsh.b, lsh.r) == (index.bands, index.rows)
    for i, s in enumerate(sigs):
        lsh.insert(f"k{i}", hasher.minhash(s))
    qsigs = hasher.signatures(dups + base[:50])
    q, c = index.candidates(qsigs)
    mine = {(int(a), index.keys[int(b)]) for a, b in zip(q, c, strict=True)}
    ref = {(k, key) for k, s in enumerate(qsigs) for key in lsh.query(hasher.minhash(s))}
    assert mine == ref and len(ref) > 0
    exported = index.to_datasketch()
    assert set(exported.query(hasher.minhash(qsigs[0]))) == set(lsh.query(hasher.minhash(qsigs[0])))


def test_index_saved_and_reused_for_a_new_batch(tmp_path):
    hasher = MinHasher()
    base, dups = _corpus()
    index = LSHIndex(hasher, threshold=0.7)
    first = dedup_batch(index, hasher.signatures(base), keys=[f"old{i}" for i in range(len(base))])
    assert (first.duplicate_of == -1).all() and len(index) == len(base)
    index.save(tmp_path / "idx.pkl")
    loaded = LSHIndex.load(tmp_path / "idx.pkl")
    assert loaded.keys == index.keys and (loaded.bands, loaded.rows) == (index.bands, index.rows)
    fresh = ["a completely new sentence about flights to tokyo", "another new one about the weather in lima"]
    res = dedup_batch(loaded, loaded.hasher.signatures(dups + fresh), keys=[f"new{i}" for i in range(len(dups) + 2)])
    n_dup = len(dups)
    found = res.duplicate_of[:n_dup]
    # each planted near-duplicate points at its original
    hit = sum(loaded.keys[int(d)] == f"old{i}" for i, d in enumerate(found) if d >= 0)
    assert hit / n_dup > 0.8
    assert (res.duplicate_of[n_dup:] == -1).all() and loaded.keys[-2:] == ["new" + str(n_dup), "new" + str(n_dup + 1)]
    assert (res.similarity[:n_dup][found >= 0] >= loaded.threshold).all()


def test_dedup_batch_keeps_the_first_of_duplicates_in_a_batch():
    hasher = MinHasher()
    texts = ["send an email to my boss about the meeting tomorrow", "completely unrelated text on flights to rome",
             "Send an email to my BOSS about the meeting tomorrow!", "send an email to my boss about the meeting tomorrow"]
    index = LSHIndex(hasher, threshold=0.7)
    res = dedup_batch(index, hasher.signatures(texts), keys=["a", "b", "c", "d"])
    assert res.duplicate_of.tolist() == [-1, -1, 0, 0] and index.keys == ["a", "b"]
    assert res.similarity[2] == pytest.approx(1.0)


def test_lsh_params_validation():
    assert lsh_params(128, 0.7) == (14, 9)
    assert lsh_params(128, 0.7, 16, 8) == (16, 8)
    with pytest.raises(Exception, match="bands and rows"):
        lsh_params(128, 0.7, 16, None)


def test_load_rejects_other_pickles(tmp_path):
    import pickle

    from tooldojo.errors import DataError

    (tmp_path / "x.pkl").write_bytes(pickle.dumps({"not": "an index"}))
    with pytest.raises(DataError, match="not an LSHIndex"):
        LSHIndex.load(tmp_path / "x.pkl")
    with pytest.raises(DataError, match="not found"):
        LSHIndex.load(tmp_path / "missing.pkl")
