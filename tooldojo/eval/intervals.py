"""95% Wilson score intervals for accuracies (a share of ``n`` examples), via :func:`scipy.stats.binomtest`.

The Wilson interval keeps its coverage near 95% for small ``n`` and for accuracies near 0 or 1, where the
normal-approximation ("± 1.96 · SE") interval collapses to a point or leaves [0, 1].
"""

from __future__ import annotations

from typing import Any


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes`` out of ``n`` (``None`` when ``n`` is 0)."""
    if n <= 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return round(float(ci.low), 4), round(float(ci.high), 4)


def rate(value: float | None, n: int | None, confidence: float = 0.95) -> dict[str, Any] | None:
    """``{"value", "n", "k", "ci"}`` for an accuracy reported as ``value`` over ``n`` examples (``k`` recovered
    as ``round(value * n)``, exact for values rounded to 4 decimals while ``n`` < 5,000); ``None`` when the
    metric was not measured."""
    if value is None or not n:
        return None
    k = round(value * n)
    return {"value": round(value, 4), "n": int(n), "k": k, "ci": list(wilson(k, int(n), confidence) or ())}
