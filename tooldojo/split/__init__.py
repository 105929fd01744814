"""The split stage: seen/unseen split by tool-family cluster, leakage audit, scenario datasets, dataset card
and Hub publishing.

Library entry points (imported lazily so ``tooldojo --help`` stays fast): :func:`run_split`,
:func:`load_dataset_dir`, :func:`audit_dataset`, :func:`publish`.
"""

from __future__ import annotations

from tooldojo.lazy import lazy_exports

_EXPORTS = {
    "run_split": "tooldojo.split.stage",
    "load_dataset_dir": "tooldojo.dataset_io",
    "build_dataset_dicts": "tooldojo.dataset_io",
    "audit_dataset": "tooldojo.split.audit",
    "assign": "tooldojo.split.sides",
    "build_examples": "tooldojo.split.examples",
    "publish": "tooldojo.split.publish",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
