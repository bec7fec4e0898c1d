"""S3, S7, S13: MSE on the sigmoid is non-convex, log-loss is convex, and MSE's gradient
vanishes when confidently wrong.

S3 and S7 read the Hessian X~^T diag(c l''(z)) X~ / n of the mean loss: its smallest
eigenvalue is < 0 somewhere for MSE and >= 0 everywhere for log-loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.experiments import figures as fg
from jaxlogloss.experiments.claims.evidence import figure, run_of, xy
from jaxlogloss.experiments.claims.registry import claim
from jaxlogloss.experiments.schema import ConfigError
from jaxlogloss.experiments.types import ClaimResult, Context
from jaxlogloss.fitting.sweeps import sweep
from jaxlogloss.model.closed_form import hessian_unchecked
from jaxlogloss.model.objective import objective
from jaxlogloss.model.params import LinearParams

Array = jax.Array


def _one_feature(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    X, y = xy(ctx)
    if X.shape[1] != 1:
        raise ConfigError(
            f"{ctx.config.source}: this claim draws (w, b) landscapes: it needs data.d = 1"
        )
    return X, y


def _losses_on_grid(
    X: np.ndarray, y: np.ndarray, loss: str, W: np.ndarray, B: np.ndarray
) -> np.ndarray:
    Xj, yj = jnp.asarray(X), jnp.asarray(y)

    def f(w: Array, b: Array) -> Array:
        return objective(LinearParams(w[None], b), Xj, yj, None, 0.0, loss)

    return np.asarray(jax.jit(jax.vmap(jax.vmap(f)))(jnp.asarray(W), jnp.asarray(B)))


def _hessian_eigs(
    X: np.ndarray, y: np.ndarray, loss: str, W: np.ndarray, B: np.ndarray
) -> np.ndarray:
    Xj, yj = jnp.asarray(X), jnp.asarray(y)

    def lo(w: Array, b: Array) -> Array:
        return jnp.linalg.eigvalsh(
            hessian_unchecked(LinearParams(w[None], b), Xj, yj, None, 0.0, loss)
        )[0]

    return np.asarray(jax.jit(jax.vmap(lo))(jnp.asarray(W), jnp.asarray(B)))


@claim("S3")
def s3_mse_nonconvex(ctx: Context) -> ClaimResult:
    X, y = _one_feature(ctx)
    cfg = ctx.config
    span = 8.0
    ws = np.linspace(-span, span, cfg.figures.grid)
    W, B = np.meshgrid(ws, ws)
    eig = _hessian_eigs(X, y, "mse", W.ravel(), B.ravel())
    i = int(np.argmin(eig))
    w_star, b_star, lam = float(W.ravel()[i]), float(B.ravel()[i]), float(eig[i])
    # the witness, confirmed with jax.hessian
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    theta = jnp.asarray([w_star, b_star])
    h_auto = jax.hessian(
        lambda t: objective(LinearParams(t[:1], t[1]), Xj, yj, None, 0.0, "mse")
    )(theta)
    lam_auto = float(jnp.linalg.eigvalsh(h_auto)[0])
    # many initial points trained in one vmapped call, for each loss
    k = max(cfg.sweep.inits, 4)
    rng = np.random.default_rng(cfg.sweep.seed)
    inits = LinearParams(
        (cfg.sweep.init_scale * rng.standard_normal((k, 1))).astype(X.dtype),
        (cfg.sweep.init_scale * rng.standard_normal(k)).astype(X.dtype),
    )
    spreads, finals = {}, {}
    for loss in ["mse", "log_loss"]:
        res = sweep(
            X, y, loss=loss, solver="sgd", learning_rates=[cfg.sweep.learning_rate],
            inits=inits, steps=cfg.sweep.steps, standardize=False,
            chunk_size=min(cfg.sweep.steps, 100),
        )  # fmt: skip
        finals[loss] = res.final_loss
        spreads[loss] = float(np.ptp(res.final_loss))
    passed = lam < 0 and lam_auto < 0 and spreads["mse"] > 10 * spreads["log_loss"]
    r = ClaimResult(
        "S3",
        "MSE composed with the sigmoid is non-convex; gradient descent can stall or land in different places",
        f"S3 MSE Hessian min eigenvalue {lam:.4g} < 0 at (w, b) = ({w_star:.2f}, {b_star:.2f}) "
        f"(jax.hessian: {lam_auto:.4g}); spread of final losses over {k} vmapped inits: "
        f"MSE {spreads['mse']:.3g} vs log-loss {spreads['log_loss']:.3g}",
        bool(passed),
        {"witness": {"w": w_star, "b": b_star, "min_eigenvalue": lam, "autodiff_min_eigenvalue": lam_auto},
         "inits": k, "spread_mse": spreads["mse"], "spread_log_loss": spreads["log_loss"],
         "share_of_points_with_negative_curvature": float(np.mean(eig < 0))},
    )  # fmt: skip
    with figure(
        ctx,
        r,
        "s3_landscapes",
        "Loss surfaces over (w, b) for a one-feature problem; the star marks negative curvature of MSE.",
        ncols=2,
    ) as axes:
        for ax, loss, title in [
            (axes[0], "mse", "MSE on the sigmoid"),
            (axes[1], "log_loss", "log-loss"),
        ]:
            L = _losses_on_grid(X, y, loss, W, B)
            cs = ax.contourf(W, B, L, levels=30, cmap="viridis")
            fg.plt.colorbar(cs, ax=ax, label="mean loss")
            fg.label(ax, "weight w", "intercept b", f"{title}: loss surface")
        axes[0].plot([w_star], [b_star], "r*", ms=12, label=f"witness λmin={lam:.3g}")
        axes[0].legend(fontsize=8, loc="lower right")
    with figure(
        ctx,
        r,
        "s3_slices_and_inits",
        "A 1-D slice of both losses, and the final losses of many vmapped runs.",
        ncols=2,
    ) as axes:
        b0 = float(run_of(ctx, "log_loss").params.b)
        line = np.linspace(-3 * span, 3 * span, 400)
        for loss, color in [("mse", fg.BLUE), ("log_loss", fg.RED)]:
            vals = _losses_on_grid(X, y, loss, line[None, :], np.full((1, 400), b0))[0]
            axes[0].plot(
                line, vals / vals.max(), color=color, label=f"{loss} (scaled to max 1)"
            )
        fg.label(axes[0], f"weight w (intercept fixed at {b0:.2f})",
                 "loss / its maximum on the slice",
                 "1-D slice: MSE flattens out, log-loss keeps rising", legend=8)  # fmt: skip
        both = np.concatenate([finals["mse"], finals["log_loss"]])
        bins = np.linspace(both.min(), both.max() + 1e-6, 40)  # shared: comparable bars
        for loss, color in [("mse", fg.BLUE), ("log_loss", fg.RED)]:
            axes[1].hist(
                finals[loss],
                bins=bins,
                color=color,
                alpha=0.6,
                label=f"{loss}: spread {spreads[loss]:.2g}",
            )
        fg.label(axes[1], "final training loss", f"number of runs (of {k})",
                 "Final losses from many initial points", legend=8)  # fmt: skip
    return r


@claim("S7")
def s7_log_loss_convex(ctx: Context) -> ClaimResult:
    X, y = xy(ctx)
    cfg = ctx.config
    d = X.shape[1]
    n_points = 512
    rng = np.random.default_rng(cfg.sweep.seed + 1)
    scales = np.logspace(-1, 1, n_points)[:, None]
    W = rng.standard_normal((n_points, d)) * scales
    B = rng.standard_normal(n_points) * scales[:, 0]
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    eig = np.asarray(
        jax.jit(jax.vmap(lambda w, b: jnp.linalg.eigvalsh(hessian_unchecked(LinearParams(w, b), Xj, yj, None, 0.0, "log_loss"))))(
            jnp.asarray(W), jnp.asarray(B)
        )
    )  # fmt: skip
    lo, hi = float(eig[:, 0].min()), float(eig[:, -1].max())
    tol = 100 * float(np.finfo(X.dtype).eps) * max(1.0, hi)
    k = max(cfg.sweep.inits, 4)
    inits = LinearParams(
        (cfg.sweep.init_scale * rng.standard_normal((k, d))).astype(X.dtype),
        (cfg.sweep.init_scale * rng.standard_normal(k)).astype(X.dtype),
    )
    res = sweep(X, y, loss="log_loss", solver="lbfgs", inits=inits, steps=200)
    spread = float(np.ptp(res.final_loss))
    param_spread = float(np.max(np.ptp(np.asarray(res.params.w), axis=0)))
    passed = lo >= -tol and spread < 1e-6 * max(1.0, float(np.max(res.final_loss)))
    r = ClaimResult(
        "S7",
        "Log-loss is convex in the parameters of a linear logit model",
        f"S7 smallest eigenvalue of X~^T diag(p(1-p)) X~ / n over {n_points} random points = "
        f"{lo:.3g} >= -{tol:.1e}; {k} L-BFGS runs from random inits end within "
        f"{spread:.2g} in loss ({param_spread:.2g} in w)",
        bool(passed),
        {"min_eigenvalue": lo, "max_eigenvalue": hi, "tolerance": tol, "points": n_points,
         "inits": k, "final_loss_spread": spread, "weight_spread": param_spread},
    )  # fmt: skip
    with figure(
        ctx,
        r,
        "s7_certificate",
        "Smallest Hessian eigenvalue of the log-loss at random parameter points.",
    ) as ax:
        ax.scatter(
            np.linalg.norm(np.c_[W, B], axis=1), eig[:, 0], s=6, color=fg.RED, alpha=0.6
        )
        ax.axhline(0, color=fg.BLACK, lw=0.8)
        ax.set_xscale("log")
        fg.label(ax, "‖(w, b)‖ of the sampled point", "smallest Hessian eigenvalue",
                 "S7: the log-loss Hessian is PSD everywhere sampled")  # fmt: skip
    return r


@claim("S13")
def s13_vanishing_mse_gradient(ctx: Context) -> ClaimResult:
    p = np.logspace(-6, np.log10(0.999), 400)  # y = 1: small p is confidently wrong
    z = jnp.log(p) - jnp.log1p(-p)

    def per_example(loss: str) -> np.ndarray:
        f = lambda z: objective(  # noqa: E731
            LinearParams(jnp.ones((1,)), jnp.zeros(())),
            z[None, None],
            jnp.ones((1,)),
            None,
            0.0,
            loss,
        )
        return np.abs(np.asarray(jax.vmap(jax.grad(f))(z)))

    g_log, g_mse = per_example("log_loss"), per_example("mse")
    at = int(np.argmin(np.abs(p - 0.01)))
    ratio = float(g_mse[at] / g_log[at])
    # the closed forms: 1 - p and 2 (1 - p) p (1 - p)
    err = float(
        max(
            np.max(np.abs(g_log - (1 - p))),
            np.max(np.abs(g_mse - 2 * (1 - p) ** 2 * p)),
        )
    )
    r = ClaimResult(
        "S13",
        "With MSE, confidently wrong predictions give tiny gradients, so learning stalls",
        f"S13 at p = 0.01 for y = 1: |dMSE/dz| = {g_mse[at]:.3g} vs |dlog-loss/dz| = "
        f"{g_log[at]:.3g} (ratio {ratio:.3g} < 0.05); jax.grad vs closed forms max error {err:.1e}",
        ratio < 0.05 and err < 1e-5,
        {"p": 0.01, "grad_mse": float(g_mse[at]), "grad_log_loss": float(g_log[at]), "ratio": ratio,
         "max_error_vs_closed_form": err},
    )  # fmt: skip
    with figure(
        ctx,
        r,
        "s13_gradients",
        "Gradient magnitude vs predicted probability for both losses.",
    ) as ax:
        ax.plot(p, g_log, color=fg.RED, label="log-loss: |∂l/∂z| = 1 − p")
        ax.plot(p, g_mse, color=fg.BLUE, label="MSE on σ: |∂l/∂z| = 2(1 − p)²p")
        ax.set_xscale("log")
        fg.label(ax, "predicted probability p of the true class (y = 1)",
                 "gradient magnitude w.r.t. the logit",
                 "S13: MSE's gradient vanishes when confidently wrong", legend=8)  # fmt: skip
    return r
