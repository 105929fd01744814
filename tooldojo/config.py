"""The pipeline config: one typed model per stage, loadable from one YAML/TOML file, overridable from the CLI.

Each stage owns its config class (``tooldojo/<stage>/config.py``); :class:`PipelineConfig` composes them.
Overrides are dotted ``key=value`` pairs (``synth.teacher.model=gpt-4o-mini``), values parsed as YAML
scalars. Every error names the offending field.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tooldojo.ablate.config import AblateConfig
from tooldojo.dedup.config import DedupConfig
from tooldojo.errors import ConfigError
from tooldojo.eval.config import EvalConfig
from tooldojo.executors.config import ExecutionConfig, move_deprecated_keys
from tooldojo.split.config import SplitConfig
from tooldojo.synth.config import SynthConfig
from tooldojo.train.config import TrainConfig, upgrade_keys

C = TypeVar("C", bound=BaseModel)


class PipelineConfig(BaseModel):
    """The whole pipeline: ``synth -> dedup -> split -> train -> eval`` in one run folder."""

    model_config = ConfigDict(extra="forbid")

    run_dir: Path = Path("runs/default")
    seed: int = 0
    """Global seed; a stage's own ``seed`` (if set) wins."""
    preset: str | None = None
    """The preset the config was built on (``demo``, ``quick``; see ``tooldojo/presets/``), for the record."""
    synth: SynthConfig = Field(default_factory=SynthConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    ablate: AblateConfig = Field(default_factory=AblateConfig)
    """``tooldojo ablate``: the variants compared and the time plan (the other commands ignore it)."""
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    """Where ``synth`` and ``dedup`` run (``local`` or ``ray``); not part of any stage's config hash."""

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        """The old ``synth.executor``/``dedup.ray_*`` keys, mapped to ``execution.*`` with a deprecation line."""
        return move_deprecated_keys(data) if isinstance(data, dict) else data

    def seed_for(self, stage: str) -> int:
        """The seed ``stage`` runs with: the stage's own ``seed`` wins over the global one."""
        own = getattr(getattr(self, stage), "seed", None)
        return self.seed if own is None else own


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError("file not found", field=str(path), fix="pass an existing .yaml/.yml/.toml file")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        what = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"cannot parse: {what}", field=where, fix="fix the file's syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("top level must be a mapping of stage names to settings", field=str(path))
    return data


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> ``{"a": {"b": 1}, "c": "x"}`` (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {pair!r} is not key=value", field="--set",
                              fix="write e.g. --set synth.teacher.model=gpt-4o-mini")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {pair!r} conflicts with another override", field=key)
        node[parts[-1]] = value
    return out


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``extra`` into a copy of ``base`` (``extra`` wins)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def validate(model: type[C], data: dict[str, Any], *, source: str = "config") -> C:
    """Validate ``data`` as ``model``; the first error becomes a one-line :class:`ConfigError`."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        got = first.get("input")
        got_s = "" if isinstance(got, dict) else f" (got {got!r})"
        fix = "remove it or check its spelling" if first["type"] == "extra_forbidden" else \
            f"see `tooldojo config --show` for {model.__name__}'s fields and defaults"
        raise ConfigError(f"{first['msg']}{got_s}", field=f"{source}:{loc}" if loc else source, fix=fix) from None


def presets() -> list[str]:
    """Names of the shipped presets (``tooldojo/presets/*.yaml``)."""
    return sorted(p.name.removesuffix(".yaml") for p in resources.files("tooldojo").joinpath("presets").iterdir()
                  if p.name.endswith(".yaml"))


def preset_data(name: str) -> dict[str, Any]:
    """The settings of a shipped preset."""
    if name not in presets():
        raise ConfigError(f"unknown preset {name!r}", field="--preset", fix=f"use one of {', '.join(presets())}")
    text = resources.files("tooldojo").joinpath("presets", f"{name}.yaml").read_text(encoding="utf-8")
    return (yaml.safe_load(text) or {}) | {"preset": name}


def load_config(path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None,
                model: type[C] = PipelineConfig, preset: str | None = None) -> C:  # type: ignore[assignment]
    """Load ``model`` from a preset (lowest), an optional YAML/TOML file, then dotted overrides (highest)."""
    data: dict[str, Any] = preset_data(preset) if preset else {}
    if path:
        data = deep_merge(data, _renamed(_read_file(Path(path))))
    extra = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    return validate(model, deep_merge(data, _renamed(extra)), source=str(path) if path else "config")


def _renamed(data: dict[str, Any]) -> dict[str, Any]:
    """One source's settings with renamed keys under their new names, before sources merge (so a later source's
    old key still overrides an earlier source's new one)."""
    train = data.get("train")
    return data | {"train": upgrade_keys(train)} if isinstance(train, dict) else data


def dump_config(config: BaseModel) -> str:
    """The resolved config as YAML (what every stage writes beside its outputs)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
