"""The teacher's prompt templates: Jinja files in ``tooldojo/templates/``, overridable per file.

Each template ``<name>.jinja`` (one per teacher step, :data:`~tooldojo.synth.steps.TEMPLATE_NAMES`) defines
two blocks, ``system`` and ``user``; rendering one gives the chat messages of a teacher request. Templates render with ``StrictUndefined`` (a missing variable is an error,
never an empty string) and declare their version in a first-line comment ``{# version: N #}``.

A user points ``--templates DIR`` (``synth.templates``) at a folder holding copies of any subset of the
files; the others come from the shipped set. The set's *name* (``default``, or the folder's name) and
*hash* (over the effective source of every template and partial) go into every record's provenance, so
template ablations are reproducible and comparable.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from tooldojo.errors import ConfigError
from tooldojo.synth.steps import TEMPLATE_NAMES, TEMPLATE_VARIABLES

_VERSION = re.compile(r"\{#-?\s*version:\s*([\w.\-]+)\s*-?#\}")


def shipped_dir() -> Path:
    """The folder of the shipped templates."""
    return Path(str(resources.files("tooldojo").joinpath("templates")))


def _json_default(obj: Any) -> Any:
    from jinja2 import Undefined

    if isinstance(obj, Undefined):
        obj._fail_with_undefined_error()  # raises UndefinedError (StrictUndefined)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def _to_json(value: Any, indent: int | None = None) -> str:
    """The ``json`` filter: plain ``json.dumps`` (Jinja's ``tojson`` HTML-escapes ``<>&'``)."""
    return json.dumps(value, ensure_ascii=False, indent=indent, default=_json_default)


class TemplateSet:
    """The effective templates: ``override`` files first, then the shipped ones."""

    def __init__(self, override: str | Path | None = None):
        self.override = Path(override) if override else None
        if self.override is not None:
            if not self.override.is_dir():
                raise ConfigError("templates folder not found", field=f"synth.templates ({self.override})",
                                  fix="point --templates at a folder of .jinja files "
                                      "(`tooldojo synth-templates DIR` writes the shipped ones)")
            known = set(TEMPLATE_NAMES)
            for path in sorted(self.override.glob("*.jinja")):
                stem = path.name.removesuffix(".jinja")
                if stem not in known and not stem.startswith("_"):
                    raise ConfigError(f"{path.name} is not a template tooldojo uses",
                                      field=f"synth.templates ({path})",
                                      fix=f"name it one of {', '.join(n + '.jinja' for n in TEMPLATE_NAMES)} "
                                          "(or start a partial's name with '_')")
        self.name = self.override.name if self.override else "default"

    @cached_property
    def env(self):
        from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

        loaders = [FileSystemLoader(str(self.override))] if self.override else []
        loaders.append(FileSystemLoader(str(shipped_dir())))
        env = Environment(loader=ChoiceLoader(loaders), undefined=StrictUndefined, autoescape=False,
                          trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
        env.filters["json"] = _to_json
        return env

    def _path(self, filename: str) -> Path:
        if self.override and (self.override / filename).exists():
            return self.override / filename
        return shipped_dir() / filename

    @cached_property
    def sources(self) -> dict[str, str]:
        """Effective source of every template and partial (``_*.jinja``), by file name."""
        names = {f"{n}.jinja" for n in TEMPLATE_NAMES}
        for folder in (shipped_dir(), self.override):
            if folder is not None:
                names |= {p.name for p in folder.glob("_*.jinja")}
        return {name: self._path(name).read_text(encoding="utf-8") for name in sorted(names)}

    @cached_property
    def hash(self) -> str:
        """sha256 over the effective sources (file names and text), hex-truncated."""
        h = hashlib.sha256()
        for name, text in self.sources.items():
            h.update(name.encode())
            h.update(b"\0")
            h.update(text.encode())
            h.update(b"\0")
        return h.hexdigest()[:16]

    @cached_property
    def versions(self) -> dict[str, str]:
        """Declared version of every template (``unversioned`` when its first comment lacks one)."""
        out = {}
        for name in TEMPLATE_NAMES:
            m = _VERSION.search(self.sources[f"{name}.jinja"])
            out[name] = m.group(1) if m else "unversioned"
        return out

    def check(self) -> None:
        """Compile every effective template and partial and check that each uses only the variables its step
        provides (``jinja2.meta``), before any request is sent. Raises :class:`ConfigError` naming the file
        (and line, for a syntax error)."""
        from jinja2 import TemplateSyntaxError, meta

        every = frozenset().union(*TEMPLATE_VARIABLES.values())
        for filename, source in self.sources.items():
            stem = filename.removesuffix(".jinja")
            where = str(self._path(filename))
            try:
                ast = self.env.parse(source, name=filename)
            except TemplateSyntaxError as err:
                raise ConfigError(f"template syntax error: {err.message}", field=f"{where}:{err.lineno}",
                                  fix="fix the Jinja syntax") from None
            allowed = TEMPLATE_VARIABLES.get(stem, every)  # a partial may be included by any template
            unknown = sorted(meta.find_undeclared_variables(ast) - allowed - set(self.env.globals))
            if unknown:
                raise ConfigError(f"uses variable(s) {', '.join(unknown)} that the '{stem}' step does not provide",
                                  field=where, fix=f"use only {', '.join(sorted(allowed))} (see docs/synth.md)")

    def where(self, name: str) -> str:
        """Which file a template comes from (for error messages)."""
        return str(self._path(f"{name}.jinja"))

    def render(self, name: str, **variables: Any) -> list[dict[str, str]]:
        """Render template ``name`` into chat messages (``system`` then ``user``; empty blocks left out)."""
        from jinja2 import TemplateError, UndefinedError

        try:
            tmpl = self.env.get_template(f"{name}.jinja")
            ctx = tmpl.new_context(variables)
            messages = []
            for role in ("system", "user"):
                if role not in tmpl.blocks:
                    if role == "user":
                        raise ConfigError("template has no {% block user %}", field=self.where(name),
                                          fix="define {% block system %} and {% block user %} blocks")
                    continue
                text = "".join(tmpl.blocks[role](ctx)).strip()
                if text:
                    messages.append({"role": role, "content": text})
            return messages
        except UndefinedError as err:
            raise ConfigError(f"undefined variable: {err.message}", field=self.where(name),
                              fix=f"use only the variables the '{name}' step provides (see docs/synth.md)") from None
        except (TemplateError, TypeError) as err:
            line = getattr(err, "lineno", None)
            raise ConfigError(f"template error: {err}", field=self.where(name) + (f":{line}" if line else ""),
                              fix="fix the Jinja syntax") from None

    def describe(self) -> dict[str, Any]:
        """Name, hash, versions and folder, for manifests and provenance."""
        return {"name": self.name, "hash": self.hash, "versions": self.versions,
                "override": str(self.override) if self.override else None}


def export_templates(dest: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Copy the shipped templates into ``dest`` (to edit and pass back with ``--templates``)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sorted(shipped_dir().glob("*.jinja")):
        target = dest / src.name
        if target.exists() and not overwrite:
            raise ConfigError("file exists", field=str(target), fix="pass --overwrite or choose an empty folder")
        target.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
        written.append(target)
    return written
