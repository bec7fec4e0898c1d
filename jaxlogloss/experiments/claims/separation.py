"""F1-F3: separable data -- maximum likelihood runs off, Firth and L2 stay finite
(``experiments/09_separation.toml``).

On linearly separable data the log-loss has no minimiser: along a separating direction
u, L(s u) decreases to 0 as s -> inf. Gradient descent on it therefore runs forever,
with ||w_t|| growing like log t (towards the max-margin direction; Soudry et al. 2018)
and the log-loss falling like 1/t. Firth's penalty 1/2 log det I(w) -> -inf as
||w|| -> inf, and an L2 penalty (alpha/2)||w||^2 -> inf, so both have finite
maximisers; the L2 one obeys (alpha/2)||w||^2 <= L(0, b*) <= log 2, i.e.
||w|| <= sqrt(2 log 2 / alpha), whatever the data.

The settings are ``[separation]``: ``margins`` (F3's data sets, made with
:func:`jaxlogloss.data.datasets.separable` at the config's n, d and seed), ``steps`` and
``learning_rate`` (the gradient-descent run, on standardised features), ``l2`` (the L2
fits' alpha). F1 and F2 use the config's data (``source = "separable"``, ``margin``).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxlogloss.experiments.claims.evidence import figure, table, xy
from jaxlogloss.experiments.claims.registry import claim
from jaxlogloss.experiments.schema import ConfigError
from jaxlogloss.experiments.types import ClaimResult, Context
from jaxlogloss.model.objective import objective
from jaxlogloss.model.params import LinearParams
from jaxlogloss.model.scaling import feature_scaling, to_raw

# the budgets at which F1 reads the gradient-descent run: 10, 100, ..., steps
FIRST_BUDGET = 10


def _needs_separable(ctx: Context, claim_id: str) -> None:
    if ctx.config.data.source != "separable":
        raise ConfigError(
            f"{ctx.config.source}: claim {claim_id} needs data.source = 'separable', "
            f"got {ctx.config.data.source!r}"
        )


@functools.partial(jax.jit, static_argnames="steps")
def _descent(X: jax.Array, y: jax.Array, steps: int, lr: float) -> tuple:
    """Full-batch gradient descent on the unpenalised mean log-loss from 0, on
    standardised features: ||w_t|| (raw features) and L(w_t) after every step."""
    scaling = feature_scaling(X)
    d = X.shape[1]

    def loss(theta: jax.Array) -> jax.Array:
        return objective(to_raw(LinearParams(theta[:d], theta[d]), scaling), X, y)

    grad = jax.grad(loss)

    def step(theta: jax.Array, _: None) -> tuple:
        theta = theta - lr * grad(theta)
        w = to_raw(LinearParams(theta[:d], theta[d]), scaling).w
        return theta, (jnp.linalg.norm(w), loss(theta))

    _, (norms, losses) = lax.scan(step, jnp.zeros(d + 1, X.dtype), None, length=steps)
    return norms, losses


def _budgets(steps: int) -> np.ndarray:
    """10, 100, ... up to ``steps`` (and ``steps`` itself)."""
    k = np.unique(
        np.r_[FIRST_BUDGET ** np.arange(1, int(math.log10(steps)) + 1), steps]
    )
    return k[k <= steps].astype(int)


def _penalised_fits(X: np.ndarray, y: np.ndarray, l2: float) -> tuple:
    from jaxlogloss.fitting.fit import fit

    return fit(X, y, method="firth"), fit(X, y, l2=l2)


def _l2_bound(alpha: float) -> float:
    """sqrt(2 log 2 / alpha): no L2 fit's ||w|| exceeds it (module docstring)."""
    return math.sqrt(2 * math.log(2) / alpha)


