"""A scikit-learn estimator over :func:`jaxlogloss.fit` (needs scikit-learn, an optional
extra: ``import jaxlogloss`` does not import it; ``import jaxlogloss.sklearn`` does)."""

from jaxlogloss.sklearn.estimator import LogisticRegression as LogisticRegression

__all__ = ["LogisticRegression"]
