"""S6, S8: minimising log-loss is maximum likelihood, and its gradient
X~^T (sigma(z) - y) / n has linear regression's form X~^T (z - y) / n."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.experiments.claims.evidence import table, xy
from jaxlogloss.experiments.claims.registry import claim
from jaxlogloss.experiments.types import ClaimResult, Context
from jaxlogloss.fitting.fit import fit
from jaxlogloss.model.closed_form import (
    flatten_params,
    gradient_unchecked,
)
from jaxlogloss.model.objective import objective
from jaxlogloss.model.params import LinearParams
from jaxlogloss.model.verification import central_difference, compare


@claim("S6")
def s6_mle(ctx: Context) -> ClaimResult:
    X, y = xy(ctx)
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
        table(
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


@claim("S8")
def s8_gradient_form(ctx: Context) -> ClaimResult:
    X, y = xy(ctx)
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
        table(
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
