"""The claims S1-S13 of the source texts, each as a numeric check with its evidence.

Every function takes the run's :class:`~jaxlogloss.experiment.Context` (config, data,
trained runs) and returns a :class:`~jaxlogloss.experiment.ClaimResult`: the claim, the
check as a sentence with its numbers ("S3 MSE Hessian min eigenvalue -0.031 < 0"), the
verdict, and figures/tables. :data:`CLAIMS` maps ids to functions; ``"compare"``
(the optimizer comparison) is added by the runner when several optimizers are named.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.experiments import figures as fg
from jaxlogloss.experiments.config import ConfigError
from jaxlogloss.experiments.runner import ClaimResult, Context
from jaxlogloss.fitting.fit import fit
from jaxlogloss.fitting.sweeps import sweep
from jaxlogloss.losses.pointwise import log_loss
from jaxlogloss.metrics import evaluate, reliability_curve
from jaxlogloss.model.closed_form import (
    flatten_params,
    gradient_unchecked,
    hessian_unchecked,
)
from jaxlogloss.model.objective import objective
from jaxlogloss.model.params import LinearParams, linear_logits
from jaxlogloss.model.verification import central_difference, compare
from jaxlogloss.precision import enable_x64

Array = jax.Array


def _xy(ctx: Context, part: str = "train") -> tuple[np.ndarray, np.ndarray]:
    data = ctx.train_data if part == "train" else (ctx.test_data or ctx.train_data)
    return np.asarray(data.X, np.float64), np.asarray(data.y, np.float64)


def _run(ctx: Context, loss: str) -> Any:
    for run in ctx.runs.values():
        if run.loss == loss:
            return run
    raise ConfigError(
        f"{ctx.config.source}: this claim needs a training run with loss {loss!r} in "
        "loss.names"
    )


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _figure(
    ctx: Context, result: ClaimResult, name: str, fig: Any, caption: str
) -> None:
    if ctx.figures_enabled:
        path = fg.save_figure(fig, ctx.figure_path(name), ctx.dpi)
        result.figures.append((f"figures/{path.name}", caption))
    else:
        fg.plt.close(fig)


# --- S1, S2: linear vs logistic; the sigmoid ------------------------------------------


def s1_linear_outside_unit_interval(ctx: Context) -> ClaimResult:
    X, y = _xy(ctx)
    lin, logi = _run(ctx, "squared_error"), _run(ctx, "log_loss")
    z_lin = X @ np.asarray(lin.params.w, np.float64) + float(lin.params.b)
    p_log = 1 / (
        1 + np.exp(-(X @ np.asarray(logi.params.w, np.float64) + float(logi.params.b)))
    )
    outside = float(np.mean((z_lin < 0) | (z_lin > 1)))
    # the same least-squares line, found independently
    A = np.c_[X, np.ones(len(y))]
    beta = np.linalg.lstsq(A, y, rcond=None)[0]
    agree = float(np.max(np.abs(A @ beta - z_lin)))
    r = ClaimResult(
        "S1",
        "Linear regression on 0/1 labels predicts values outside [0, 1]",
        f"S1 share of linear-regression predictions outside [0, 1] = {outside:.3f} > 0 "
        f"(logistic: {float(np.mean((p_log < 0) | (p_log > 1))):.3f})",
        outside > 0 and bool(np.all((p_log >= 0) & (p_log <= 1))),
        {"share_outside": outside, "min_linear": float(z_lin.min()), "max_linear": float(z_lin.max()),
         "max_abs_diff_vs_lstsq": agree},
    )  # fmt: skip
    if X.shape[1] == 1:
        fig, ax = fg.new_figure()
        x = X[:, 0]
        jitter = np.random.default_rng(0).uniform(-0.03, 0.03, len(y))
        ax.scatter(
            x,
            y + jitter,
            s=6,
            alpha=0.35,
            color=fg.GREY,
            label="data (label, jittered)",
        )
        grid = np.linspace(x.min() - 1, x.max() + 1, 300)
        ax.plot(
            grid,
            float(lin.params.w[0]) * grid + float(lin.params.b),
            color=fg.BLUE,
            label="linear regression",
        )
        zg = float(logi.params.w[0]) * grid + float(logi.params.b)
        ax.plot(grid, 1 / (1 + np.exp(-zg)), color=fg.RED, label="logistic regression")
        ax.axhspan(0, 1, color="green", alpha=0.06, label="[0, 1]")
        ax.set_xlabel("feature x (standard units)")
        ax.set_ylabel("prediction / label")
        ax.set_title("S1: a straight line leaves [0, 1]")
        ax.legend(fontsize=8, loc="upper left")
        _figure(
            ctx,
            r,
            "s1_linear_vs_logistic",
            fig,
            "Linear vs logistic regression on the same 0/1 labels.",
        )
    return r


def s2_sigmoid_range(ctx: Context) -> ClaimResult:
    z = np.r_[-np.logspace(30, -3, 400), 0.0, np.logspace(-3, 30, 400)]
    s = np.asarray(jax.nn.sigmoid(jnp.asarray(z, jnp.float32)), np.float64)
    inside = bool(np.all((s >= 0) & (s <= 1)))
    strict = np.abs(z) <= 15
    strictly = bool(np.all((s[strict] > 0) & (s[strict] < 1)))
    monotone = bool(np.all(np.diff(s) >= 0))
    r = ClaimResult(
        "S2",
        "The sigmoid maps any real z into (0, 1), usable as a probability",
        f"S2 sigmoid over z in [-1e30, 1e30]: min {s.min():.3g}, max {s.max():.3g}, in [0, 1]: "
        f"{inside}; strictly inside for |z| <= 15 (float32): {strictly}; monotone: {monotone}",
        inside and strictly and monotone,
        {"min": float(s.min()), "max": float(s.max()), "sigmoid(0)": float(s[400])},
    )
    fig, ax = fg.new_figure()
    zz = np.linspace(-10, 10, 400)
    ax.plot(
        zz, 1 / (1 + np.exp(-zz)), color=fg.BLUE, label=r"$\sigma(z) = 1/(1+e^{-z})$"
    )
    ax.axhline(0, color=fg.GREY, lw=0.8)
    ax.axhline(1, color=fg.GREY, lw=0.8)
    ax.axhline(0.5, color=fg.GREY, lw=0.8, ls="--", label="threshold 0.5")
    ax.set_xlabel("logit z = w·x + b")
    ax.set_ylabel("σ(z), a probability")
    ax.set_title("S2: the sigmoid squashes ℝ into (0, 1)")
    ax.legend(fontsize=8)
    _figure(ctx, r, "s2_sigmoid", fig, "The sigmoid function.")
    return r


# --- S3, S7, S13: convexity, landscapes, vanishing gradients ----------------------------


def _one_feature(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    X, y = _xy(ctx)
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
    fig, axes = fg.new_figure(ncols=2)
    for ax, loss, title in [
        (axes[0], "mse", "MSE on the sigmoid"),
        (axes[1], "log_loss", "log-loss"),
    ]:
        L = _losses_on_grid(X, y, loss, W, B)
        cs = ax.contourf(W, B, L, levels=30, cmap="viridis")
        fg.plt.colorbar(cs, ax=ax, label="mean loss")
        ax.set_xlabel("weight w")
        ax.set_ylabel("intercept b")
        ax.set_title(f"{title}: loss surface")
    axes[0].plot([w_star], [b_star], "r*", ms=12, label=f"witness λmin={lam:.3g}")
    axes[0].legend(fontsize=8, loc="lower right")
    _figure(
        ctx,
        r,
        "s3_landscapes",
        fig,
        "Loss surfaces over (w, b) for a one-feature problem; the star marks negative curvature of MSE.",
    )
    fig, axes = fg.new_figure(ncols=2)
    b0 = float(_run(ctx, "log_loss").params.b)
    line = np.linspace(-3 * span, 3 * span, 400)
    for loss, color in [("mse", fg.BLUE), ("log_loss", fg.RED)]:
        vals = _losses_on_grid(X, y, loss, line[None, :], np.full((1, 400), b0))[0]
        axes[0].plot(
            line, vals / vals.max(), color=color, label=f"{loss} (scaled to max 1)"
        )
    axes[0].set_xlabel(f"weight w (intercept fixed at {b0:.2f})")
    axes[0].set_ylabel("loss / its maximum on the slice")
    axes[0].set_title("1-D slice: MSE flattens out, log-loss keeps rising")
    axes[0].legend(fontsize=8)
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
    axes[1].set_xlabel("final training loss")
    axes[1].set_ylabel(f"number of runs (of {k})")
    axes[1].set_title("Final losses from many initial points")
    axes[1].legend(fontsize=8)
    _figure(
        ctx,
        r,
        "s3_slices_and_inits",
        fig,
        "A 1-D slice of both losses, and the final losses of many vmapped runs.",
    )
    return r


def s7_log_loss_convex(ctx: Context) -> ClaimResult:
    X, y = _xy(ctx)
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
    fig, ax = fg.new_figure()
    ax.scatter(
        np.linalg.norm(np.c_[W, B], axis=1), eig[:, 0], s=6, color=fg.RED, alpha=0.6
    )
    ax.axhline(0, color=fg.BLACK, lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("‖(w, b)‖ of the sampled point")
    ax.set_ylabel("smallest Hessian eigenvalue")
    ax.set_title("S7: the log-loss Hessian is PSD everywhere sampled")
    _figure(
        ctx,
        r,
        "s7_certificate",
        fig,
        "Smallest Hessian eigenvalue of the log-loss at random parameter points.",
    )
    return r


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
    fig, ax = fg.new_figure()
    ax.plot(p, g_log, color=fg.RED, label="log-loss: |∂l/∂z| = 1 − p")
    ax.plot(p, g_mse, color=fg.BLUE, label="MSE on σ: |∂l/∂z| = 2(1 − p)²p")
    ax.set_xscale("log")
    ax.set_xlabel("predicted probability p of the true class (y = 1)")
    ax.set_ylabel("gradient magnitude w.r.t. the logit")
    ax.set_title("S13: MSE's gradient vanishes when confidently wrong")
    ax.legend(fontsize=8)
    _figure(
        ctx,
        r,
        "s13_gradients",
        fig,
        "Gradient magnitude vs predicted probability for both losses.",
    )
    return r


# --- S4, S5: the cost curves and the worked example ------------------------------------


def s4_cost_curves(ctx: Context) -> ClaimResult:
    p = np.linspace(1e-6, 1 - 1e-6, 1000)
    with enable_x64():  # compare with -log p in the same precision
        pos = np.asarray(log_loss(np.ones_like(p), p, reduction="none"))
        neg = np.asarray(log_loss(np.zeros_like(p), p, reduction="none"))
    ok = (
        np.allclose(pos, -np.log(p), rtol=1e-5)
        and np.allclose(neg, -np.log1p(-p), rtol=1e-5, atol=1e-6)
        and np.all(np.diff(pos) < 0)
        and np.all(np.diff(neg) > 0)
    )
    r = ClaimResult(
        "S4",
        "Per-example cost is -log p for y = 1 and -log(1 - p) for y = 0; confident wrong predictions cost without bound",
        f"S4 cost(y=1, p=1e-6) = {pos[0]:.3g} and cost(y=0, p=1-1e-6) = {neg[-1]:.3g} (> 13, "
        f"growing without bound as p -> 0 / 1); cost at a right p -> 0; curves match -log p, -log(1-p)",
        bool(ok and pos[0] > 13 and neg[-1] > 13 and pos[-1] < 1e-5),
        {"cost_y1_p_1e-6": float(pos[0]), "cost_y0_p_1-1e-6": float(neg[-1])},
    )
    fig, ax = fg.new_figure()
    ax.plot(p, pos, color=fg.RED, label="y = 1: −log p")
    ax.plot(p, neg, color=fg.BLACK, label="y = 0: −log(1 − p)")
    ax.set_ylim(0, 8)
    ax.set_xlabel("predicted probability p = P(y = 1)")
    ax.set_ylabel("per-example log-loss (nats)")
    ax.set_title("S4: the two cost curves")
    ax.legend(fontsize=9)
    _figure(
        ctx,
        r,
        "s4_cost_curves",
        fig,
        "Per-example cost for y = 1 (red) and y = 0 (black).",
    )
    return r


def s5_worked_example(ctx: Context) -> ClaimResult:
    y = np.array([1, 0, 1])
    p = np.array([0.9, 0.2, 0.6])
    each = np.asarray(log_loss(y, p, reduction="none"), np.float64)
    mean = float(log_loss(y, p))
    corrected = np.where(y == 1, p, 1 - p)
    recipe = float(-np.mean(np.log(corrected)))
    expected = np.array([0.1054, 0.2231, 0.5108])
    ok = (
        np.allclose(each, expected, atol=5e-5)
        and abs(mean - 0.2798) < 5e-5
        and abs(recipe - mean) < 1e-6
    )
    r = ClaimResult(
        "S5",
        "Worked examples give 0.1054, 0.2231, 0.5108, mean 0.2798; the corrected-probability recipe agrees",
        f"S5 per-example {', '.join(f'{v:.4f}' for v in each)}, mean {mean:.4f} (texts: 0.1054, "
        f"0.2231, 0.5108, 0.2798); corrected-probability recipe {recipe:.4f}",
        bool(ok),
        {"per_example": each.tolist(), "mean": mean, "recipe": recipe},
    )
    r.tables.append(
        _table(
            [
                "example",
                "y",
                "p",
                "corrected p",
                "−log(corrected p)",
                "log_loss (library)",
            ],
            [
                [
                    i + 1,
                    y[i],
                    p[i],
                    f"{corrected[i]:.2f}",
                    f"{-np.log(corrected[i]):.4f}",
                    f"{each[i]:.4f}",
                ]
                for i in range(3)
            ]
            + [["mean", "", "", "", f"{recipe:.4f}", f"{mean:.4f}"]],
        )
    )
    return r


# --- S6, S8, S9: maximum likelihood, the gradient's form, one loop for both ------------


def s6_mle(ctx: Context) -> ClaimResult:
    X, y = _xy(ctx)
    names = tuple(ctx.train_data.feature_names)
    ours = fit(X, y, feature_names=names)
    theta = np.r_[ours.intercept, ours.coef]
    try:
        import statsmodels.api as sm

        ref = sm.Logit(y, sm.add_constant(X, has_constant="add")).fit(
            disp=0, method="newton", tol=1e-12, maxiter=200
        )
        ref_theta, ref_name, loglik = (
            np.asarray(ref.params),
            "statsmodels Logit",
            float(ref.llf),
        )
    except ImportError:
        other = fit(X, y, feature_names=names, solver="lbfgs")
        ref_theta, ref_name = (
            np.r_[other.intercept, other.coef],
            "jaxlogloss L-BFGS (statsmodels not installed)",
        )
        loglik = None
    rel = float(
        np.max(np.abs(theta - ref_theta) / np.maximum(np.abs(ref_theta), 1e-12))
    )
    z = X @ ours.coef + ours.intercept
    p = 1 / (1 + np.exp(-z))
    bernoulli = float(
        np.sum(np.log(np.where(y == 1, p, 1 - p)))
    )  # log prod p^y (1-p)^(1-y)
    loglik = bernoulli if loglik is None else loglik
    n = len(y)
    gap = abs(ours.log_loss * n + loglik) / abs(loglik)
    r = ClaimResult(
        "S6",
        "Minimising log-loss is maximum-likelihood estimation",
        f"S6 fitted parameters vs {ref_name}: max relative difference {rel:.2e} <= 1e-6; "
        f"log-loss x n = {ours.log_loss * n:.6f} vs -log-likelihood {-loglik:.6f} (rel. gap {gap:.1e})",
        rel <= 1e-6 and gap <= 1e-9 and ours.converged,
        {"max_rel_param_diff": rel, "reference": ref_name, "log_loss_times_n": ours.log_loss * n,
         "neg_log_likelihood": -loglik, "status": ours.status},
    )  # fmt: skip
    r.tables.append(
        _table(
            ["parameter", "jaxlogloss (min log-loss)", ref_name, "std err"],
            [
                [nm, f"{a:.6g}", f"{b:.6g}", f"{s:.3g}"]
                for nm, a, b, s in zip(
                    ours.inference.names,
                    theta,
                    ref_theta,
                    ours.inference.std_err,
                    strict=True,
                )
            ],
        )
    )
    return r


def s8_gradient_form(ctx: Context) -> ClaimResult:
    X, y = _xy(ctx)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    d = X.shape[1]
    params = LinearParams(jnp.asarray(np.linspace(-0.5, 0.5, d)), jnp.asarray(0.1))
    theta, unravel = flatten_params(params)
    rows, errs = [], {}
    for loss, pred in [("log_loss", "σ(z)"), ("squared_error", "z")]:
        f = lambda t, loss=loss: objective(unravel(t), Xj, yj, None, 0.0, loss)  # noqa: E731
        auto = jax.grad(f)(theta)
        z = X @ np.asarray(params.w) + float(params.b)
        y_hat = 1 / (1 + np.exp(-z)) if loss == "log_loss" else z
        form = np.r_[X.T @ (y_hat - y), np.sum(y_hat - y)] / len(
            y
        )  # (y_hat - y) x, averaged
        closed = flatten_params(gradient_unchecked(params, Xj, yj, None, 0.0, loss))[0]
        fd = central_difference(f, theta)
        c1 = compare("", auto, form, 0)
        c2 = compare("", fd, form, 0)
        c3 = compare("", closed, form, 0)
        errs[loss] = max(c1.max_rel_error, c2.max_rel_error, c3.max_rel_error)
        rows.append(
            [
                loss,
                f"X^T ({pred} − y) / n",
                f"{c1.max_abs_error:.1e}",
                f"{c3.max_abs_error:.1e}",
                f"{c2.max_abs_error:.1e}",
            ]
        )
    tol = 1e-6 if X.dtype == np.float64 else 1e-3
    r = ClaimResult(
        "S8",
        "The log-loss gradient is (y_hat - y) x, the same form as linear regression's MSE gradient",
        f"S8 max relative error of X^T(y_hat - y)/n against jax.grad, the closed form and central "
        f"differences: log-loss {errs['log_loss']:.1e}, linear regression {errs['squared_error']:.1e} (<= {tol:g})",
        all(e <= tol for e in errs.values()),
        {"max_rel_error": errs},
    )
    r.tables.append(
        _table(
            [
                "loss",
                "gradient form",
                "vs jax.grad",
                "vs closed form",
                "vs finite differences",
            ],
            rows,
        )
    )
    return r


def s9_same_loop(ctx: Context) -> ClaimResult:
    lin, logi = _run(ctx, "squared_error"), _run(ctx, "log_loss")
    drops = {}
    for run in (lin, logi):
        h = run.history["loss"]
        drops[run.loss] = float(h[0] - h[-1])
    same_optimizer = lin.optimizer == logi.optimizer
    r = ClaimResult(
        "S9",
        "The gradient-descent update carries over unchanged",
        f"S9 the same train() loop with optimizer {logi.optimizer!r} trained linear regression "
        f"(loss {lin.history['loss'][0]:.4g} -> {lin.history['loss'][-1]:.4g}) and logistic "
        f"regression (loss {logi.history['loss'][0]:.4g} -> {logi.history['loss'][-1]:.4g})",
        same_optimizer and all(v > 0 for v in drops.values()) and lin.status != "diverged" and logi.status != "diverged",
        {"loss_drop": drops, "optimizer": logi.optimizer, "status": {lin.loss: lin.status, logi.loss: logi.status}},
    )  # fmt: skip
    fig, ax = fg.new_figure()
    for run, color, label in [
        (lin, fg.BLUE, "linear regression (½(z − y)²)"),
        (logi, fg.RED, "logistic regression (log-loss)"),
    ]:
        ax.plot(run.history["step"], run.history["loss"], color=color, label=label)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.set_title(f"S9: one loop ({logi.optimizer}) trains both models")
    ax.legend(fontsize=8)
    _figure(
        ctx,
        r,
        "s9_same_loop",
        fig,
        "Training curves of both models under the same loop.",
    )
    return r


# --- S10, S11: accuracy vs log-loss -----------------------------------------------------


def s10_accuracy_not_differentiable(ctx: Context) -> ClaimResult:
    X, y = _xy(ctx)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    run = _run(ctx, "log_loss")
    w0, b0 = jnp.asarray(run.params.w, Xj.dtype), jnp.asarray(run.params.b, Xj.dtype)

    def accuracy_of(params: LinearParams) -> Array:
        z = linear_logits(params, Xj)
        return jnp.mean(((z > 0).astype(z.dtype) == yj).astype(z.dtype))

    rng = np.random.default_rng(0)
    points = LinearParams(
        jnp.asarray(np.asarray(w0) + rng.standard_normal((200, X.shape[1])), Xj.dtype),
        jnp.asarray(float(b0) + rng.standard_normal(200), Xj.dtype),
    )
    grads = jax.vmap(jax.grad(accuracy_of))(points)
    max_grad = float(max(jnp.max(jnp.abs(grads.w)), jnp.max(jnp.abs(grads.b))))
    t = np.linspace(-3, 3, 601)
    direction = np.zeros(X.shape[1])
    direction[0] = 1.0
    slice_params = LinearParams(
        jnp.asarray(np.asarray(w0)[None, :] + t[:, None] * direction, Xj.dtype),
        jnp.full(601, b0),
    )
    acc = np.asarray(jax.vmap(accuracy_of)(slice_params))
    ll = np.asarray(
        jax.vmap(lambda p: objective(p, Xj, yj, None, 0.0, "log_loss"))(slice_params)
    )
    changes = int(np.sum(np.diff(acc) != 0))
    r = ClaimResult(
        "S10",
        "Accuracy is not differentiable: small parameter changes rarely change it",
        f"S10 jax.grad of accuracy at 200 random points: max |grad| = {max_grad:.3g} (= 0); along a "
        f"601-point slice accuracy changes value {changes} times (steps) while log-loss varies smoothly",
        max_grad == 0.0 and changes < 600 and len(np.unique(acc)) < len(np.unique(ll)),
        {
            "max_abs_grad_accuracy": max_grad,
            "slice_points": 601,
            "accuracy_changes": changes,
        },
    )
    zoom_t = np.linspace(-0.05, 0.05, 401)
    zoom = LinearParams(
        jnp.asarray(np.asarray(w0)[None, :] + zoom_t[:, None] * direction, Xj.dtype),
        jnp.full(401, b0),
    )
    zoom_acc = np.asarray(jax.vmap(accuracy_of)(zoom))
    fig, axes = fg.new_figure(ncols=3, width=4.4)
    axes[0].step(t, acc, where="mid", color=fg.BLUE)
    axes[0].set_title("Accuracy along the slice")
    axes[1].step(zoom_t, zoom_acc, where="mid", color=fg.BLUE)
    axes[1].set_title("Zoomed in: flat steps")
    for ax in axes[:2]:
        ax.set_xlabel("step t along w₀ + t·e₁")
        ax.set_ylabel("training accuracy")
    axes[2].plot(t, ll, color=fg.RED)
    axes[2].set_xlabel("step t along w₀ + t·e₁")
    axes[2].set_ylabel("mean log-loss (nats)")
    axes[2].set_title("Log-loss: smooth")
    _figure(
        ctx,
        r,
        "s10_accuracy_vs_log_loss",
        fig,
        "Accuracy and log-loss along the same parameter slice.",
    )
    return r


def s11_optimise_log_loss_evaluate_accuracy(ctx: Context) -> ClaimResult:
    run = _run(ctx, "log_loss")
    h = run.history
    needed = [m for m in ("accuracy", "roc_auc", "brier") if m in h]
    X_test, y_test = _xy(ctx, "test")
    z = X_test @ np.asarray(run.params.w, np.float64) + float(run.params.b)
    test = evaluate(y_test, 1 / (1 + np.exp(-z)))
    improved = (
        h["loss"][-1] < h["loss"][0]
        and h.get("accuracy", np.r_[0, 1])[-1] >= h.get("accuracy", np.r_[0, 0])[0]
    )
    r = ClaimResult(
        "S11",
        "Optimise log-loss in training; evaluate accuracy (and other metrics) in evaluation",
        f"S11 training lowered log-loss {h['loss'][0]:.4g} -> {h['loss'][-1]:.4g} while recording "
        f"{', '.join(needed)}; held-out accuracy {test['accuracy']:.3f}, AUC {test['roc_auc']:.3f}, "
        f"Brier {test['brier']:.3f}",
        bool(improved) and len(needed) == 3,
        {
            "train_final": {
                k: float(v[-1]) for k, v in h.items() if k not in ("step", "seconds")
            },
            "test": test,
        },
    )
    fig, axes = fg.new_figure(ncols=2)
    axes[0].plot(h["step"], h["loss"], color=fg.RED, label="log-loss (optimised)")
    axes[0].set_xlabel("optimizer step")
    axes[0].set_ylabel("training log-loss (nats)")
    axes[0].set_title("The objective")
    axes[0].legend(fontsize=8)
    for name, color in [
        ("accuracy", fg.BLUE),
        ("roc_auc", "green"),
        ("brier", fg.BLACK),
    ]:
        if name in h:
            axes[1].plot(h["step"], h[name], color=color, label=name)
    axes[1].set_xlabel("optimizer step")
    axes[1].set_ylabel("metric value (training data)")
    axes[1].set_title("Evaluated alongside, never optimised")
    axes[1].legend(fontsize=8)
    _figure(
        ctx,
        r,
        "s11_training_curves",
        fig,
        "Log-loss training curve with accuracy, AUC and Brier score.",
    )
    return r


# --- S12: the jacket / cardigan case study ---------------------------------------------


def s12_case_study(ctx: Context) -> ClaimResult:
    from jaxlogloss.data.datasets import JACKET_TRUE_COEF

    train_d, test_d = ctx.train_data, ctx.test_data or ctx.train_data
    names = tuple(train_d.feature_names)
    res = fit(
        np.asarray(train_d.X, np.float64),
        np.asarray(train_d.y, np.float64),
        feature_names=names,
    )
    z = np.asarray(test_d.X, np.float64) @ res.coef + res.intercept
    p = 1 / (1 + np.exp(-z))
    y = np.asarray(test_d.y, np.float64)
    metrics = evaluate(y, p)
    pred = (z > 0).astype(int)
    cm = np.array([[np.sum((y == a) & (pred == b)) for b in (0, 1)] for a in (0, 1)])
    inf = res.inference
    signs_ok, rows = True, []
    for j, name in enumerate(names):
        true = JACKET_TRUE_COEF.get(name)
        coef, pval = res.coef[j], inf.p_value[j + 1]
        if true is not None and true != 0 and pval < 0.01:
            signs_ok &= bool(np.sign(coef) == np.sign(true))
        odds = math.exp(coef)
        meaning = (
            f"odds of a jacket x{odds:.3g} per unit" if abs(coef) < 50 else "saturated"
        )
        rows.append(
            [
                name,
                f"{coef:.4g}",
                f"{inf.std_err[j + 1]:.3g}",
                f"{pval:.3g}",
                "" if true is None else f"{true:g}",
                meaning,
            ]
        )
    passed = (
        metrics["roc_auc"] > 0.75
        and metrics["accuracy"] > 0.7
        and signs_ok
        and res.converged
    )
    r = ClaimResult(
        "S12",
        "Case study: predict whether a customer buys a jacket (1) or a cardigan (0) from behaviour",
        f"S12 held-out ({len(y)} customers) accuracy {metrics['accuracy']:.3f}, AUC "
        f"{metrics['roc_auc']:.3f}, Brier {metrics['brier']:.3f}, ECE {metrics['ece']:.3f}; "
        f"every significant coefficient has the sign of the true model: {signs_ok}",
        bool(passed),
        {"test": metrics, "confusion_matrix": cm.tolist(), "status": res.status,
         "coef": dict(zip(names, res.coef.tolist(), strict=True)), "intercept": res.intercept},
    )  # fmt: skip
    r.tables.append(
        _table(["feature", "coef", "std err", "P>|z|", "true coef", "meaning"], rows)
    )
    r.tables.append(
        _table(["", "predicted cardigan (0)", "predicted jacket (1)"],
               [["actual cardigan (0)", cm[0, 0], cm[0, 1]], ["actual jacket (1)", cm[1, 0], cm[1, 1]]])
    )  # fmt: skip
    mean_p, mean_y, weight = (np.asarray(a) for a in reliability_curve(y, p, n_bins=10))
    fig, axes = fg.new_figure(ncols=2)
    ok = weight > 0
    axes[0].plot([0, 1], [0, 1], color=fg.GREY, ls="--", label="perfect calibration")
    axes[0].plot(mean_p[ok], mean_y[ok], "o-", color=fg.RED, label="model (10 bins)")
    axes[0].set_xlabel("mean predicted P(jacket) in bin")
    axes[0].set_ylabel("observed share of jackets in bin")
    axes[0].set_title("Reliability diagram (held-out)")
    axes[0].legend(fontsize=8)
    im = axes[1].imshow(cm, cmap="Blues")
    for a in range(2):
        for b in range(2):
            axes[1].text(b, a, str(cm[a, b]), ha="center", va="center", fontsize=12,
                         color="white" if cm[a, b] > cm.max() / 2 else "black")  # fmt: skip
    axes[1].set_xticks([0, 1], ["cardigan (0)", "jacket (1)"])
    axes[1].set_yticks([0, 1], ["cardigan (0)", "jacket (1)"])
    axes[1].set_xlabel("predicted")
    axes[1].set_ylabel("actual")
    axes[1].set_title("Confusion matrix (threshold 0.5)")
    axes[1].grid(False)
    fg.plt.colorbar(im, ax=axes[1], label="customers")
    _figure(
        ctx,
        r,
        "s12_case_study",
        fig,
        "Reliability diagram and confusion matrix of the jacket/cardigan model on held-out customers.",
    )
    return r


# --- the optimizer comparison -----------------------------------------------------------


def optimizer_comparison(ctx: Context) -> ClaimResult:
    runs = [run for run in ctx.runs.values() if run.loss == "log_loss"]
    best = min(float(np.nanmin(run.history["loss"])) for run in runs)
    floor = 10 * float(np.finfo(ctx.train_data.xt.dtype).eps) * abs(best)  # resolution
    rows = []
    fig, axes = fg.new_figure(ncols=2)
    colors = ["#1f5fa8", "#c0392b", "#27ae60", "#8e44ad", "#111111", "#e67e22"]
    for run, color in zip(runs, colors * 3, strict=False):
        h = run.history
        gap = np.maximum(np.asarray(h["loss"], np.float64) - best, floor)
        axes[0].plot(h["step"], gap, color=color, label=run.optimizer)
        axes[1].plot(h["seconds"], gap, color=color, label=run.optimizer)
        rows.append(
            [
                run.optimizer,
                run.status,
                int(h["step"][-1]),
                f"{h['loss'][-1]:.8f}",
                f"{h['seconds'][-1]:.3f}",
            ]
        )
    for ax, xlabel in [
        (axes[0], "step (iteration for lbfgs / newton)"),
        (axes[1], "wall-clock seconds (compilation excluded)"),
    ]:
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss − best loss reached (floor: rounding)")
        ax.legend(fontsize=8)
    axes[0].set_title("Optimizers: loss vs step")
    axes[1].set_title("Optimizers: loss vs time")
    finals = {run.optimizer: float(run.history["loss"][-1]) for run in runs}
    r = ClaimResult(
        "compare",
        "Optimizer comparison on one data set (sgd, momentum, adam, lbfgs, newton)",
        "compare final losses: " + ", ".join(f"{k} {v:.6g}" for k, v in finals.items()),
        all(np.isfinite(v) for v in finals.values()),
        {"final_loss": finals, "best": best},
    )
    r.tables.append(
        _table(["optimizer", "status", "steps", "final loss", "seconds"], rows)
    )
    _figure(
        ctx,
        r,
        "optimizer_comparison",
        fig,
        "Distance to the best loss vs step and vs wall-clock time.",
    )
    return r


CLAIMS: dict[str, Callable[[Context], ClaimResult]] = {
    "S1": s1_linear_outside_unit_interval,
    "S2": s2_sigmoid_range,
    "S3": s3_mse_nonconvex,
    "S4": s4_cost_curves,
    "S5": s5_worked_example,
    "S6": s6_mle,
    "S7": s7_log_loss_convex,
    "S8": s8_gradient_form,
    "S9": s9_same_loop,
    "S10": s10_accuracy_not_differentiable,
    "S11": s11_optimise_log_loss_evaluate_accuracy,
    "S12": s12_case_study,
    "S13": s13_vanishing_mse_gradient,
}
