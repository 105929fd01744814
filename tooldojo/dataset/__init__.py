"""The split stage: seen/unseen split by tool-family cluster, leakage audit, scenario datasets, dataset card
and Hub publishing.

Library entry points (imported lazily so ``tooldojo --help`` stays fast): :func:`run_split`,
:func:`load_dataset_dir`, :func:`audit_dataset`, :func:`publish`.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "run_split": "tooldojo.dataset.stage",
    "load_dataset_dir": "tooldojo.dataset.io",
    "build_dataset_dicts": "tooldojo.dataset.io",
    "audit_dataset": "tooldojo.dataset.audit",
    "assign": "tooldojo.dataset.split",
    "build_examples": "tooldojo.dataset.examples",
    "publish": "tooldojo.dataset.publish",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tooldojo.dataset' has no attribute {name!r}")
