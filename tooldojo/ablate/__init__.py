"""The results run: variants (base, selection-only SFT, two-stage SFT, + GRPO, GRPO from base) trained from
one split and evaluated on the same sets, with 95% Wilson intervals and BFCL (``tooldojo ablate``)."""

from __future__ import annotations

from tooldojo.ablate.config import VARIANTS, AblateConfig, CostModel


def __getattr__(name: str):  # the runner imports tooldojo.config, which imports this package's config
    if name in ("run_ablate", "write_results"):
        from tooldojo.ablate import results, runner

        return getattr(runner, name, None) or getattr(results, name)
    raise AttributeError(name)


__all__ = ["VARIANTS", "AblateConfig", "CostModel", "run_ablate", "write_results"]
