"""The multinomial (softmax) logit model as an objective the solvers consume.

K classes, class 0 (the first sorted level) the reference. For the other classes
k = 1..K-1 the logits are z_ik = x_i . w_k + b_k, with z_i0 = 0, and

    p_ik = exp(z_ik) / sum_j exp(z_ij),
    f(W, b) = sum_i c_i [-log p_{i, y_i}] / sum_i c_i + (alpha / 2) ||W||_F^2,

the penalty on the raw weights (never the intercepts). The solvers see one flat vector
theta = [W'.ravel(), b'] on *standardised* features (:mod:`jaxlogloss.model.scaling`,
column by column), W' of shape (d, K-1): (d + 1)(K - 1) parameters, as statsmodels'
``MNLogit``. The exact Hessian over theta comes from autodiff (``jax.hessian``): one
((d+1)(K-1))^2 matrix, which Newton (:mod:`jaxlogloss.solvers.newton`) solves with.

``symmetric=True`` gives every class a weight vector (W of shape (d, K)) and keeps the
reference intercept at 0: with alpha > 0 the minimiser is unique and is scikit-learn's
multinomial ``LogisticRegression`` (whose intercepts differ by a common constant only).
``fit_intercept=False`` drops b (then the scaling must not centre: mean 0).

The objective offers what :mod:`jaxlogloss.solvers.base` asks: ``evaluate``,
``hessian``, ``while_loop``, ``derivatives_with_value``; it is a pytree, so a solver
runs on it compiled in one ``lax.while_loop``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jaxlogloss.data.design import row_major
from jaxlogloss.losses.pointwise import reduce_loss, softmax_cross_entropy_pointwise
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.objectives import Evaluation, least_margin, margins
from jaxlogloss.model.params import LinearParams, linear_logits
from jaxlogloss.model.penalties import l2_value
from jaxlogloss.model.scaling import Scaling, to_raw

Array = jax.Array


def _static(default: Any) -> Any:
    return dataclasses.field(default=default, metadata={"static": True})


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MultinomialObjective:
    """f(theta) of the multinomial model (module docstring).

    ``problem.targets`` are one-hot rows (n, K), ``problem.l2`` is alpha.
    """

    problem: Problem
    scaling: Scaling
    symmetric: bool = _static(False)
    fit_intercept: bool = _static(True)

    derivatives_with_value = False

    @property
    def n_features(self) -> int:
        return int(self.problem.X.shape[1])

    @property
    def n_classes(self) -> int:
        return int(self.problem.targets.shape[1])

    @property
    def n_columns(self) -> int:
        """Weight vectors: K (symmetric) or K - 1."""
        return self.n_classes if self.symmetric else self.n_classes - 1

    @property
    def n_params(self) -> int:
        """The length of theta."""
        return self.n_features * self.n_columns + self.fit_intercept * (
            self.n_classes - 1
        )

    @property
    def dtype(self) -> Any:
        return self.problem.targets.dtype

    def params_std(self, theta: Array) -> LinearParams:
        """theta -> W' (d, m) and b' (m,) (the reference's 0 in symmetric mode)."""
        d, m = self.n_features, self.n_columns
        w = theta[: d * m].reshape(d, m)
        if not self.fit_intercept:
            return LinearParams(w, jnp.zeros((m,), theta.dtype))
        b = theta[d * m :]
        if self.symmetric:
            b = jnp.concatenate([jnp.zeros((1,), theta.dtype), b])
        return LinearParams(w, b)

    def raw_params(self, theta: Array) -> LinearParams:
        """The parameters on the user's features: W (d, m), b (m,)."""
        return to_raw(self.params_std(theta), self.scaling)

    def full_logits(self, raw: LinearParams) -> Array:
        """(n, K) logits, the reference's column 0 unless symmetric."""
        z = linear_logits(raw, self.problem.X)
        if self.symmetric:
            return z
        return jnp.concatenate([jnp.zeros((z.shape[0], 1), z.dtype), z], axis=1)

    def total_weight(self) -> Array:
        sw = self.problem.sample_weight
        return self.problem.targets.shape[0] if sw is None else jnp.sum(sw)

    def _value_and_logits(self, theta: Array) -> tuple[Array, Array]:
        p = self.problem
        raw = self.raw_params(theta)
        z = self.full_logits(raw)
        loss = reduce_loss(
            softmax_cross_entropy_pointwise(p.targets, z), p.sample_weight
        )
        return loss + l2_value(raw.w, p.l2), z

    def value(self, theta: Array) -> Array:
        return self._value_and_logits(theta)[0]

    def evaluate(self, theta: Array, order: int = 1) -> Evaluation:
        p = self.problem
        if order == 0:
            f, z = self._value_and_logits(theta)
            g = None
        else:
            (f, z), g = jax.value_and_grad(self._value_and_logits, has_aux=True)(theta)
        h = self.hessian(theta, z) if order >= 2 else None
        separated = (p.l2 == 0) & (least_margin(z, p.targets, p.sample_weight) > 0)
        return Evaluation(f, g, h, separated, z)

    def hessian(self, theta: Array, aux: Any = None) -> Array:
        """The exact Hessian over theta, in closed form from the logits ``aux`` (formed
        when None): with x~ the standardised features and a 1, and
        A_i = diag(p_i) - p_i p_i^T,

            H = sum_i c_i (x~_i x~_i^T) (x) A_i / sum_i c_i + alpha diag(1 / scale^2)

        over the (feature-or-intercept, class) pairs theta holds
        (:func:`theta_positions`); tests check it against ``jax.hessian``."""
        p = self.problem
        z = self.full_logits(self.raw_params(theta)) if aux is None else aux
        prob = jax.nn.softmax(z, axis=-1)
        a = jax.vmap(jnp.diag)(prob) - prob[:, :, None] * prob[:, None, :]
        X = row_major(p.X)
        xs = (X - self.scaling.mean) / self.scaling.scale
        xs = jnp.concatenate([xs, jnp.ones((xs.shape[0], 1), xs.dtype)], axis=1)
        c = (
            jnp.ones(xs.shape[0], xs.dtype)
            if p.sample_weight is None
            else p.sample_weight
        )
        k = self.n_classes
        grid = jnp.einsum("ia,ikl,ib->akbl", xs * c[:, None], a, xs) / jnp.sum(c)
        at = theta_positions(self.n_features, k, self.symmetric, self.fit_intercept)
        h = grid.reshape(xs.shape[1] * k, -1)[jnp.ix_(at, at)]
        d, m = self.n_features, self.n_columns
        curv = jnp.zeros(theta.shape, h.dtype)
        curv = curv.at[: d * m].set(jnp.repeat(p.l2 / self.scaling.scale**2, m))
        return h + jnp.diag(curv)

    @staticmethod
    def while_loop(cond: Any, body: Any, state: Any) -> Any:
        return jax.lax.while_loop(cond, body, state)

    def margin_range(self, direction: Any) -> tuple[float, float]:
        """Least and greatest margin z_{i, y_i} - max_{k != y_i} z_ik over the weighted
        rows of the logits *change* along a direction v over theta (linear in v): the
        quasi-separation check of :mod:`jaxlogloss.solvers.separation`."""
        low, high = _margin_range(self, jnp.asarray(direction, self.dtype))
        return float(low), float(high)


@jax.jit
def _margin_range(obj: MultinomialObjective, v: Array) -> tuple[Array, Array]:
    m = margins(obj.full_logits(obj.raw_params(v)), obj.problem.targets)
    used = obj.problem.sample_weight > 0
    return jnp.min(jnp.where(used, m, jnp.inf)), jnp.max(jnp.where(used, m, -jnp.inf))


def theta_positions(d: int, k: int, symmetric: bool, fit_intercept: bool) -> Any:
    """Where each entry of theta sits in the (d + 1, K) grid of (feature or intercept,
    class) pairs, flattened as a K + class: W' row by row, then the intercepts (the
    reference's, class 0, fixed at 0 and left out)."""
    import numpy as np

    first = 0 if symmetric else 1
    w = [j * k + c for j in range(d) for c in range(first, k)]
    b = [d * k + c for c in range(1, k)] if fit_intercept else []
    return np.asarray(w + b, np.int32)


def raw_vector(objective: MultinomialObjective, theta: Array) -> Array:
    """The raw parameters class by class, intercept first within a class:
    [b_1, w_11..w_d1, b_2, ...] (statsmodels' ``MNLogit`` order; the reference's
    column too in symmetric mode). Linear in theta."""
    raw = objective.raw_params(theta)
    return jnp.concatenate([raw.b[None, :], raw.w], axis=0).T.ravel()


def class_log_probabilities(w: Any, b: Any, xt: Any, symmetric: bool = False) -> Any:
    """log p (n, K) for features ``xt`` (d, n) (NumPy, float64): log-softmax of
    [0, x W + b] (or of x W + b when ``symmetric``)."""
    import numpy as np

    z = np.asarray(xt, np.float64).T @ np.asarray(w, np.float64) + np.asarray(
        b, np.float64
    )
    if not symmetric:
        z = np.concatenate([np.zeros((z.shape[0], 1)), z], axis=1)
    top = z.max(axis=1, keepdims=True)
    return z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))
