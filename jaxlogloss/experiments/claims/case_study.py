"""S12: the jacket / cardigan case study -- fit, held-out metrics, coefficients against
the true model, reliability diagram and confusion matrix."""

from __future__ import annotations

import math

import numpy as np

from jaxlogloss.data.datasets import JACKET_TRUE_COEF
from jaxlogloss.experiments import figures as fg
from jaxlogloss.experiments.claims.evidence import figure, table
from jaxlogloss.experiments.claims.registry import claim
from jaxlogloss.experiments.types import ClaimResult, Context
from jaxlogloss.fitting.fit import fit
from jaxlogloss.metrics import evaluate, reliability_curve


@claim("S12")
def s12_case_study(ctx: Context) -> ClaimResult:

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
        table(["feature", "coef", "std err", "P>|z|", "true coef", "meaning"], rows)
    )
    r.tables.append(
        table(["", "predicted cardigan (0)", "predicted jacket (1)"],
               [["actual cardigan (0)", cm[0, 0], cm[0, 1]], ["actual jacket (1)", cm[1, 0], cm[1, 1]]])
    )  # fmt: skip
    mean_p, mean_y, weight = (np.asarray(a) for a in reliability_curve(y, p, n_bins=10))
    with figure(
        ctx,
        r,
        "s12_case_study",
        "Reliability diagram and confusion matrix of the jacket/cardigan model on held-out customers.",
        ncols=2,
    ) as axes:
        ok = weight > 0
        axes[0].plot(
            [0, 1], [0, 1], color=fg.GREY, ls="--", label="perfect calibration"
        )
        axes[0].plot(
            mean_p[ok], mean_y[ok], "o-", color=fg.RED, label="model (10 bins)"
        )
        fg.label(axes[0], "mean predicted P(jacket) in bin",
                 "observed share of jackets in bin",
                 "Reliability diagram (held-out)", legend=8)  # fmt: skip
        im = axes[1].imshow(cm, cmap="Blues")
        for a in range(2):
            for b in range(2):
                axes[1].text(b, a, str(cm[a, b]), ha="center", va="center", fontsize=12,
                             color="white" if cm[a, b] > cm.max() / 2 else "black")  # fmt: skip
        axes[1].set_xticks([0, 1], ["cardigan (0)", "jacket (1)"])
        axes[1].set_yticks([0, 1], ["cardigan (0)", "jacket (1)"])
        fg.label(axes[1], "predicted", "actual", "Confusion matrix (threshold 0.5)")
        axes[1].grid(False)
        fg.plt.colorbar(im, ax=axes[1], label="customers")
    return r
