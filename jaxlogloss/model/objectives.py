"""The objective that solvers consume, held in memory (one device or sharded rows).

Solvers see a function of one flat vector theta = [w'.ravel(), b'] of parameters on
*standardised* features (:mod:`jaxlogloss.model.scaling`):

    f(theta) = sum_i c_i l(y_i, z_i) / sum_i c_i + P(w; alpha),
    z = X w + b,   (w, b) = to_raw(theta)

with ``l`` from the loss registry, ``c`` the sample weights and ``P`` from the penalty
registry. Every objective kind (this one; the streamed one in
:mod:`jaxlogloss.model.streamed`) offers the same three things:

* ``evaluate(theta, order)`` -> :class:`Evaluation`: the value, and with ``order`` >= 1
  the gradient, with ``order`` 2 the Hessian, plus the separation certificate;
* ``hessian(theta, aux)``: the Hessian alone (``aux``: what an evaluation kept, e.g. the
  logits, so no pass is repeated);
* ``while_loop(cond, body, state)``: how a solver's loop runs over it -- compiled
  (``lax.while_loop``) here, on the host for a stream;

and ``derivatives_with_value``: True when a value costs a pass over the data anyway, so
solvers ask for every derivative at each trial point (the streamed kind).

The in-memory objective is a pytree (``problem`` and ``scaling`` are leaves), so solvers
on it run under ``jit`` and ``vmap`` (sweeps vmap over the penalty and the scaling).
For binary losses on a row-major X, ``evaluate`` makes one pass over X for the value,
the gradient and the logits (``fused_value_and_grad``:
:func:`~jaxlogloss.data.design.blocked_value_grad`, a block of rows at a time), where
``jax.value_and_grad`` reads X twice; on a :class:`FeatureMajor` X, where autodiff's two
passes measured faster, and for multiclass losses it uses autodiff.
With ``mesh`` (rows sharded over its "data" axis) that pass and the Hessian's Gram sums
run under ``shard_map``, and XLA inserts the all-reduces of the autodiff paths.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlogloss.data.design import MAX_BLOCK_ROWS, FeatureMajor, blocked_value_grad
from jaxlogloss.data.gram import centered_gram, centered_gram_and_moment
from jaxlogloss.losses.pointwise import reduce_loss
from jaxlogloss.losses.registry import get_loss
from jaxlogloss.model.objective import Problem
from jaxlogloss.model.params import LinearParams, linear_logits
from jaxlogloss.model.penalties import get_penalty
from jaxlogloss.model.scaling import Scaling, to_raw

Array = jax.Array

BLOCK_ROWS = MAX_BLOCK_ROWS  # rows a block of an in-memory pass, at most


class Evaluation(NamedTuple):
    """What one evaluation of an objective gives (None: not asked for).

    Attributes:
      value: f(theta).
      grad: df/dtheta, flat, or None.
      hessian: d2f/dtheta2, (p, p), or None.
      separated: True when the rows of positive weight are all classified right with a
        positive margin and nothing is penalised: a certificate that f has no
        minimiser (complete separation).
      aux: what the objective keeps to avoid a second pass (the logits here), or None.
    """

    value: Array
    grad: Array | None
    hessian: Array | None
    separated: Array
    aux: Any = None


def margins(z: Array, targets: Array) -> Array:
    """Signed margin of each example: (2y - 1) z, or z_true - max_other z for softmax."""
    if z.ndim == 1:
        return (2 * targets - 1) * z
    true = jnp.sum(targets * z, axis=-1)
    other = jnp.max(jnp.where(targets > 0, -jnp.inf, z), axis=-1)
    return true - other


def least_margin(z: Array, targets: Array, sample_weight: Array | None) -> Array:
    """The least signed margin over the examples of positive weight."""
    m = margins(z, targets)
    if sample_weight is not None:
        m = jnp.where(sample_weight > 0, m, jnp.inf)
    return jnp.min(m)


def unravel(theta: Array, d: int, n_classes: int | None) -> LinearParams:
    """theta = [w.ravel(), b] -> LinearParams (w (d,) or (d, K))."""
    if n_classes is None:
        return LinearParams(theta[:d], theta[d])
    dk = d * n_classes
    return LinearParams(theta[:dk].reshape(d, n_classes), theta[dk:])


def ravel(params: LinearParams) -> Array:
    """LinearParams -> theta = [w.ravel(), b.ravel()]."""
    return jnp.concatenate([jnp.ravel(params.w), jnp.ravel(params.b)])


def penalty_hessian(
    theta: Array, penalty: str, alpha: Any, scaling: Scaling, d: int, k: int | None
) -> Array:
    """The Hessian of P(w(theta); alpha) over theta (p x p): with w = theta_w / s, a
    separable penalty's is diag(P''(w) / s^2) and 0 for the intercepts
    (``Penalty.curvature``), any other's autodiff."""
    record = get_penalty(penalty)

    def raw_w(t: Array) -> Array:
        return to_raw(unravel(t, d, k), scaling).w

    if record.curvature is None:
        return jax.hessian(lambda t: record.value(raw_w(t), alpha))(theta)
    w = raw_w(theta)
    scale = scaling.scale if w.ndim == 1 else scaling.scale[:, None]
    diag = jnp.ravel(record.curvature(w, alpha) / jnp.square(scale))
    diag = jnp.concatenate(
        [diag, jnp.zeros(theta.shape[0] - diag.shape[0], diag.dtype)]
    )
    return jnp.diag(diag.astype(theta.dtype))


