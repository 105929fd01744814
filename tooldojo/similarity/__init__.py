"""Text similarity shared by dedup, the split's leakage audit and synth's meaning checks: text normalisation
and tool texts (``text``), MinHash signatures and LSH (``minhash``), sentence embeddings and cosine pairs, exact
or approximate (``semantic``)."""
