"""Training backends: Unsloth's ``FastLanguageModel`` on CUDA, transformers + PEFT elsewhere.

Both return a ``(model, tokenizer)`` pair ready for TRL's ``SFTTrainer``/``GRPOTrainer`` (a PEFT model for
LoRA, the plain model for a full fine-tune), so the trainers' code path is the same. A phase's output is a
standard PEFT adapter folder (or a full model folder), whichever backend wrote it; :func:`merge_and_save`
turns it into a plain, ready-to-load model folder.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tooldojo.errors import ConfigError
from tooldojo.models import (
    cache_dir,
    cpu_bf16_supported,
    cuda_available,
    ensure_chat_template,
    release_memory,
)
from tooldojo.train.config import LoraConfig, TrainConfig

ADAPTER_DIR = "adapter"
MODEL_DIR = "model"
_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


@dataclass
class Backend:
    """Where and how a run trains (resolved once per run from :class:`TrainConfig`)."""

    name: str
    """``unsloth`` or ``hf`` (transformers + PEFT)."""
    device: str
    """``cuda`` or ``cpu``."""
    dtype: str
    """Compute dtype name: ``float32``, ``bfloat16`` or ``float16``."""
    load_in_4bit: bool
    gradient_checkpointing: bool
    lora: bool
    autocast_bf16: bool = False
    """Mixed precision: float32 weights, bfloat16 compute (``auto`` on CPUs with native bfloat16)."""
    compile: CompileChoice | None = None
    """Unsloth only: whether its torch.compile is on, and why."""
    notes: list[str] = field(default_factory=list)
    """What the user should know about the choice (e.g. ``auto`` fell back from a broken Unsloth)."""

    @property
    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)

    def describe(self) -> str:
        quant = "4-bit QLoRA" if self.load_in_4bit else ("LoRA" if self.lora else "full fine-tune")
        dtype = f"{self.dtype} + bf16 autocast" if self.autocast_bf16 else self.dtype
        compiled = "" if self.compile is None else f", compile {'on' if self.compile.enabled else 'off'}"
        return (f"{self.name} on {self.device} ({dtype}, {quant}"
                f"{', grad. checkpointing' if self.gradient_checkpointing else ''}{compiled})")


def unsloth_available() -> bool:
    """True if ``unsloth`` is installed (whether it imports is only known by importing it: :func:`import_unsloth`)."""
    return importlib.util.find_spec("unsloth") is not None


def import_unsloth() -> str | None:
    """Import Unsloth (it must come before transformers/TRL/PEFT to patch them); ``None``, or why it failed."""
    try:
        importlib.import_module("unsloth")
    except Exception as err:  # Unsloth raises anything from ImportError to NotImplementedError on a bad setup
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return f"{type(err).__name__}: {first}"[:300]
    return None


# ------------------------------------------------------------------------------------------ compile choice
# Unsloth compiles each decoder block as one torch.compile region (unsloth/models/_block_compile.py), its
# fused cross-entropy and GRPO's loss functions. The first step of a phase pays that compile; later steps
# are faster. Defaults below are Unsloth 2026.10's own figures (unsloth/utils/padding_choice.py): the block
# compile costs about 25 s in 16 bit and 100 s in 4 bit, and saves about 0.04 s of host time per micro
# batch where it wins; it is chosen when the saving repays twice the cost. ``bench.gpu_check`` measures both
# on a GPU and writes them to ``$TOOLDOJO_CACHE/unsloth_compile.json``, which replaces the defaults for the
# same GPU, torch and Unsloth.
COMPILE_FILE = "unsloth_compile.json"
COMPILE_COST_S = {"16bit": 25.0, "4bit": 100.0}
SAVED_S_PER_STEP = {"16bit": 0.04, "4bit": 0.04}
REPAY_FACTOR = 2.0
COMPILE_ENV = {True: {"UNSLOTH_COMPILE_DISABLE": "0", "UNSLOTH_BLOCK_COMPILE": "1", "TORCH_COMPILE_DISABLE": "0"},
               False: {"UNSLOTH_COMPILE_DISABLE": "1", "UNSLOTH_BLOCK_COMPILE": "0", "TORCH_COMPILE_DISABLE": "1"}}
"""Unsloth's switches: ``UNSLOTH_COMPILE_DISABLE`` (read when unsloth_zoo is imported: the block compile,
the compiled modeling code, the fused loss and GRPO's losses; the rewritten code still runs, eagerly) and
``UNSLOTH_BLOCK_COMPILE`` (read at every block call: the per-block regions alone). A few of Unsloth's
``torch.compile`` calls are not behind them (flex attention, some GRPO helpers), so ``off`` also turns
Dynamo off for the process, as Unsloth itself does for GPUs that cannot compile (``TORCH_COMPILE_DISABLE``
and ``torch._dynamo.config.disable``, read per call)."""


@dataclass
class CompileChoice:
    """Whether Unsloth's torch.compile is on for a run, why, and the environment that says so to Unsloth."""

    enabled: bool
    reason: str
    env: dict[str, str]


