"""Peak-memory estimates for a training phase, checked against the GPU found before any work starts.

The estimate adds up, in bytes:

- **weights**: parameters × dtype bytes (4-bit: ~0.53 byte per linear weight, embeddings stay 16-bit);
- **trainable state**: LoRA parameters (float32) + gradients + AdamW's two moments = 16 bytes each; a full
  fine-tune pays gradients + AdamW moments in the weights' dtype for every parameter;
- **activations** for ``batch × length`` tokens: about ``8·hidden + 4·intermediate`` values per token per
  layer in the compute dtype, every layer without gradient checkpointing, one layer plus each layer's input
  with it (Unsloth's checkpointing offloads those inputs to CPU);
- **logits**: the LM head over the vocabulary (262,144 for Gemma-3) is the largest single tensor for small
  models: ``tokens × vocab × (dtype + 4 + 4)`` bytes when materialised, a ``4096 × 32768`` tile when the loss
  is computed in chunks (TRL >= 1.15's fused LM head on GPU, Unsloth's fused cross-entropy);
- **generation** (RL): the KV cache of every rollout plus one step of logits;
- a CUDA context and allocator slack.

These are estimates (±25 % is typical): they decide whether to refuse a config that certainly will not fit,
and ``bench/bench_train.py`` measures the real peaks.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from typing import Any

from tooldojo.errors import ConfigError

GiB = 2**30
_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
CUDA_CONTEXT = int(0.5 * GiB)
SLACK = 0.10
FUSED_TILE = 4096 * 32768


@dataclass
class ModelShape:
    """What the estimate needs to know about a model (read from its config, no weights loaded)."""

    params: int
    embedding_params: int
    hidden: int
    intermediate: int
    layers: int
    vocab: int
    kv_dim: int
    linear_shapes: dict[str, list[tuple[int, int]]]
    """Leaf name of each linear layer -> ``(in, out)`` per occurrence (the LM head left out)."""

    def lora_params(self, r: int, targets: list[str] | str) -> int:
        names = self.linear_shapes if targets == "all-linear" else {n: s for n, s in self.linear_shapes.items()
                                                                      if n in set(targets)}
        return sum(r * (i + o) for shapes in names.values() for i, o in shapes)


def model_shape(path: str) -> ModelShape:
    """The :class:`ModelShape` of a model folder or Hub id, from its config on the meta device."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(path)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    linear: dict[str, list[tuple[int, int]]] = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and "lm_head" not in name:
            linear.setdefault(name.rsplit(".", 1)[-1], []).append((module.in_features, module.out_features))
    params = sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight.numel()
    head = model.get_output_embeddings()
    if head is not None and head.weight is not model.get_input_embeddings().weight:
        emb += head.weight.numel()
    hidden = int(text.hidden_size)
    heads = int(getattr(text, "num_attention_heads", 1))
    head_dim = int(getattr(text, "head_dim", None) or hidden // heads)
    kv_heads = int(getattr(text, "num_key_value_heads", None) or heads)
    return ModelShape(params=params, embedding_params=emb, hidden=hidden,
                      intermediate=int(getattr(text, "intermediate_size", 4 * hidden)),
                      layers=int(text.num_hidden_layers), vocab=int(text.vocab_size), kv_dim=kv_heads * head_dim,
                      linear_shapes=linear)


@dataclass
class MemoryEstimate:
    """Estimated peak memory of one phase, by component (bytes)."""

    weights: int
    trainable_state: int
    activations: int
    logits: int
    generation: int
    overhead: int

    @property
    def total(self) -> int:
        return self.weights + self.trainable_state + self.activations + self.logits + self.generation + self.overhead

    def gib(self) -> dict[str, float]:
        return {k: round(v / GiB, 3) for k, v in asdict(self).items()} | {"total": round(self.total / GiB, 3)}

    def line(self) -> str:
        g = self.gib()
        return (f"{g['total']:.2f} GiB (weights {g['weights']:.2f}, trainable {g['trainable_state']:.2f}, "
                f"activations {g['activations']:.2f}, logits {g['logits']:.2f}, generation {g['generation']:.2f})")


@dataclass
class Workload:
    """What a phase runs per optimizer micro-step."""

    kind: str
    """``sft`` or ``rl``."""
    batch: int
    seq_len: int
    """Longest prompt + completion in tokens (what a batch is padded to)."""
    completion_len: int
    """Tokens that carry a loss per row (SFT: the completion; RL: ``max_completion_length``)."""
    generations: int = 0
    """RL: rollouts generated at once."""


def fused_loss_available(backend: str, device: str) -> bool:
    """True when the loss is computed in tiles without materialising ``tokens × vocab`` logits."""
    if backend == "unsloth":
        return True
    try:
        import trl.trainer.utils as tu
    except ImportError:  # pragma: no cover
        return False
    # on CPU, phases.compact_loss_on_cpu gives the fused head the GPU's completion-only scoring
    return hasattr(tu, "add_fused_lm_head") and (device == "cuda" or hasattr(tu, "_use_triton"))


def estimate(shape: ModelShape, work: Workload, *, dtype: str = "bfloat16", lora: bool = True, r: int = 16,
             targets: list[str] | str = "all-linear", load_in_4bit: bool = False, gradient_checkpointing: bool = True,
             backend: str = "hf", device: str = "cuda") -> MemoryEstimate:
    """Estimate the peak memory of one phase (see the module docstring for the model)."""
    w = _BYTES[dtype]
    linear = shape.params - shape.embedding_params
    weights = int(linear * 0.53 + shape.embedding_params * w) if load_in_4bit else shape.params * w
    # LoRA: float32 adapters + gradients + AdamW moments; full: gradients + moments in the weights' dtype
    trainable = shape.lora_params(r, targets) * 16 if lora else shape.params * (w + 2 * w)
    tokens = work.batch * work.seq_len
    per_token_layer = (8 * shape.hidden + 4 * shape.intermediate + 2 * shape.kv_dim) * w
    if gradient_checkpointing:
        stored = 0 if backend == "unsloth" else tokens * shape.hidden * w * shape.layers
        activations = stored + tokens * per_token_layer
    else:
        activations = tokens * per_token_layer * shape.layers
    loss_tokens = work.batch * (work.completion_len if work.kind == "rl" or fused_loss_available(backend, device)
                                else work.seq_len)
    if fused_loss_available(backend, device):
        logits = min(loss_tokens, 4096) * min(shape.vocab, 32768) * (w + 4) + loss_tokens * shape.hidden * 4
        if not lora:
            logits += shape.vocab * shape.hidden * 4  # fp32 gradient of the LM head, accumulated per tile
    else:
        logits = loss_tokens * shape.vocab * (w + 4 + 4)
    generation = 0
    if work.kind == "rl":
        gen = max(work.generations, work.batch)
        generation = gen * work.seq_len * shape.layers * 2 * shape.kv_dim * w + gen * shape.vocab * 4
        generation += gen * work.seq_len * per_token_layer  # one layer's activations while decoding/prefilling
    overhead = CUDA_CONTEXT if device == "cuda" else 0
    est = MemoryEstimate(weights, trainable, activations, logits, generation, overhead)
    est.overhead += int(SLACK * (est.total - est.overhead))
    return est


def gpu_capacity(max_memory_gib: float | None = None) -> int | None:
    """Bytes this process may use on GPU 0: ``max_memory_gib`` if given, else the card's memory times the
    per-process fraction (``torch.cuda.set_per_process_memory_fraction``); ``None`` without CUDA."""
    if max_memory_gib is not None:
        return int(max_memory_gib * GiB)
    import torch

    if not torch.cuda.is_available():
        return None
    total = torch.cuda.get_device_properties(0).total_memory
    fraction = 1.0
    if hasattr(torch.cuda, "get_per_process_memory_fraction"):
        try:
            fraction = float(torch.cuda.get_per_process_memory_fraction(0))
        except (RuntimeError, TypeError):
            fraction = 1.0
    return int(total * fraction)


def suggest(shape: ModelShape, work: Workload, settings: dict[str, Any], capacity: int, *, field_prefix: str,
            length_field: str, batch_step: int = 1) -> str:
    """One line naming the smallest change that makes the phase fit ``capacity``: one setting if one suffices,
    else the combination of all of them, else a smaller model."""
    tries: list[tuple[str, dict[str, Any], Workload]] = []
    if not settings["gradient_checkpointing"]:
        tries.append(("set train.gradient_checkpointing=true", {"gradient_checkpointing": True}, work))
    if settings["lora"] and not settings["load_in_4bit"] and settings["device"] == "cuda":
        tries.append(("set train.lora.load_in_4bit=true (QLoRA)", {"load_in_4bit": True}, work))
    batch = work.batch
    while batch // 2 >= batch_step and (batch // 2) % batch_step == 0:
        batch //= 2
        gens = batch if work.kind == "rl" else 0
        tries.append((f"set {field_prefix}.batch_size={batch} and grad_accum ×{work.batch // batch} (same batch)",
                      {}, Workload(work.kind, batch, work.seq_len, work.completion_len, gens)))
    length = work.seq_len
    while length > 512:
        length //= 2
        tries.append((f"set {field_prefix}.{length_field}={length} (longer rows are left out)", {},
                      Workload(work.kind, work.batch, length, min(work.completion_len, length), work.generations)))
    for text, change, w in tries:
        if estimate(shape, w, **_estimate_kwargs(settings | change)).total <= capacity:
            return text
    if tries:
        merged = dict(settings)
        parts = []
        for text, change, _ in tries:
            if change:
                merged |= change
                parts.append(text.split(" (")[0].removeprefix("set "))
        smallest = Workload(work.kind, min(w.batch for _, _, w in tries), min(w.seq_len for _, _, w in tries),
                            min(w.completion_len for _, _, w in tries), min(w.generations for _, _, w in tries))
        if estimate(shape, smallest, **_estimate_kwargs(merged)).total <= capacity:
            parts += [f"{field_prefix}.batch_size={smallest.batch}", f"{field_prefix}.{length_field}={smallest.seq_len}"]
            return "set " + ", ".join(parts)
    if settings["backend"] != "unsloth" and settings["device"] == "cuda":
        return "install tooldojo[gpu] (Unsloth: fused loss, offloaded checkpoints) or pick a smaller train.model"
    return "pick a smaller train.model or a GPU with more memory"


def _estimate_kwargs(settings: dict[str, Any]) -> dict[str, Any]:
    keys = ("dtype", "lora", "r", "targets", "load_in_4bit", "gradient_checkpointing", "backend", "device")
    return {k: settings[k] for k in keys}


def check_fits(shape: ModelShape, work: Workload, settings: dict[str, Any], *, capacity: int | None, phase: str,
               field_prefix: str, length_field: str, refuse: bool = True, batch_step: int = 1) -> MemoryEstimate:
    """Estimate a phase and raise :class:`ConfigError` (with a one-line fix) when it will not fit ``capacity``.

    Without a GPU (``capacity`` is ``None``) the estimate is only returned; the caller warns about RAM."""
    est = estimate(shape, work, **_estimate_kwargs(settings))
    if capacity is not None and refuse and est.total > capacity:
        fix = suggest(shape, work, settings, capacity, field_prefix=field_prefix, length_field=length_field,
                      batch_step=batch_step)
        raise ConfigError(
            f"{phase} needs about {est.total / GiB:.1f} GiB of GPU memory but {capacity / GiB:.1f} GiB is available "
            f"(batch {work.batch} × {work.seq_len} tokens; {est.line()})",
            field=f"{field_prefix}.batch_size",
            fix=fix + " (or train.check_memory=false to try anyway)",
        )
    return est


def has_bitsandbytes() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None
