"""Where a float64 Newton-type run on the host takes float32 products for its model.

A model Hessian only sets the step, never the fixed point or the stopping rule; the
float32 block products of :func:`~jaxlogloss.data.gram.centered_gram_and_moment` are
1.4-2.4x faster on a CPU with entries within ~1e-7 relative, close enough to keep
Newton's local convergence -- unless the Hessian is nearly singular, where rounding X
to float32 moves its smallest eigenvalues. :class:`ModelPrecision` holds the rule.
The inference Hessian is always exact. The same rule covers the first model of a
run from theta = 0, formed from a sample of the rows where X is large
(:func:`~jaxlogloss.fitting.host_curvature.sample_stride`): a rounded model (or a
float32 run's, float32 anyway) may be sampled, an exact one never is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FLOAT32_MODELS = True  # False: every model Hessian from exact products (tests)


class ModelPrecision:
    """A float64 run starts with float32 products (module docstring) and switches to
    exact ones for good after any step that did not halve its gradient's (or KKT
    violation's) largest entry, or whose model was unusable. A float32 run's
    products are float32 anyway."""

    HALVING = 0.5

    def __init__(self, dtype: Any) -> None:
        self.rounded = FLOAT32_MODELS and np.dtype(dtype) == np.float64
        self.float32_run = FLOAT32_MODELS and np.dtype(dtype) == np.float32

    @property
    def may_sample(self) -> bool:
        """Whether a model may come from a sample of the rows: a rounded model, or
        any model of a float32 run (never while models are exact)."""
        return self.rounded or self.float32_run

    @property
    def float32_products(self) -> np.bool_:
        return np.bool_(self.rounded)

    def exact(self) -> bool:
        """Switch to exact products; whether that changed anything."""
        changed, self.rounded = self.rounded, False
        return changed

    def check(self, before: Any, after: Any) -> None:
        """The rule above on a step that took the largest entry from before to after."""
        if self.rounded and not after <= self.HALVING * before:
            self.rounded = False
