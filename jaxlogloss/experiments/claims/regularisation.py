"""R1-R4: regularisation -- the L1 path, cross-validation, support recovery, class
weights (``experiments/08_regularisation.toml``).

The penalised fits read ``[loss] penalty`` (l1 or elasticnet for R1-R3), ``alpha`` (R4's
fits), ``l1_ratio`` and ``class_weight`` (R4 compares it with no weighting). R3 needs
``[data] source = "sparse"`` (true coefficients known).
"""

from __future__ import annotations

import numpy as np

from jaxlogloss.experiments.claims.evidence import figure, table
from jaxlogloss.experiments.claims.registry import claim
from jaxlogloss.experiments.schema import ConfigError
from jaxlogloss.experiments.synthetic import sparse_coefficients, sparse_logistic
from jaxlogloss.experiments.types import ClaimResult, Context

N_ALPHAS = 40  # grid points of the paths and the CV (alpha_max down to 1e-4 of it)
FOLDS = 5
KKT_TOL = 1e-6


def _penalty(ctx: Context, claim_id: str) -> dict:
    loss = ctx.config.loss
    if loss.penalty not in ("l1", "elasticnet"):
        raise ConfigError(
            f"{ctx.config.source}: claim {claim_id} needs loss.penalty 'l1' or "
            f"'elasticnet', got {loss.penalty!r}"
        )
    out = {"penalty": loss.penalty, "class_weight": loss.class_weight or None}
    if loss.penalty == "elasticnet":
        out["l1_ratio"] = loss.l1_ratio
    return out


def _cv(ctx: Context, claim_id: str):  # noqa: ANN202
    from jaxlogloss.fitting.cv import cv

    return cv(
        ctx.train_data, n_alphas=N_ALPHAS, folds=FOLDS, seed=ctx.config.data.seed,
        **_penalty(ctx, claim_id),
    )  # fmt: skip


@claim("R1")
def r1_path(ctx: Context) -> ClaimResult:
    from jaxlogloss.experiments.path_figures import draw_path

    path = _cv(ctx, "R1").path  # the path on all rows, run with the folds
    nnz = path.n_nonzero
    first_in = int(np.argmax(nnz > 0))
    passed = (
        nnz[0] == 0 and nnz[1] >= 1 and float(path.kkt.max()) <= KKT_TOL
        and bool(np.all(path.status == "converged"))
    )  # fmt: skip
    r = ClaimResult(
        "R1",
        "An L1 path starts at alpha_max with every coefficient exactly zero, and "
        "features enter as alpha decreases; every point is optimal (KKT)",
        f"R1 {len(path.alphas)}-point {path.penalty} path from alpha_max = "
        f"{path.alphas[0]:.4g}: {nnz[0]} nonzero at alpha_max, {nnz[1]} at the next "
        f"point, {nnz[-1]} at {path.alphas[-1]:.3g}; largest KKT violation "
        f"{path.kkt.max():.2e} <= {KKT_TOL:g}; {int(path.n_iter.sum())} solver "
        "iterations in one compiled, warm-started scan",
        bool(passed),
        {
            "alpha_max": float(path.alphas[0]),
            "nonzero": nnz.tolist(),
            "first_nonzero_index": first_in,
            "max_kkt": float(path.kkt.max()),
            "n_iter": path.n_iter.tolist(),
        },  # fmt: skip
    )
    with figure(ctx, r, "r1_path", "Coefficients against log10 alpha.") as ax:
        draw_path(ax, path)
    return r


@claim("R2")
def r2_cross_validation(ctx: Context) -> ClaimResult:
    from jaxlogloss.experiments.path_figures import draw_cv

    res = _cv(ctx, "R2")
    i_min = int(np.flatnonzero(res.alphas == res.alpha_min)[0])
    gain = (res.mean_score[0] - res.mean_score[i_min]) / res.se_score[i_min]
    refit_kkt = float(res.fit.kkt_violation)
    nnz_min = int(np.count_nonzero(res.coef))
    passed = gain > 2 and res.alpha_1se >= res.alpha_min and refit_kkt <= KKT_TOL
    r = ClaimResult(
        "R2",
        f"{FOLDS}-fold cross-validation picks alpha_min, the best held-out log-loss, "
        "and alpha_1se >= alpha_min, the largest alpha within one standard error",
        f"R2 held-out log-loss {res.mean_score[i_min]:.4f} at alpha_min = "
        f"{res.alpha_min:.4g} vs {res.mean_score[0]:.4f} at alpha_max ({gain:.1f} SE "
        f"better, > 2); alpha_1se = {res.alpha_1se:.4g} >= alpha_min; the refit at "
        f"alpha_min has {nnz_min} nonzero coefficients and KKT violation "
        f"{refit_kkt:.2e} <= {KKT_TOL:g}",
        bool(passed),
        {
            "alpha_min": res.alpha_min,
            "alpha_1se": res.alpha_1se,
            "mean_score": res.mean_score.tolist(),
            "se_score": res.se_score.tolist(),
            "se_gain": float(gain),
            "refit_kkt": refit_kkt,
            "refit_nonzero": nnz_min,
        },  # fmt: skip
    )
    caption = "Held-out log-loss (mean +/- 1 SE over folds); alpha_min and alpha_1se."
    with figure(ctx, r, "r2_cv_curve", caption) as ax:
        draw_cv(ax, res)
    return r


