"""The claims S1-S13 of the source texts (and R1-R4, regularisation; F1-F3, separation), each a numeric check with its evidence.

Every check takes the run's :class:`~jaxlogloss.experiments.types.Context` (config,
data, trained runs) and returns a :class:`~jaxlogloss.experiments.types.ClaimResult`:
the claim, the check as a sentence with its numbers ("S3 MSE Hessian min eigenvalue
-0.031 < 0"), the verdict, and figures/tables. Each module registers its checks with
``@claim("S3")`` (:mod:`.registry`); importing this package loads them all, so
:data:`CLAIMS` maps every id to its check. ``"compare"`` (the optimizer comparison) is
not a claim: the runner adds it when a config names several optimizers.

=====================  =========================================================
module                 claims
=====================  =========================================================
linear_vs_logistic     S1 a line leaves [0, 1], S2 the sigmoid, S9 one loop
convexity              S3 MSE non-convex, S7 log-loss convex, S13 vanishing grads
basics                 S4 the cost curves, S5 the worked example
likelihood             S6 maximum likelihood, S8 the gradient's form
accuracy               S10 accuracy is not differentiable, S11 optimise vs evaluate
case_study             S12 jackets and cardigans
regularisation         R1 the L1 path, R2 CV, R3 support recovery, R4 class weights
separation             F1 ML runs off, F2 Firth and L2 finite, F3 shrinking margin
optimizers             the optimizer comparison
=====================  =========================================================
"""

from jaxlogloss.experiments.claims.accuracy import (
    s10_accuracy_not_differentiable,
    s11_optimise_log_loss_evaluate_accuracy,
)
from jaxlogloss.experiments.claims.basics import s4_cost_curves, s5_worked_example
from jaxlogloss.experiments.claims.case_study import s12_case_study
from jaxlogloss.experiments.claims.convexity import (
    s3_mse_nonconvex,
    s7_log_loss_convex,
    s13_vanishing_mse_gradient,
)
from jaxlogloss.experiments.claims.likelihood import s6_mle, s8_gradient_form
from jaxlogloss.experiments.claims.linear_vs_logistic import (
    s1_linear_outside_unit_interval,
    s2_sigmoid_range,
    s9_same_loop,
)
from jaxlogloss.experiments.claims.optimizers import optimizer_comparison
from jaxlogloss.experiments.claims.registry import CLAIMS, claim, claim_ids
from jaxlogloss.experiments.claims.regularisation import (
    r1_path,
    r2_cross_validation,
    r3_support_recovery,
    r4_class_weights,
)
from jaxlogloss.experiments.claims.separation import (
    f1_ml_runs_off,
    f2_firth_and_l2_finite,
    f3_shrinking_margin,
)

__all__ = [
    "CLAIMS",
    "claim",
    "claim_ids",
    "f1_ml_runs_off",
    "f2_firth_and_l2_finite",
    "f3_shrinking_margin",
    "optimizer_comparison",
    "r1_path",
    "r2_cross_validation",
    "r3_support_recovery",
    "r4_class_weights",
    "s1_linear_outside_unit_interval",
    "s2_sigmoid_range",
    "s3_mse_nonconvex",
    "s4_cost_curves",
    "s5_worked_example",
    "s6_mle",
    "s7_log_loss_convex",
    "s8_gradient_form",
    "s9_same_loop",
    "s10_accuracy_not_differentiable",
    "s11_optimise_log_loss_evaluate_accuracy",
    "s12_case_study",
    "s13_vanishing_mse_gradient",
]