@claim("F1")
def f1_ml_runs_off(ctx: Context) -> ClaimResult:
    _needs_separable(ctx, "F1")
    sep = ctx.config.separation
    X, y = xy(ctx)
    norms, losses = (
        np.asarray(a) for a in _descent(X, y, sep.steps, sep.learning_rate)
    )
    k = _budgets(sep.steps)
    at_norm, at_loss = norms[k - 1], losses[k - 1]
    gains = np.diff(at_norm)  # growth of ||w|| per decade of steps
    from jaxlogloss.fitting.fit import fit

    newton = fit(X, y)
    passed = (
        bool(np.all(gains > 0)) and bool(np.all(np.diff(at_loss) < 0))
        and at_loss[-1] < at_loss[0] / 100 and bool(gains[-1] >= 0.5 * gains[0])
        and newton.status == "separation"
        and any("--firth" in w for w in newton.warnings)
    )  # fmt: skip
    r = ClaimResult(
        "F1",
        "On separable data maximum likelihood has no answer: gradient descent's ||w|| "
        "keeps growing (by no less per decade of steps than in the first: without "
        "bound, like log t) while the log-loss falls to 0; Newton's fit stops with a "
        "separation certificate and suggests --firth or --l2",
        f"F1 after {', '.join(map(str, k))} steps ||w|| = "
        f"{', '.join(f'{v:.2f}' for v in at_norm)} (gains per decade "
        f"{', '.join(f'{v:.2f}' for v in gains)}, all > 0, the last >= half the "
        f"first); log-loss {', '.join(f'{v:.2e}' for v in at_loss)} (falling, the "
        f"last < 1/100 of the first); fit(): status {newton.status!r}",
        bool(passed),
        {
            "budgets": k.tolist(),
            "norm_w": at_norm.tolist(),
            "log_loss": at_loss.tolist(),
            "newton_status": newton.status,
            "newton_warning": list(newton.warnings),
        },
    )
    steps = np.arange(1, sep.steps + 1)
    caption = (
        "Gradient descent on separable data: ||w|| and the log-loss against steps."
    )
    with figure(ctx, r, "f1_ml_runs_off", caption, ncols=2, width=4.2) as axes:
        axes[0].semilogx(steps, norms, color="#1f5fa8")
        axes[0].set(xlabel="step", ylabel="||w||", title="||w|| grows like log t")
        axes[1].loglog(steps, losses, color="#c0392b")
        axes[1].set(xlabel="step", ylabel="log-loss", title="log-loss -> 0")
    return r


@claim("F2")
def f2_firth_and_l2_finite(ctx: Context) -> ClaimResult:
    _needs_separable(ctx, "F2")
    sep = ctx.config.separation
    X, y = xy(ctx)
    firth, ridge = _penalised_fits(X, y, sep.l2)
    norms, _ = _descent(X, y, sep.steps, sep.learning_rate)
    ml_norm = float(norms[-1])
    nf, nr = float(np.linalg.norm(firth.coef)), float(np.linalg.norm(ridge.coef))
    se = firth.inference.std_err
    bound = _l2_bound(sep.l2)
    passed = (
        firth.status == "converged" and ridge.status == "converged"
        and bool(np.all(np.isfinite(se))) and nf < ml_norm and nr < ml_norm
        and nr <= bound
    )  # fmt: skip
    r = ClaimResult(
        "F2",
        "On the same data Firth's penalised likelihood and an L2 penalty have finite "
        "optima: both converge (score 0 to tol), Firth with finite standard errors, "
        "the L2 fit within its bound sqrt(2 log 2 / alpha)",
        f"F2 Firth: {firth.status} in {firth.n_iter} iterations, ||w|| = {nf:.3f}, "
        f"std err {', '.join(f'{v:.3f}' for v in se)}; L2 (alpha {sep.l2:g}): "
        f"{ridge.status}, ||w|| = {nr:.3f} <= {bound:.3f}; both below the ML run's "
        f"||w|| = {ml_norm:.2f} after {sep.steps} steps (still growing)",
        bool(passed),
        {
            "firth_norm_w": nf,
            "firth_std_err": se.tolist(),
            "firth_status": firth.status,
            "l2_norm_w": nr,
            "l2_status": ridge.status,
            "l2_bound": bound,
            "ml_norm_w": ml_norm,
        },
    )
    names = firth.inference.names
    rows = [
        [n, f"{firth.inference.coef[i]:.4f}", f"{se[i]:.4f}",
         f"{ridge.inference.coef[i]:.4f}"]
        for i, n in enumerate(names)
    ]  # fmt: skip
    r.tables.append(table(["", "Firth coef", "Firth std err", "L2 coef"], rows))
    return r