@claim("R3")
def r3_support_recovery(ctx: Context) -> ClaimResult:
    data = ctx.config.data
    if data.source != "sparse":
        raise ConfigError(
            f"{ctx.config.source}: claim R3 needs data.source = 'sparse' (known true "
            f"coefficients), got {data.source!r}"
        )
    truth = sparse_coefficients(data.d, data.seed)
    support = set(np.flatnonzero(truth).tolist())
    res = _cv(ctx, "R3")
    path = res.path
    nonzero = path.coef != 0
    # each feature's entry: the largest alpha at which it is nonzero (inf: never)
    entry = np.where(nonzero.any(axis=0), np.argmax(nonzero, axis=0), np.inf)
    first_k = set(np.argsort(entry, kind="stable")[: len(support)].tolist())
    i_1se = int(np.flatnonzero(path.alphas == res.alpha_1se)[0])
    chosen = set(np.flatnonzero(path.coef[i_1se]).tolist())
    false_pos = sorted(chosen - support)
    passed = first_k == support and support <= chosen
    r = ClaimResult(
        "R3",
        "On data from a sparse logistic model the L1 path recovers the true support: "
        "the first features to enter are the true ones, and the alpha_1se model keeps "
        "all of them",
        f"R3 true support {sorted(support)}; first {len(support)} features to enter "
        f"the path {sorted(first_k)}; the alpha_1se = {res.alpha_1se:.4g} model keeps "
        f"{sorted(chosen & support)} with {len(false_pos)} false positive(s) "
        f"{false_pos}",
        bool(passed),
        {
            "true_support": sorted(support),
            "first_to_enter": sorted(first_k),
            "support_at_alpha_1se": sorted(chosen),
            "false_positives": false_pos,
        },  # fmt: skip
    )
    i_min = int(np.flatnonzero(path.alphas == res.alpha_min)[0])
    rows = [
        [name, f"{truth[j]:g}", f"{path.coef[i_1se, j]:.3f}",
         f"{path.coef[i_min, j]:.3f}"]
        for j, name in enumerate(path.feature_names)
        if truth[j] != 0 or path.coef[i_1se, j] != 0
    ]  # fmt: skip
    r.tables.append(table(["feature", "true", "alpha_1se", "alpha_min"], rows))
    return r


def _metrics(y: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """(log-loss, balanced accuracy) of logits z."""
    loss = float(np.mean(np.logaddexp(0, z) - y * z))
    pred = z > 0
    tpr, tnr = np.mean(pred[y == 1]), np.mean(~pred[y == 0])
    return loss, float((tpr + tnr) / 2)


@claim("R4")
def r4_class_weights(ctx: Context) -> ClaimResult:
    from jaxlogloss.fitting.fit import fit

    config = ctx.config
    if config.loss.class_weight != "balanced":
        raise ConfigError(
            f"{config.source}: claim R4 needs loss.class_weight = 'balanced', got "
            f"{config.loss.class_weight!r}"
        )
    n, d, seed = config.data.n, config.data.d, config.data.seed
    train = sparse_logistic(n, d, intercept=-3.0, seed=seed + 1)
    test = sparse_logistic(4 * n, d, intercept=-3.0, seed=seed + 2)
    share = float(np.mean(train.y))
    X, y = np.asarray(test.X), np.asarray(test.y, np.float64)
    out = {}
    ones = np.ones(train.n_samples)  # the same compiled fit as the weighted one
    for label, cw in [("unweighted", None), ("balanced", "balanced")]:
        extra = (
            {"l1_ratio": config.loss.l1_ratio}
            if config.loss.penalty == "elasticnet"
            else {}
        )
        res = fit(train, penalty=config.loss.penalty, alpha=config.loss.alpha,
                  class_weight=cw, sample_weight=ones, **extra)  # fmt: skip
        out[label] = _metrics(y, X @ res.coef + res.intercept)
    (ll_u, ba_u), (ll_b, ba_b) = out["unweighted"], out["balanced"]
    passed = ba_b > ba_u and ll_u < ll_b
    r = ClaimResult(
        "R4",
        "On an imbalanced set, balanced class weights raise the held-out balanced "
        "accuracy and worsen the held-out log-loss (they trade calibration for "
        "balanced errors)",
        f"R4 {share:.1%} positives; held-out balanced accuracy {ba_b:.3f} (balanced) > "
        f"{ba_u:.3f} (unweighted); held-out log-loss {ll_u:.4f} (unweighted) < "
        f"{ll_b:.4f} (balanced)",
        bool(passed),
        {
            "positive_share": share,
            "log_loss": {"unweighted": ll_u, "balanced": ll_b},
            "balanced_accuracy": {"unweighted": ba_u, "balanced": ba_b},
        },  # fmt: skip
    )
    caption = "Held-out log-loss and balanced accuracy, unweighted vs balanced fit."
    with figure(ctx, r, "r4_class_weights", caption, ncols=2, width=3.6) as axes:
        for ax, k, name in [
            (axes[0], 0, "log-loss"),
            (axes[1], 1, "balanced accuracy"),
        ]:
            ax.bar(
                ["unweighted", "balanced"], [out["unweighted"][k], out["balanced"][k]]
            )
            ax.set_title(f"held-out {name}")
    return r