def compile_key() -> dict[str, str]:
    """What a measured compile cost is valid for: the GPU, torch and Unsloth versions."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    try:
        unsloth = version("unsloth")
    except PackageNotFoundError:
        unsloth = "none"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return {"gpu": gpu, "torch": torch.__version__, "unsloth": unsloth}


def measured_compile_costs(path: Path | None = None) -> dict[str, Any] | None:
    """The compile cost and per-step saving ``bench.gpu_check`` measured on this machine, when they were
    measured with this GPU, torch and Unsloth (else ``None``)."""
    path = path or cache_dir() / COMPILE_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if record.get("key") == compile_key() else None


def decide_compile(setting: str, *, steps: int | None, phases: int, four_bit: bool,
                   measured: dict[str, Any] | None = None) -> CompileChoice:
    """``train.compile`` for a run of ``steps`` optimizer micro-steps over ``phases`` phases (each loads the
    model afresh and pays the compile once): ``auto`` turns it on iff the steps' saving repays
    ``REPAY_FACTOR`` × the compile time, from ``measured`` figures (:func:`measured_compile_costs`) when
    given, else Unsloth's estimates."""
    if setting in ("on", "off"):
        on = setting == "on"
        return CompileChoice(on, f"train.compile={setting}", COMPILE_ENV[on])
    preset = [k for k in ("UNSLOTH_COMPILE_DISABLE", "TORCH_COMPILE_DISABLE") if os.environ.get(k) == "1"]
    if preset:
        return CompileChoice(False, f"auto: {preset[0]}=1 in the environment", COMPILE_ENV[False])
    if steps is None:
        return CompileChoice(True, "planned steps unknown: Unsloth's default (compile on)", COMPILE_ENV[True])
    kind = "4bit" if four_bit else "16bit"
    source = "measured by bench.gpu_check" if measured else "Unsloth's estimate"
    figures = measured or {}
    cost = float(figures.get("compile_s", {}).get(kind, COMPILE_COST_S[kind])) * max(phases, 1)
    saved = float(figures.get("saved_s_per_step", {}).get(kind, SAVED_S_PER_STEP[kind])) * steps
    on = saved >= REPAY_FACTOR * cost
    why = (f"{steps} steps save ~{max(saved, 0):.0f}s {'≥' if on else '<'} {REPAY_FACTOR:g} × {cost:.0f}s of "
           f"compile over {max(phases, 1)} phase(s), {kind} ({source})")
    return CompileChoice(on, f"auto: {why}", COMPILE_ENV[on])


def _set_dynamo_disable(value: bool) -> None:
    dynamo = sys.modules.get("torch._dynamo.config")
    if dynamo is not None:  # imported already: its ``disable`` was read from the environment before
        dynamo.disable = value
        entry = getattr(dynamo, "_config", {}).get("disable")
        if entry is not None and hasattr(entry, "default"):  # torch >= 2.12 keeps it per thread (Unsloth's fix)
            entry.default = value


def apply_compile_env(choice: CompileChoice) -> str | None:
    """Set Unsloth's switches in this process's environment (before ``import unsloth``); a note when
    unsloth_zoo was already imported with the other setting (then only the per-block compile follows)."""
    os.environ.update(choice.env)
    _set_dynamo_disable(not choice.enabled)
    common = sys.modules.get("unsloth_zoo.temporary_patches.common")
    frozen = getattr(common, "UNSLOTH_COMPILE_DISABLE", None)
    if frozen is not None and bool(frozen) == choice.enabled:
        return (f"unsloth was imported earlier in this process with compile {'off' if frozen else 'on'}: only "
                "the per-block compile follows train.compile (run in a fresh process for the rest)")
    return None


