"""Offsets, robust covariances, model statistics, tests and marginal effects, each
against statsmodels (float64, data generated here) or the expanded-data identity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps

import jaxlogloss as jl
from jaxlogloss.precision import enable_x64

sm_logit = sm.Logit
RTOL = 1e-6


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1234)
    n, d = 400, 3
    X = rng.normal(size=(n, d)) * [1.0, 2.0, 0.5] + [0.0, 1.0, -2.0]
    groups = rng.integers(0, 17, n)
    offset = 0.4 * rng.normal(size=n)
    z = X @ [0.8, -0.4, 0.6] + 0.3 + offset + 0.5 * rng.normal(size=17)[groups]
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    weights = rng.integers(1, 4, n).astype(float)
    return X, y, groups, offset, weights


@pytest.fixture(scope="module")
def fits(data):
    X, y, groups, offset, _ = data
    with enable_x64():
        return {
            "nonrobust": jl.fit(X, y),
            "HC0": jl.fit(X, y, cov_type="HC0"),
            "cluster": jl.fit(X, y, cov_type="cluster", groups=groups),
            "offset": jl.fit(X, y, offset=offset),
            "reduced": jl.fit(X[:, :1], y),
        }


@pytest.fixture(scope="module")
def sm_fits(data):
    X, y, groups, _, _ = data
    Xc = sm.add_constant(X)
    return {
        "nonrobust": sm_logit(y, Xc).fit(disp=0, tol=1e-12),
        "HC0": sm_logit(y, Xc).fit(disp=0, cov_type="HC0"),
        "cluster": sm_logit(y, Xc).fit(
            disp=0, cov_type="cluster", cov_kwds={"groups": groups}
        ),
    }


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster"])
def test_covariances_equal_statsmodels_logit(fits, sm_fits, cov_type):
    ours, ref = fits[cov_type], sm_fits[cov_type]
    np.testing.assert_allclose(ours.inference.coef, ref.params, rtol=RTOL)
    np.testing.assert_allclose(ours.inference.covariance, ref.cov_params(), rtol=RTOL)
    np.testing.assert_allclose(ours.inference.p_value, ref.pvalues, rtol=1e-5)
    assert ours.cov_type == ours.to_dict()["cov_type"] == cov_type


def test_offset_equals_statsmodels_glm(data, fits):
    X, y, _, offset, _ = data
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), offset=offset)
    ref = ref.fit(tol=1e-12)
    ours = fits["offset"]
    np.testing.assert_allclose(ours.inference.coef, ref.params, rtol=RTOL)
    np.testing.assert_allclose(ours.inference.std_err, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(
        [ours.llf, ours.llnull], [ref.llf, ref.llnull], rtol=1e-9
    )
    # the offset moved the estimate: the plain fit differs
    assert not np.allclose(ours.coef, fits["nonrobust"].coef, rtol=1e-3)


def test_likelihood_statistics_equal_statsmodels(fits, sm_fits):
    ours, ref = fits["nonrobust"], sm_fits["nonrobust"]
    got = [ours.llf, ours.llnull, ours.aic, ours.bic, ours.pseudo_r2]
    want = [ref.llf, ref.llnull, ref.aic, ref.bic, ref.prsquared]
    np.testing.assert_allclose(got, want, rtol=1e-9)
    out = ours.to_dict()
    np.testing.assert_allclose(
        [out[k] for k in ("llf", "llnull", "aic", "bic", "pseudo_r2")], want, rtol=1e-9
    )
    assert "AIC" in ours.summary() and "pseudo R2" in ours.summary()
    np.testing.assert_allclose(ours.llf, -ours.log_loss * ours.n_samples, rtol=1e-12)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
@pytest.mark.parametrize("names", [["x1"], ["x0", "x2"], ["intercept", "x1"]])
def test_wald_test_equals_statsmodels(fits, sm_fits, cov_type, names):
    ours = fits[cov_type].wald_test(names)
    idx = [["intercept", "x0", "x1", "x2"].index(n) for n in names]
    ref = sm_fits[cov_type].wald_test(np.eye(4)[idx], scalar=True, use_f=False)
    np.testing.assert_allclose(ours.statistic, ref.statistic, rtol=1e-8)
    np.testing.assert_allclose(ours.p_value, ref.pvalue, rtol=1e-6, atol=1e-300)
    assert ours.df == len(names)


def test_wald_test_rejects_unknown_or_repeated_names(fits):
    with pytest.raises(ValueError, match="names must be coefficient names"):
        fits["nonrobust"].wald_test(["nope"])
    with pytest.raises(ValueError, match="repeats"):
        fits["nonrobust"].wald_test(["x0", "x0"])


def test_lr_test_equals_the_statsmodels_likelihoods(data, fits):
    X, y, *_ = data
    full, reduced = fits["nonrobust"], fits["reduced"]
    llf_full = sm_logit(y, sm.add_constant(X)).fit(disp=0).llf
    llf_red = sm_logit(y, sm.add_constant(X[:, :1])).fit(disp=0).llf
    stat = 2 * (llf_full - llf_red)
    got = jl.lr_test(full, reduced)
    np.testing.assert_allclose(got.statistic, stat, rtol=1e-8)
    assert got.df == 2
    np.testing.assert_allclose(got.p_value, sps.chi2.sf(stat, 2), rtol=1e-6)


def test_lr_test_refuses_models_that_are_not_nested(data, fits):
    X, y, *_ = data
    full, reduced = fits["nonrobust"], fits["reduced"]
    with pytest.raises(ValueError, match="rows"):
        jl.lr_test(full, fits["reduced"].__class__(**{**vars(reduced), "n_samples": 3}))
    with enable_x64():
        other_rows = jl.fit(X[::-1][:, :1], 1 - y[::-1])
        renamed = jl.fit(X[:, :1], y, feature_names=("z",))
    with pytest.raises(ValueError, match="positives"):
        jl.lr_test(full, other_rows)
    with pytest.raises(ValueError, match="proper subset"):
        jl.lr_test(full, renamed)
    with pytest.raises(ValueError, match="proper subset"):
        jl.lr_test(reduced, full)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_marginal_effects_equal_statsmodels_get_margeff(fits, sm_fits, cov_type):
    ours = fits[cov_type].marginal_effects()
    ref = sm_fits[cov_type].get_margeff(at="overall", method="dydx")
    np.testing.assert_allclose(ours.effect, ref.margeff, rtol=1e-8)
    np.testing.assert_allclose(ours.std_err, ref.margeff_se, rtol=1e-5)
    np.testing.assert_allclose(ours.p_value, ref.pvalues, rtol=1e-4, atol=1e-12)
    low, high = ref.conf_int().T
    np.testing.assert_allclose(ours.ci_low, low, rtol=1e-5)
    np.testing.assert_allclose(ours.ci_high, high, rtol=1e-5)
    assert set(ours.to_dict()) == {"x0", "x1", "x2"} and "x2" in ours.summary()


def test_frequency_weights_equal_the_expanded_rows(data):
    """A row of weight c counts as c rows (in the same cluster): llf, AIC and every
    covariance equal the fit on the repeated rows (400 of them: the shape of the
    other fits, so nothing compiles again for it)."""
    X, y, groups, _, _ = data
    rng = np.random.default_rng(7)
    w = rng.permutation(np.repeat([1.0, 2.0, 3.0], [50, 100, 50]))  # sums to 400
    rep = np.repeat(np.arange(200), w.astype(int))
    with enable_x64():
        for cov, g in [("HC0", None), ("cluster", groups[:200])]:
            a = jl.fit(X[:200], y[:200], sample_weight=w, cov_type=cov, groups=g)
            b = jl.fit(
                X[rep], y[rep], cov_type=cov, groups=None if g is None else g[rep]
            )
            np.testing.assert_allclose(a.inference.covariance, b.inference.covariance,
                                       rtol=1e-7)  # fmt: skip
            np.testing.assert_allclose([a.llf, a.aic, a.bic], [b.llf, b.aic, b.bic],
                                       rtol=1e-10)  # fmt: skip


def test_streamed_and_sharded_hc0_equal_in_memory(tmp_path, data, fits):
    X, y, groups, *_ = data
    frame = pd.DataFrame(X, columns=["x0", "x1", "x2"]).assign(y=y.astype(int))
    frame.to_csv(tmp_path / "d.csv", index=False)
    stream = jl.open_stream(tmp_path / "d.csv", target="y", dtype="float64",
                            batch_rows=128)  # fmt: skip
    with enable_x64():
        streamed = jl.fit(stream, cov_type="HC0")
        sharded = jl.fit(X, y, cov_type="HC0", mesh=jl.data_mesh())
    want = fits["HC0"]
    for got in (streamed, sharded):
        np.testing.assert_allclose(got.inference.covariance, want.inference.covariance,
                                   rtol=1e-7)  # fmt: skip
        np.testing.assert_allclose([got.llf, got.llnull], [want.llf, want.llnull],
                                   rtol=1e-10)  # fmt: skip
        np.testing.assert_allclose(got.marginal_effects().std_err,
                                   want.marginal_effects().std_err, rtol=1e-7)  # fmt: skip
    with enable_x64():  # cluster over a mesh: the group sums on the unsharded rows
        sharded = jl.fit(X, y, cov_type="cluster", groups=groups, mesh=jl.data_mesh())
    np.testing.assert_allclose(sharded.inference.covariance,
                               fits["cluster"].inference.covariance, rtol=1e-7)  # fmt: skip
    # cluster over a stream: one more pass adding the batches' scores by group id
    with enable_x64():
        streamed = jl.fit(stream, cov_type="cluster", groups=groups)
        # two "processes", each over its own row range: their tables are added
        tables = []
        stream_range_meat(stream, groups, (150, 400),
                          gather=lambda t: tables.append(t) or t[None])  # fmt: skip
        two = stream_range_meat(stream, groups, (0, 150),
                                gather=lambda t: np.stack([t, tables[0]]))  # fmt: skip
        one = stream_range_meat(stream, groups, (0, 400))
    np.testing.assert_allclose(streamed.inference.covariance,
                               fits["cluster"].inference.covariance, rtol=1e-7)  # fmt: skip
    np.testing.assert_allclose(two, one, rtol=1e-12)
    with pytest.raises(ValueError, match=r"groups has shape \(5,\).*expected shape"):
        jl.fit(stream, cov_type="cluster", groups=groups[:5])
    with pytest.raises(ValueError, match="offset needs the data in memory"):
        jl.fit(stream, offset=np.zeros(len(y)))


def stream_range_meat(stream, groups, rows, gather=None):
    """The uncorrected cluster meat of the stream rows [start, stop) (theta fixed),
    with ``gather`` standing for the other processes' group-sum tables."""
    from jaxlogloss.fitting.covariance import check_cov_type, streamed_cluster_meat
    from jaxlogloss.model.scaling import identity_scaling
    from jaxlogloss.model.streamed import BatchSource, StreamedObjective, local_only

    source = BatchSource(stream, rows[0], rows[1], 64)
    objective = StreamedObjective(
        source, identity_scaling(3, np.float64), 0.0, "float64",
        gather=local_only if gather is None else gather,
    )  # fmt: skip
    spec = check_cov_type("fit", "cluster", groups, None, objective)
    return streamed_cluster_meat(objective, np.array([0.3, -0.2, 0.1, 0.05]), spec)


def test_bad_arguments_are_named(data):
    X, y, groups, offset, _ = data
    cases = [
        (dict(cov_type="HC1"), "cov_type must be one of nonrobust, HC0, cluster"),
        (dict(cov_type="cluster"), "needs groups="),
        (dict(groups=groups), "groups is used with cov_type='cluster' only"),
        (dict(cov_type="cluster", groups=groups[:5]), r"expected shape \(400,\)"),
        (dict(cov_type="cluster", groups=np.zeros(400)), "at least 2 groups"),
        (dict(cov_type="cluster", groups=np.array(["a", None] * 200)), "one kind"),
        (dict(offset=offset[:5]), r"offset has shape \(5,\)"),
        (dict(offset=np.full(400, np.nan)), "offset must be finite"),
        (dict(offset=offset, solver="adam"), "offset needs solver newton"),
        (dict(offset=offset, mesh=jl.data_mesh()), "offset is not available with mesh"),
        (
            dict(
                cov_type="cluster",
                groups=groups,
                mesh=jl.data_mesh(),
                process_local=True,
            ),
            "every row in each process",
        ),  # fmt: skip
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            jl.fit(X, y, **kwargs)