@claim("F3")
def f3_shrinking_margin(ctx: Context) -> ClaimResult:
    from jaxlogloss.data.datasets import separable

    _needs_separable(ctx, "F3")
    config = ctx.config
    sep, data = config.separation, config.data
    margins = sorted(sep.margins, reverse=True)
    sets = [separable(data.n, data.d, margin=m, seed=data.seed, dtype="float64")
            for m in margins]  # fmt: skip
    Xs = jnp.stack([jnp.asarray(s.X, jnp.float64) for s in sets])
    ys = jnp.stack([jnp.asarray(s.y, jnp.float64) for s in sets])
    descent = jax.vmap(_descent, in_axes=(0, 0, None, None))
    norms, losses = descent(Xs, ys, sep.steps, sep.learning_rate)
    ml_norm, ml_loss = np.asarray(norms[:, -1]), np.asarray(losses[:, -1])
    firth_norm, firth_se, ridge_norm, ok = [], [], [], True
    for s in sets:
        firth, ridge = _penalised_fits(np.asarray(s.X), np.asarray(s.y), sep.l2)
        firth_norm.append(float(np.linalg.norm(firth.coef)))
        firth_se.append(float(np.max(firth.inference.std_err)))
        ridge_norm.append(float(np.linalg.norm(ridge.coef)))
        ok &= firth.status == "converged" and ridge.status == "converged"
        ok &= bool(np.all(np.isfinite(firth.inference.std_err)))
    bound = _l2_bound(sep.l2)
    passed = (
        ok and bool(np.all(np.diff(ml_norm) > 0))
        and bool(np.all(np.asarray(firth_norm) < ml_norm))
        and max(ridge_norm) <= bound
    )  # fmt: skip
    fmt = ", ".join

    r = ClaimResult(
        "F3",
        "As the separation margin shrinks, maximum likelihood runs off faster (a "
        "larger ||w|| after the same steps), Firth's estimate stays finite (steeper, "
        "with larger standard errors) and below it, and L2 stays within its bound",
        f"F3 margins {fmt(f'{m:g}' for m in margins)}: ML ||w|| after {sep.steps} "
        f"steps {fmt(f'{v:.2f}' for v in ml_norm)} (rising); Firth ||w|| "
        f"{fmt(f'{v:.2f}' for v in firth_norm)} (all converged, largest std err "
        f"{fmt(f'{v:.2f}' for v in firth_se)}); L2 ||w|| "
        f"{fmt(f'{v:.2f}' for v in ridge_norm)} <= {bound:.2f}",
        bool(passed),
        {
            "margins": margins,
            "ml_norm_w": ml_norm.tolist(),
            "ml_log_loss": ml_loss.tolist(),
            "firth_norm_w": firth_norm,
            "firth_max_std_err": firth_se,
            "l2_norm_w": ridge_norm,
            "l2_bound": bound,
        },
    )
    caption = (
        "||w|| against the margin: ML after a fixed budget, Firth, L2 (bound dashed)."
    )
    with figure(ctx, r, "f3_margin", caption) as ax:
        ax.semilogx(margins, ml_norm, "o-", color="#c0392b",
                    label=f"ML, {sep.steps} GD steps")  # fmt: skip
        ax.semilogx(margins, firth_norm, "s-", color="#1f5fa8", label="Firth")
        ax.semilogx(margins, ridge_norm, "^-", color="#111111",
                    label=f"L2, alpha {sep.l2:g}")  # fmt: skip
        ax.axhline(bound, color="#888888", ls="--", lw=0.8)
        ax.invert_xaxis()
        ax.set(xlabel="margin", ylabel="||w||", title="as the margin shrinks")
        ax.legend(fontsize=7)
    return r
