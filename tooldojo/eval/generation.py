"""What every generation backend shares: requests, results, the backend protocol, and the choice of backend.

A backend turns chat requests (messages + OpenAI ``tools``) into raw model outputs. It reports finished
results in chunks through a callback, so the caller can checkpoint them and advance a progress bar; an
interrupted evaluation resumes from the last chunk. Backends:

- :class:`~tooldojo.eval.hf_backend.HFGenerator`: transformers, batched, left padding, KV cache;
- :class:`~tooldojo.eval.vllm_backend.VLLMGenerator`: vLLM, when installed on CUDA;
- :class:`~tooldojo.eval.openai_backend.OpenAIGenerator`: any OpenAI-compatible endpoint, async, bounded
  concurrency;
- :class:`FunctionGenerator`: a Python function (scripted models, precomputed outputs, other libraries).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tooldojo.errors import ConfigError, ToolDojoError
from tooldojo.models import vllm_available
from tooldojo.stopping import trim_at_stop


class EndpointError(ToolDojoError):
    """An OpenAI-compatible endpoint refused, is unreachable, or is misconfigured."""


@dataclass
class GenRequest:
    """One generation: chat ``messages`` and the OpenAI ``tools`` offered with them."""

    key: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    stop: Sequence[str] = ()
    """Generation ends right after the first of these strings (local backends; the string is kept)."""
    tool_choice: str | None = None
    """For endpoints: ``"none"`` asks for a text reply (the ranking task), ``None`` leaves it to the model."""
    max_new_tokens: int | None = None
    """This request's own generation cap (the task's); a backend's configured ``max_new_tokens`` overrides it."""


@dataclass
class GenResult:
    """A raw output: ``text``, and for endpoints the reply's ``tool_calls`` (OpenAI dicts)."""

    key: str
    text: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    """``None`` for generated text; a list (possibly empty) for a chat reply from an endpoint, whose plain-text
    answer then counts as a direct reply (``generate_response``)."""
    error: str | None = None
    """Why no output came back for this request (kept in the per-example log; counts as malformed)."""
    retryable: bool = False
    """True when the error is transient (rate limit, timeout, server error): not checkpointed, so a rerun
    retries it."""


OnDone = Callable[[list[GenResult]], None]

DEFAULT_MAX_NEW_TOKENS = 256
"""The generation cap of a request that names none, when no ``max_new_tokens`` is configured."""


def new_token_cap(request: GenRequest, configured: int | None) -> int:
    """Tokens to generate at most for ``request``: the configured cap, else the request's, else 256."""
    return configured or request.max_new_tokens or DEFAULT_MAX_NEW_TOKENS


class Generator(Protocol):
    """A generation backend."""

    name: str
    """Short description for reports (backend and model)."""

    def generate(self, requests: list[GenRequest], on_done: OnDone) -> None:
        """Generate for every request, calling ``on_done`` with each finished chunk of results."""
        ...

    def close(self) -> None:
        """Free the model / connections."""
        ...


class FunctionGenerator:
    """A backend calling ``fn(request) -> str | dict`` for every request.

    A ``str`` is the raw output text of a local model; a ``dict`` is an OpenAI assistant message (``content``
    and/or ``tool_calls``), read as an endpoint's reply. Use it for scripted models in tests, to score precomputed outputs, or to plug in a
    model served by another library.
    """

    def __init__(self, fn: Callable[[GenRequest], str | dict[str, Any]], *, name: str = "function",
                 chunk_size: int = 32):
        self.fn = fn
        self.name = name
        self.chunk_size = chunk_size

    def generate(self, requests: list[GenRequest], on_done: OnDone) -> None:
        for start in range(0, len(requests), self.chunk_size):
            chunk = []
            for req in requests[start:start + self.chunk_size]:
                out = self.fn(req)
                if isinstance(out, dict):
                    chunk.append(GenResult(req.key, text=out.get("content") or "",
                                           tool_calls=list(out.get("tool_calls") or [])))
                else:
                    chunk.append(GenResult(req.key, text=trim_at_stop(str(out), req.stop)))
            on_done(chunk)

    def close(self) -> None:
        pass




def choose_backend(backend: str, *, endpoint: bool, adapter: bool) -> str:
    """The backend ``auto`` resolves to; checks that an explicit choice can work."""
    if endpoint:
        if backend not in ("auto", "openai"):
            raise ConfigError(f"backend {backend!r} cannot serve an endpoint", field="eval.backend",
                              fix="leave eval.backend at auto (or openai) when eval.base_url is set")
        return "openai"
    if backend == "openai":
        raise ConfigError("the openai backend needs an endpoint", field="eval.base_url",
                          fix="set eval.base_url (e.g. http://localhost:8000/v1), or use backend auto/hf")
    if backend == "vllm":
        if not vllm_available():
            raise ConfigError("vLLM is not installed or CUDA is not available", field="eval.backend",
                              fix="pip install vllm on a CUDA machine, or use backend auto/hf")
        if adapter:
            raise ConfigError("the vllm backend takes merged models, not adapter folders", field="eval.model",
                              fix="use backend hf for adapters, or evaluate the merged train/final model")
        return "vllm"
    if backend == "auto" and vllm_available() and not adapter:
        return "vllm"
    return "hf"


@dataclass
class LocalModel:
    """A resolved local model: a folder or Hub id, and for a PEFT adapter folder its base model."""

    path: str
    adapter: str | None = None
    """The adapter folder (``path`` is then the base model)."""

    @property
    def tokenizer_source(self) -> str:
        if self.adapter and any((Path(self.adapter) / f).exists()
                                for f in ("tokenizer.json", "tokenizer_config.json")):
            return self.adapter
        return self.path


def resolve_local_model(spec: str | None, run_dir: Path) -> LocalModel:
    """A model spec -> a loadable :class:`LocalModel`.

    ``None`` is the run's trained model (``<run>/train/final``); a folder holding ``adapter_config.json`` is
    a PEFT adapter on the base model it names; anything else goes through :func:`tooldojo.models.resolve_model`
    (``gemma-3-270m``, ``tiny``, Hub ids, folders).
    """
    import json

    from tooldojo.models import resolve_model

    if spec is None:
        final = Path(run_dir) / "train" / "final"
        if not final.is_dir():
            raise ConfigError(f"no trained model at {final}", field="eval.model",
                              fix=f"run `tooldojo train --run-dir {run_dir}` first, or pass --model <folder/Hub id>")
        spec = str(final)
    folder = Path(spec)
    if (folder / "adapter_config.json").is_file():
        cfg = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
        base = cfg.get("base_model_name_or_path")
        if not base:
            raise ConfigError("adapter_config.json names no base model", field=str(folder / "adapter_config.json"),
                              fix="set base_model_name_or_path to the base model's folder or Hub id")
        return LocalModel(path=resolve_model(base), adapter=str(folder))
    if folder.exists() and not folder.is_dir():
        raise ConfigError("not a model folder", field="eval.model", fix="pass a model folder, a Hub id or `tiny`")
    return LocalModel(path=resolve_model(spec))