def curvature_sums(
    X: Any,
    targets: Array,
    c: Array,
    scaling: Scaling,
    z: Array,
    curvature: Any,
    block_size: int = 8192,
    mesh: Any = None,
) -> Array:
    """sum_i c_i l''(z_i) x~_i x~_i^T over [w', b'] (x~ standardised, with a 1 for b'):
    the Hessian of the summed loss (binary losses). Sums over row blocks (or batches
    of a stream) add up."""
    h = c * curvature(targets, z)
    return bordered(*centered_gram(X, h, scaling.mean, scaling.scale, block_size, mesh))


def bordered(gram: Array, sums: Array, total: Array) -> Array:
    """[[gram, sums], [sums^T, total]]: the sums over [w', b'] (b' the last)."""
    top = jnp.concatenate([gram, sums[:, None]], axis=1)
    bottom = jnp.concatenate([sums, total[None]])[None, :]
    return jnp.concatenate([top, bottom], axis=0)


def _static(**kw: Any) -> Any:
    return dataclasses.field(metadata={"static": True}, **kw)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class InMemoryObjective:
    """f(theta) on arrays in memory (see the module docstring).

    ``problem.l2`` is the penalty strength alpha (a scalar, or one per run under vmap).
    """

    problem: Problem
    scaling: Scaling
    loss: str = _static(default="log_loss")
    penalty: str = _static(default="l2")
    mesh: Any = _static(default=None)
    block_size: int = _static(default=BLOCK_ROWS)

    derivatives_with_value = False

    @property
    def n_features(self) -> int:
        return int(self.problem.X.shape[1])

    @property
    def n_classes(self) -> int | None:
        t = self.problem.targets
        return int(t.shape[1]) if t.ndim == 2 else None

    @property
    def dtype(self) -> Any:
        return self.problem.targets.dtype

    def params_std(self, theta: Array) -> LinearParams:
        return unravel(theta, self.n_features, self.n_classes)

    def unpenalised(self) -> InMemoryObjective:
        """The same objective with no penalty: the smooth part a proximal solver adds
        its own (possibly non-smooth) penalty to."""
        zero = jnp.zeros_like(jnp.asarray(self.problem.l2, self.dtype))
        problem = self.problem._replace(l2=zero)
        return dataclasses.replace(self, problem=problem, penalty="none")

    def raw_params(self, theta: Array) -> LinearParams:
        """The parameters on the user's features."""
        return to_raw(self.params_std(theta), self.scaling)

    def total_weight(self) -> Array:
        sw = self.problem.sample_weight
        return self.problem.targets.shape[0] if sw is None else jnp.sum(sw)

    def weights(self) -> Array:
        """The sample weights c (ones where the problem has none)."""
        p = self.problem
        return jnp.ones_like(p.targets) if p.sample_weight is None else p.sample_weight

    def _value_and_logits(self, theta: Array) -> tuple[Array, Array]:
        raw = self.raw_params(theta)
        z = linear_logits(raw, self.problem.X)
        per_example = get_loss(self.loss).value(self.problem.targets, z)
        value = reduce_loss(per_example, self.problem.sample_weight)
        pen = get_penalty(self.penalty).value(raw.w, self.problem.l2)
        return value + pen, z

    def _separated(self, z: Array) -> Array:
        p = self.problem
        return (p.l2 == 0) & (least_margin(z, p.targets, p.sample_weight) > 0)

    def value(self, theta: Array) -> Array:
        return self._value_and_logits(theta)[0]

    def fused_value_and_grad(self, theta: Array) -> tuple[Array, Array, Array]:
        """f, df/dtheta and the logits from one pass over X (binary losses): the
        summed loss and its gradient over the raw (w, b) come from
        :func:`~jaxlogloss.data.design.blocked_value_grad`; the map to theta and the
        penalty are small (d-sized) and go through autodiff."""
        s, gw, gb, z = self.pass_part(theta)
        return (*self.value_and_grad_from_sums(theta, s, gw, gb), z)

    def pass_part(
        self, theta: Array, blocks: tuple[Any, int] | None = None
    ) -> tuple[Array, Array, Array, Array]:
        """The raw sums and logits (:func:`~jaxlogloss.data.design.blocked_value_grad`)
        of :meth:`fused_value_and_grad`'s pass, or with ``blocks`` = (first, count) of
        blocks first .. first + count - 1 only (z zero outside their rows): parts of
        one pass, which add up to it."""
        p, loss = self.problem, get_loss(self.loss)
        raw = self.raw_params(theta)
        return blocked_value_grad(
            p.X, p.targets, p.sample_weight, raw.w, raw.b, loss.value, loss.grad,
            self.block_size, self.mesh, blocks,
        )  # fmt: skip

    def separated(self, z: Array) -> Array:
        """The separation certificate at the logits z (no L2 penalty, every example
        of positive weight on its side of the boundary)."""
        return self._separated(z)

    def uses_blocked_pass(self, theta: Array) -> bool:
        """Whether :meth:`evaluate` makes :meth:`fused_value_and_grad`'s one blocked
        pass (a binary loss; :meth:`_blocked_pass`'s layouts)."""
        return self.n_classes is None and self._blocked_pass(theta)

    def value_and_grad_from_sums(
        self, theta: Array, loss_sum: Array, grad_w: Array, grad_b: Array
    ) -> tuple[Array, Array]:
        """f and df/dtheta at theta from a pass's sums over the raw (w, b) at theta:
        sum_i c_i l_i, sum_i c_i l'_i x_i and sum_i c_i l'_i. The map to theta and
        the penalty are small (d-sized) and go through autodiff."""
        p = self.problem
        raw, back = jax.vjp(lambda t: self.raw_params(t), theta)
        pen, pen_grad = jax.value_and_grad(get_penalty(self.penalty).value)(raw.w, p.l2)
        total = self.total_weight()
        (g,) = back(LinearParams(grad_w / total + pen_grad, grad_b / total))
        return loss_sum / total + pen, g

    def _blocked_pass(self, theta: Array) -> bool:
        """Whether the value and gradient take :meth:`fused_value_and_grad`'s one
        blocked pass: on a row-major X (2-4x faster than autodiff's X^T r there), and
        on a feature-major X stored narrower than theta (float32 held, float64
        computed: autodiff's two passes widened all of X into a temporary copy, 2x X's
        bytes, where each block is widened in cache here). The logits are kept for
        Newton. A feature-major X in theta's dtype keeps autodiff's two passes, which
        measured faster there (benchmarks/NOTES.md, issue 11)."""
        X = self.problem.X
        return not isinstance(X, FeatureMajor) or X.xt.dtype != theta.dtype

    def evaluate(self, theta: Array, order: int = 1) -> Evaluation:
        if order == 0:
            f, z = self._value_and_logits(theta)
            return Evaluation(f, None, None, self._separated(z), z)
        if self.uses_blocked_pass(theta):
            f, g, z = self.fused_value_and_grad(theta)
        else:
            (f, z), g = jax.value_and_grad(self._value_and_logits, has_aux=True)(theta)
        h = self.hessian(theta, z) if order >= 2 else None
        return Evaluation(f, g, h, self._separated(z), z)

    def logits(self, theta: Array) -> Array:
        """z = X w + b at theta (raw parameters)."""
        return linear_logits(self.raw_params(theta), self.problem.X)

    def hessian(self, theta: Array, aux: Any = None) -> Array:
        """The exact Hessian over theta: X~^T diag(c l'') X~ / sum c + the penalty's
        (binary losses: a blocked, centred Gram with no copy of X; multiclass: autodiff)."""
        if self.n_classes is not None:
            return jax.hessian(self.value)(theta)
        return self.hessian_and_moment(theta, aux)[0]

    def hessian_and_moment(
        self, theta: Array, aux: Any = None, u: Array | None = None,
        float32_products: Array | None = None,
    ) -> tuple[Array, Array | None]:  # fmt: skip
        """:meth:`hessian` (binary losses) and X^T u over the raw X (None without u)
        from the same pass over X (:func:`~jaxlogloss.data.gram.centered_gram_and_moment`;
        ``float32_products``, with u: a traced flag for its float32 block products,
        a solver's model only)."""
        p, s = self.problem, self.scaling
        z = linear_logits(self.raw_params(theta), p.X) if aux is None else aux
        c, curvature = self.weights(), get_loss(self.loss).curvature
        blocks = (self.block_size, self.mesh)
        if u is None:
            summed = curvature_sums(p.X, p.targets, c, s, z, curvature, *blocks)
            xtu = None
        else:
            *sums, xtu = centered_gram_and_moment(
                p.X, c * curvature(p.targets, z), u, s.mean, s.scale, *blocks,
                float32_products=float32_products,
            )  # fmt: skip
            summed = bordered(*sums)
        pen = penalty_hessian(theta, self.penalty, p.l2, s, self.n_features, None)
        return summed / jnp.sum(c) + pen, xtu

    @staticmethod
    def while_loop(cond: Any, body: Any, state: Any) -> Any:
        return jax.lax.while_loop(cond, body, state)

    def margin_range(self, direction: Array) -> tuple[float, float]:
        """Least and greatest (2y - 1) x~'_i . v over the weighted rows, v over theta."""
        low, high = _signed_score_range(self, jnp.asarray(direction, self.dtype))
        return float(low), float(high)


def signed_score_range(
    params_std: LinearParams, problem: Problem, scaling: Scaling
) -> tuple[Array, Array]:
    """Least and greatest (2y - 1) (x~ . v) over rows of positive weight."""
    scores = linear_logits(to_raw(params_std, scaling), problem.X)
    signed = (2 * problem.targets - 1) * scores
    sw = problem.sample_weight
    used = jnp.ones_like(signed, bool) if sw is None else sw > 0
    return (
        jnp.min(jnp.where(used, signed, jnp.inf)),
        jnp.max(jnp.where(used, signed, -jnp.inf)),
    )


@jax.jit
def _signed_score_range(obj: InMemoryObjective, v: Array) -> tuple[Array, Array]:
    return signed_score_range(obj.params_std(v), obj.problem, obj.scaling)


def batch_objective(
    xt: Array, y: Array, c: Array, scaling: Scaling, alpha: Any, loss: str, penalty: str
) -> InMemoryObjective:
    """The objective of one (padded) batch of a stream, feature-major."""
    return InMemoryObjective(
        Problem(FeatureMajor(xt), y, c, alpha), scaling, loss, penalty
    )
