"""Package names imported on first use, so that importing a package (and ``tooldojo --help``) stays fast and
a package's ``__init__`` need not import modules that import it back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str | tuple[str, str]]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package`` that imports each name of ``exports`` when it is first asked for.

    ``exports`` maps a name to the module defining it (absolute, or relative to ``package`` with a leading
    dot), or to ``(module, attribute)`` where the module calls it otherwise."""

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = target if isinstance(target, tuple) else (target, name)
        return getattr(import_module(module, package), attr)

    return __getattr__
