"""``jaxlogloss gradcheck``: closed forms vs jax.grad vs finite differences.

Exit 0 when every check passes, 1 when one fails (2, a usage error, is the caller's).
"""

from __future__ import annotations

import argparse
import json

from jaxlogloss.cli.args import int_at_least, nonnegative_float
from jaxlogloss.model.verification import (
    DTYPE_CHOICES,
    LOSS_CHOICES,
    TOLERANCES,
    GradcheckReport,
)

NAME = "gradcheck"
HELP = "check analytic gradients/Hessians against jax.grad and finite differences"
DESCRIPTION = (
    "Compare jax.grad / jax.hessian with the closed-form gradient and Hessian of "
    "each loss, and both with float64 central finite differences; certify the "
    "convexity of the log-loss and find a non-convexity witness for MSE on the "
    "sigmoid. Relative-error tolerances: "
    + ", ".join(
        f"{dt}: rounding {t['rounding']:g}, FD {t['fd']:g}"
        for dt, t in TOLERANCES.items()
    )
    + ". Exit 0 when every check passes, 1 when one fails, 2 for bad arguments."
)


def add_arguments(gc: argparse.ArgumentParser) -> None:
    """The flags of ``gradcheck``; the losses are the registry's (and "all")."""
    gc.add_argument("--loss", choices=LOSS_CHOICES, default="all", help="default: all")
    gc.add_argument("--n", type=int_at_least(2), default=256, help="rows (default 256)")
    gc.add_argument("--d", type=int_at_least(1), default=5, help="features (default 5)")
    gc.add_argument(
        "--classes", type=int_at_least(2), default=3, help="K for softmax (default 3)"
    )
    gc.add_argument("--dtype", choices=DTYPE_CHOICES, default="float64")
    gc.add_argument("--seed", type=int_at_least(0), default=0)
    gc.add_argument(
        "--l2", type=nonnegative_float, default=0.01, help="L2 strength (default 0.01)"
    )
    gc.add_argument(
        "--points",
        type=int_at_least(1),
        default=256,
        help="random parameter points for the certificate and witness (default 256)",
    )
    gc.add_argument("--json", action="store_true", help="print one JSON object")


def handle(args: argparse.Namespace) -> int:
    """Run the checks; print the table (or one JSON object); 0 passed, 1 failed."""
    from jaxlogloss.model.verification import gradcheck

    report = gradcheck(
        args.loss,
        n=args.n,
        d=args.d,
        n_classes=args.classes,
        dtype=args.dtype,
        seed=args.seed,
        l2=args.l2,
        n_points=args.points,
    )
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(format_gradcheck(report))
    return 0 if report.passed else 1


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2e}"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as aligned columns (first left, others right), a rule under the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for i, r in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(widths[j]) if j == 0 else cell.rjust(widths[j])
                for j, cell in enumerate(r)
            )
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def format_gradcheck(report: GradcheckReport) -> str:
    """The human-readable table, certificates and witness of a gradcheck report."""
    s = report.settings
    lines = [
        f"jaxlogloss gradcheck: loss={s['loss']} n={s['n']} d={s['d']} "
        f"dtype={s['dtype']} seed={s['seed']} l2={s['l2']:g} (weights in [0.5, 2])",
        "",
    ]
    rows = [("check", "max abs err", "max rel err", "tolerance", "result")]
    for c in report.checks:
        rows.append(
            (
                c.name,
                _fmt(c.max_abs_error),
                _fmt(c.max_rel_error),
                "-" if c.max_rel_error is None else f"{c.tolerance:.0e}",
                "PASS" if c.passed else "FAIL",
            )
        )
    lines += _table(rows)
    lines.append("")
    for cert in report.certificates:
        lines.append(
            f"convexity certificate ({cert.loss}): min Hessian eigenvalue "
            f"{cert.min_eigenvalue:.3e} >= -{cert.tolerance:.1e} over {cert.n_points} "
            f"random points (max eigenvalue {cert.max_eigenvalue:.3e}): "
            f"{'PASS' if cert.passed else 'FAIL'}"
        )
    wit = report.witness
    if wit is not None:
        w = ", ".join(f"{x:.3f}" for x in wit.w)
        lines.append(
            f"non-convexity witness ({wit.loss} on the sigmoid): at w=[{w}], "
            f"b={wit.b:.3f} the Hessian has eigenvalue {wit.min_eigenvalue:.4e} "
            f"(jax.hessian: {wit.autodiff_min_eigenvalue:.4e}) < {wit.threshold:.2e}: "
            f"{'PASS' if wit.passed else 'FAIL'}"
        )
    lines.append("")
    lines.append("ALL CHECKS PASSED" if report.passed else "SOME CHECKS FAILED")
    return "\n".join(lines)
