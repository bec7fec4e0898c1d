"""S1, S2, S9: linear vs logistic regression -- a line leaves [0, 1], the sigmoid does
not, and one gradient loop trains both."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.experiments import figures as fg
from jaxlogloss.experiments.claims.evidence import figure, run_of, xy
from jaxlogloss.experiments.claims.registry import claim
from jaxlogloss.experiments.types import ClaimResult, Context


@claim("S1")
def s1_linear_outside_unit_interval(ctx: Context) -> ClaimResult:
    X, y = xy(ctx)
    lin, logi = run_of(ctx, "squared_error"), run_of(ctx, "log_loss")
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
        with figure(
            ctx,
            r,
            "s1_linear_vs_logistic",
            "Linear vs logistic regression on the same 0/1 labels.",
        ) as ax:
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
            ax.plot(
                grid, 1 / (1 + np.exp(-zg)), color=fg.RED, label="logistic regression"
            )
            ax.axhspan(0, 1, color="green", alpha=0.06, label="[0, 1]")
            fg.label(ax, "feature x (standard units)", "prediction / label",
                     "S1: a straight line leaves [0, 1]")  # fmt: skip
            ax.legend(fontsize=8, loc="upper left")
    return r


@claim("S2")
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
    with figure(ctx, r, "s2_sigmoid", "The sigmoid function.") as ax:
        zz = np.linspace(-10, 10, 400)
        ax.plot(
            zz,
            1 / (1 + np.exp(-zz)),
            color=fg.BLUE,
            label=r"$\sigma(z) = 1/(1+e^{-z})$",
        )
        ax.axhline(0, color=fg.GREY, lw=0.8)
        ax.axhline(1, color=fg.GREY, lw=0.8)
        ax.axhline(0.5, color=fg.GREY, lw=0.8, ls="--", label="threshold 0.5")
        fg.label(ax, "logit z = w·x + b", "σ(z), a probability",
                 "S2: the sigmoid squashes ℝ into (0, 1)", legend=8)  # fmt: skip
    return r


@claim("S9")
def s9_same_loop(ctx: Context) -> ClaimResult:
    lin, logi = run_of(ctx, "squared_error"), run_of(ctx, "log_loss")
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
    with figure(
        ctx, r, "s9_same_loop", "Training curves of both models under the same loop."
    ) as ax:
        for run, color, label in [
            (lin, fg.BLUE, "linear regression (½(z − y)²)"),
            (logi, fg.RED, "logistic regression (log-loss)"),
        ]:
            ax.plot(run.history["step"], run.history["loss"], color=color, label=label)
        fg.label(ax, "optimizer step", "training loss",
                 f"S9: one loop ({logi.optimizer}) trains both models", legend=8)  # fmt: skip
    return r