def resolve_backend(cfg: TrainConfig, *, planned_steps: int | None = None, phases: int = 1) -> Backend:
    """The backend a run uses: Unsloth when asked for or (``auto``) on CUDA when ``unsloth`` imports.

    ``planned_steps`` (optimizer micro-steps of the whole run) and ``phases`` decide ``train.compile: auto``."""
    cuda = cuda_available()
    if cfg.backend == "unsloth":
        if not cuda:
            raise ConfigError("the Unsloth backend needs a CUDA GPU", field="train.backend",
                              fix="set train.backend=auto (or hf) to train with transformers + PEFT on this machine")
        if not unsloth_available():
            raise ConfigError("unsloth is not installed", field="train.backend",
                              fix="pip install 'tooldojo[gpu]', or set train.backend=hf")
    name = "unsloth" if cfg.backend == "unsloth" or (cfg.backend == "auto" and cuda and unsloth_available()) else "hf"
    choice, notes = None, []
    if name == "unsloth":
        four_bit_planned = cfg.lora.enabled if cfg.lora.load_in_4bit is None else cfg.lora.load_in_4bit
        choice = decide_compile(cfg.compile, steps=planned_steps, phases=phases, four_bit=four_bit_planned,
                                measured=measured_compile_costs())
        before = {k: os.environ.get(k) for k in choice.env}
        notes += [n for n in [apply_compile_env(choice)] if n]
        error = import_unsloth()
        if error:  # the switches were for Unsloth: the process gets its own settings back
            for k, v in before.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            _set_dynamo_disable(before["TORCH_COMPILE_DISABLE"] == "1")
        if error and cfg.backend == "unsloth":
            raise ConfigError(f"unsloth does not import ({error})", field="train.backend",
                              fix="reinstall a matching unsloth/unsloth_zoo ('tooldojo[gpu]'), or set train.backend=hf")
        if error:
            notes.append(f"unsloth does not import ({error}); training with transformers + PEFT instead")
            name, choice = "hf", None
    autocast = False
    if cfg.dtype != "auto":
        dtype = cfg.dtype
    elif cuda:
        import torch

        dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    else:
        dtype, autocast = "float32", cpu_bf16_supported()
    lora = cfg.lora.enabled
    four_bit = cfg.lora.load_in_4bit
    if four_bit is None:
        four_bit = lora and cuda and (name == "unsloth" or importlib.util.find_spec("bitsandbytes") is not None)
    if four_bit and not cuda:
        raise ConfigError("4-bit loading needs a CUDA GPU", field="train.lora.load_in_4bit",
                          fix="set train.lora.load_in_4bit=false (or leave it unset) on this machine")
    if four_bit and not lora:
        raise ConfigError("4-bit weights cannot be fully fine-tuned", field="train.lora.load_in_4bit",
                          fix="set train.lora.enabled=true (QLoRA) or train.lora.load_in_4bit=false")
    if four_bit and name == "hf" and importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError("4-bit loading needs bitsandbytes", field="train.lora.load_in_4bit",
                          fix="pip install bitsandbytes, or set train.lora.load_in_4bit=false")
    gc = cfg.gradient_checkpointing if cfg.gradient_checkpointing is not None else cuda
    return Backend(name=name, device="cuda" if cuda else "cpu", dtype=dtype, load_in_4bit=bool(four_bit),
                   gradient_checkpointing=gc, lora=lora, autocast_bf16=autocast, compile=choice, notes=notes)


