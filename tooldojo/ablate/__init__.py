"""The results run: variants (base, selection-only SFT, two-stage SFT, + GRPO, GRPO from base) trained from
one split and evaluated on the same sets, with 95% Wilson intervals and BFCL (``tooldojo ablate``)."""

from __future__ import annotations

from tooldojo.ablate.config import VARIANTS, AblateConfig, CostModel
from tooldojo.lazy import lazy_exports

# the runner imports tooldojo.config, which imports this package's config
__getattr__ = lazy_exports(__name__, {"run_ablate": ".runner", "write_results": ".results"})


__all__ = ["VARIANTS", "AblateConfig", "CostModel", "run_ablate", "write_results"]
