"""S10, S11: accuracy is piecewise constant in the parameters (its gradient is 0 almost
everywhere), so one optimises log-loss and evaluates accuracy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxlogloss.experiments import figures as fg
from jaxlogloss.experiments.claims.evidence import figure, run_of, xy
from jaxlogloss.experiments.claims.registry import claim
from jaxlogloss.experiments.types import ClaimResult, Context
from jaxlogloss.metrics import evaluate
from jaxlogloss.model.objective import objective
from jaxlogloss.model.params import LinearParams, linear_logits

Array = jax.Array


@claim("S10")
def s10_accuracy_not_differentiable(ctx: Context) -> ClaimResult:
    X, y = xy(ctx)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    run = run_of(ctx, "log_loss")
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
    with figure(
        ctx,
        r,
        "s10_accuracy_vs_log_loss",
        "Accuracy and log-loss along the same parameter slice.",
        ncols=3,
        width=4.4,
    ) as axes:
        axes[0].step(t, acc, where="mid", color=fg.BLUE)
        axes[0].set_title("Accuracy along the slice")
        axes[1].step(zoom_t, zoom_acc, where="mid", color=fg.BLUE)
        axes[1].set_title("Zoomed in: flat steps")
        for ax in axes[:2]:
            ax.set_xlabel("step t along w₀ + t·e₁")
            ax.set_ylabel("training accuracy")
        axes[2].plot(t, ll, color=fg.RED)
        fg.label(axes[2], "step t along w₀ + t·e₁", "mean log-loss (nats)",
                 "Log-loss: smooth")  # fmt: skip
    return r


@claim("S11")
def s11_optimise_log_loss_evaluate_accuracy(ctx: Context) -> ClaimResult:
    run = run_of(ctx, "log_loss")
    h = run.history
    needed = [m for m in ("accuracy", "roc_auc", "brier") if m in h]
    X_test, y_test = xy(ctx, "test")
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
    with figure(
        ctx,
        r,
        "s11_training_curves",
        "Log-loss training curve with accuracy, AUC and Brier score.",
        ncols=2,
    ) as axes:
        axes[0].plot(h["step"], h["loss"], color=fg.RED, label="log-loss (optimised)")
        fg.label(axes[0], "optimizer step", "training log-loss (nats)",
                 "The objective", legend=8)  # fmt: skip
        for name, color in [
            ("accuracy", fg.BLUE),
            ("roc_auc", "green"),
            ("brier", fg.BLACK),
        ]:
            if name in h:
                axes[1].plot(h["step"], h[name], color=color, label=name)
        fg.label(axes[1], "optimizer step", "metric value (training data)",
                 "Evaluated alongside, never optimised", legend=8)  # fmt: skip
    return r