def _call_with_supported(fn: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with those of ``kwargs`` that its signature names and that are not ``None`` (Unsloth's API
    grows between releases; an older one must not get a keyword it would pass on blindly)."""
    params = inspect.signature(fn).parameters
    return fn(**{k: v for k, v in kwargs.items() if k in params and v is not None})


def linear_module_names(model: Any) -> list[str]:
    """Leaf names of the model's linear layers except the LM head (what ``all-linear`` means)."""
    import torch

    names = set()
    for full, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and "lm_head" not in full:
            names.add(full.rsplit(".", 1)[-1])
    return sorted(names)


def _lora_targets(model: Any, lora: LoraConfig) -> list[str] | str:
    if lora.target_modules == "all-linear":
        return linear_module_names(model)
    return lora.target_modules


def load_for_training(backend: Backend, base: str, *, init_from: Path | None, lora: LoraConfig,
                      max_seq_length: int, seed: int, fast_inference: bool = False,
                      tokenizer: Any = None) -> tuple[Any, Any]:
    """Load the model to train and its tokenizer.

    ``base`` is the base model (path or Hub id). ``init_from`` is an earlier phase's output: an adapter folder
    (LoRA, trained further) or a full model folder; ``None`` starts from ``base`` with fresh adapters.
    ``tokenizer`` reuses one already loaded (transformers backend; Unsloth loads its own).
    """
    if backend.name == "unsloth":
        model, tok = _load_unsloth(backend, base, init_from=init_from, lora=lora, max_seq_length=max_seq_length,
                                   seed=seed, fast_inference=fast_inference)
    else:
        model, tok = _load_hf(backend, base, init_from=init_from, lora=lora, seed=seed, tokenizer=tokenizer)
    ensure_chat_template(tok)
    return model, tok


def _load_hf(backend: Backend, base: str, *, init_from: Path | None, lora: LoraConfig, seed: int,
             tokenizer: Any = None) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    set_seed(seed)
    is_adapter = init_from is not None and (init_from / "adapter_config.json").exists()
    source = str(init_from) if init_from is not None and not is_adapter else base
    kwargs: dict[str, Any] = {"dtype": backend.torch_dtype}
    if backend.load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=backend.torch_dtype)
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    tok = tokenizer if tokenizer is not None else AutoTokenizer.from_pretrained(
        str(init_from) if init_from is not None else base)
    if not backend.lora:
        return model, tok
    from peft import LoraConfig as PeftLoraConfig
    from peft import PeftModel, get_peft_model, prepare_model_for_kbit_training

    if backend.load_in_4bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=backend.gradient_checkpointing)
    if is_adapter:
        model = PeftModel.from_pretrained(model, str(init_from), is_trainable=True)
    else:
        model = get_peft_model(model, PeftLoraConfig(
            r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, bias="none", task_type="CAUSAL_LM",
            target_modules=_lora_targets(model, lora)))
    return model, tok


def _load_unsloth(backend: Backend, base: str, *, init_from: Path | None, lora: LoraConfig, max_seq_length: int,
                  seed: int, fast_inference: bool) -> tuple[Any, Any]:
    from unsloth import FastLanguageModel

    gc = "unsloth" if backend.gradient_checkpointing else False
    model, tok = _call_with_supported(
        FastLanguageModel.from_pretrained,
        # an adapter folder loads its base (adapter_config.json) and the adapter, trainable
        model_name=str(init_from) if init_from is not None else base,
        max_seq_length=max_seq_length,
        dtype=backend.torch_dtype,
        load_in_4bit=backend.load_in_4bit,
        load_in_16bit=not backend.load_in_4bit and backend.lora,
        full_finetuning=not backend.lora,
        use_gradient_checkpointing=gc,
        random_state=seed,
        fast_inference=True if fast_inference else None,
        max_lora_rank=max(lora.r, 16) if fast_inference else None,
    )
    if backend.lora:
        # passes through (and patches) an adapter loaded above when the LoRA settings match
        model = _call_with_supported(
            FastLanguageModel.get_peft_model, model=model, r=lora.r, target_modules=_lora_targets(model, lora),
            lora_alpha=lora.alpha, lora_dropout=lora.dropout, bias="none", use_gradient_checkpointing=gc,
            random_state=seed)
    return model, getattr(tok, "tokenizer", tok)


def phase_output(phase_dir: Path) -> Path | None:
    """The trained weights of a finished phase: its ``adapter/`` or ``model/`` folder (``None`` if absent)."""
    for name in (ADAPTER_DIR, MODEL_DIR):
        if (phase_dir / name).is_dir():
            return phase_dir / name
    return None


def merge_and_save(base: str, trained: Path, out_dir: Path, *, provenance: dict[str, Any] | None = None,
                   tokenizer: Any = None) -> Path:
    """Write a plain model folder to ``out_dir``: ``trained`` (an adapter, merged into ``base`` in the base's own
    dtype on CPU, or a full model folder) plus the tokenizer with its chat template. Atomic: built beside
    ``out_dir`` and renamed into place."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if (trained / "adapter_config.json").exists():
        from peft import PeftModel

        model = AutoModelForCausalLM.from_pretrained(base, dtype="auto", device_map={"": "cpu"})
        model = PeftModel.from_pretrained(model, str(trained)).merge_and_unload()
    else:
        model = AutoModelForCausalLM.from_pretrained(str(trained), dtype="auto", device_map={"": "cpu"})
    model.save_pretrained(str(tmp))
    tok = ensure_chat_template(tokenizer if tokenizer is not None else AutoTokenizer.from_pretrained(str(trained)))
    tok.save_pretrained(str(tmp))
    (tmp / "tooldojo_train.json").write_text(json.dumps(provenance or {}, indent=2, default=str), encoding="utf-8")
    old = out_dir.with_name(out_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
    del model
    release_memory()
    return out_dir
