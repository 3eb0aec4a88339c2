"""The diagnostics layer: R-hat and ESS of draws arrays, the one convergence rule, the posterior reader."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from deepmarkets.errors import InferenceError
from deepmarkets.helpers.defaults import ESS_MIN_PER_CHAIN, RHAT_MAX
from deepmarkets.models.diagnostics import CONVERGENCE_RULE, Diagnostics, diagnose
from deepmarkets.models.fit import convergence_problems
from deepmarkets.models.posterior import read_posterior


def _ar1(gen: np.random.Generator, chains: int, draws: int, params: int, phi: float) -> np.ndarray:
    """Autocorrelated chains (AR(1) with coefficient phi), so that ESS is well below the draw count."""
    x = np.empty((chains, draws, params))
    x[:, 0] = gen.normal(size=(chains, params))
    noise = gen.normal(size=(chains, draws, params)) * math.sqrt(1 - phi**2)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_diagnose_is_the_worst_of_arviz_per_parameter(seed):
    import arviz as az
    import xarray as xr

    gen = np.random.default_rng(seed)
    draws = _ar1(gen, 4, 300, 6, phi=0.8)
    draws[:, :, 2] += np.arange(4)[:, None] * 0.5  # chains that disagree on one parameter
    d = diagnose(draws.reshape(4, 300, 2, 3), divergences=0)  # the trailing axes are flattened
    rhat = az.rhat(draws, chain_axis=0, draw_axis=1)  # ArviZ's numpy layer
    bulk = az.ess(draws, method="bulk", chain_axis=0, draw_axis=1)
    tail = az.ess(xr.Dataset({"x": (("chain", "draw", "p"), draws)}), method="tail")["x"].values
    assert d.max_rhat == pytest.approx(float(np.max(rhat)), rel=1e-12)
    assert d.min_ess_bulk == pytest.approx(float(np.min(bulk)), rel=1e-12)
    assert d.min_ess_tail == pytest.approx(float(np.min(tail)), rel=1e-12)
    assert (d.chains, d.draws, d.parameters, d.divergences) == (4, 300, 6, 0)
    # the worst parameter is the one whose chains disagree
    assert int(np.argmax(rhat)) == 2 and d.max_rhat > RHAT_MAX


def test_constant_parameters_are_left_out_and_one_chain_has_no_rhat():
    gen = np.random.default_rng(5)
    draws = gen.normal(size=(3, 200, 3))
    draws[:, :, 1] = 0.25  # a constant: its R-hat and ESS are NaN, not the extremes
    d = diagnose(draws)
    expected = diagnose(draws[:, :, [0, 2]])
    assert (d.max_rhat, d.min_ess_bulk, d.min_ess_tail) == (expected.max_rhat, expected.min_ess_bulk,
                                                            expected.min_ess_tail)
    assert d.parameters == 3
    one = diagnose(draws[:1])
    assert one.max_rhat is None and one.min_ess_bulk is not None
    assert one.problems()[0] == "one chain: R-hat cannot be computed (use chains >= 2)"
    empty = diagnose(np.zeros((2, 50, 0)))
    assert (empty.max_rhat, empty.min_ess_bulk, empty.min_ess_tail, empty.parameters) == (None, None, None, 0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_stuck_chain_fails_the_rule_by_rhat(seed):
    gen = np.random.default_rng(seed)
    draws = gen.normal(size=(4, 200, 2))
    draws[3] = 5.0  # chain 3 stuck at a value the other chains never reach
    d = diagnose(draws)
    # every draw of chain 3 outranks every other draw: between-chain variance of the ranks is as large as the
    # within-chain variance, so R-hat is about 1.5 for any seed
    assert d.max_rhat > 1.2 > RHAT_MAX
    assert not d.passes
    problems = d.problems()
    assert problems[0].startswith("max R-hat ") and problems[0].endswith(f" > {RHAT_MAX}")
    assert float(problems[0].split()[2]) == pytest.approx(d.max_rhat, abs=5e-4)
    assert convergence_problems(d) == problems


def test_divergences_fail_the_rule_whatever_the_other_statistics():
    good = Diagnostics(max_rhat=1.0, min_ess_bulk=1000.0, min_ess_tail=1000.0, divergences=0, chains=4, draws=500)
    assert good.passes and good.problems() == []
    one = Diagnostics(max_rhat=1.0, min_ess_bulk=1000.0, min_ess_tail=1000.0, divergences=1, chains=4, draws=500)
    assert not one.passes and one.problems() == ["1 divergent transition"]
    d = diagnose(np.random.default_rng(0).normal(size=(2, 100, 1)), divergences=7)
    assert d.divergences == 7 and "7 divergent transitions" in d.problems() and not d.passes
    with pytest.raises(InferenceError, match="divergences=-1"):
        diagnose(np.zeros((2, 10, 1)), divergences=-1)


def test_ess_bound_is_per_chain_and_inclusive():
    need = ESS_MIN_PER_CHAIN * 3
    at = Diagnostics(max_rhat=RHAT_MAX, min_ess_bulk=need, min_ess_tail=need, divergences=0, chains=3, draws=400)
    assert at.passes
    below = Diagnostics(max_rhat=RHAT_MAX, min_ess_bulk=need - 0.5, min_ess_tail=need, divergences=0, chains=3,
                        draws=400)
    assert below.problems() == [f"min bulk ESS {need - 0.5!r} < {need} ({ESS_MIN_PER_CHAIN} per chain x 3 chains)"]
    assert Diagnostics.rule == CONVERGENCE_RULE == at.rule


def test_to_dict_is_strict_json_and_round_trips():
    d = diagnose(np.random.default_rng(1).normal(size=(1, 80, 2)), gauge="none", seconds=float("nan"),
                 worst=np.float64(np.inf))
    out = d.to_dict()
    text = json.dumps(out, allow_nan=False)  # raises on NaN or infinity
    back = json.loads(text)
    assert back["max_rhat"] is None and back["seconds"] is None and back["worst"] is None
    assert back["gauge"] == "none" and back["chains"] == 1 and back["draws"] == 80
    assert list(back) == ["max_rhat", "min_ess_bulk", "min_ess_tail", "divergences", "chains", "draws",
                          "parameters", "gauge", "seconds", "worst"]
    again = Diagnostics.from_mapping(back)
    assert (again.min_ess_bulk, again.min_ess_tail, again.chains, again["gauge"]) == (
        d.min_ess_bulk, d.min_ess_tail, 1, "none")
    assert again.problems() == d.problems()


def test_diagnostics_read_as_a_mapping():
    d = Diagnostics(max_rhat=1.02, min_ess_bulk=500.0, min_ess_tail=450.0, divergences=0, chains=2, draws=300,
                    extra={"gauge": "EM optimum"})
    assert d["max_rhat"] == d.max_rhat == 1.02 and d["gauge"] == "EM optimum"
    assert "gauge" in d and "switched_draws" not in d and d.get("switched_draws", 0) == 0
    with pytest.raises(KeyError):
        d["nothing"]
    more = d.with_extra(switched_draws=3, gauge="pivot")
    assert more["switched_draws"] == 3 and more["gauge"] == "pivot" and d["gauge"] == "EM optimum"
    assert dict(more)["chains"] == 2 and len(more) == 9
    assert Diagnostics.from_mapping(more) is more
    with pytest.raises(InferenceError, match="max_rhat"):
        Diagnostics(max_rhat=1.0, min_ess_bulk=1.0, min_ess_tail=1.0, divergences=0, chains=2, draws=2,
                    extra={"max_rhat": 1.5})
    assert "FAILS" in repr(d) and "max R-hat 1.020" in repr(d)


def test_bad_draws_are_reported():
    with pytest.raises(InferenceError, match=r"expected \(chain, draw, \.\.\.\)"):
        diagnose(np.zeros(10))
    with pytest.raises(InferenceError, match="at least one chain"):
        diagnose(np.zeros((2, 0, 3)))


# ---------------------------------------------------------------------------
# the posterior reader
# ---------------------------------------------------------------------------


def _tree(gen, C=2, D=5, J=3, K=2, L=4, Q=6, diverging=None):
    import xarray as xr

    response = gen.dirichlet(np.ones(L), size=(C, D, J, K))
    share = gen.dirichlet(np.ones(K), size=(C, D))
    probs = gen.dirichlet(np.ones(K), size=(C, D, Q))
    post = xr.Dataset(
        {
            # stored in another dim order than the layout: the reader puts it right
            "response": (("level", "chain", "class", "draw", "trader"), response.transpose(4, 0, 3, 1, 2)),
            "class_share": (("chain", "draw", "class"), share),
            "class_probability": (("chain", "draw", "question", "class"), probs),
        },
        coords={"class": ["a", "b"], "level": [1, 2, 3, 4], "trader": ["x", "y", "z"],
                "question": [f"q{i}" for i in range(Q)]},
    )
    groups = {"posterior": post}
    if diverging is not None:
        groups["sample_stats"] = xr.Dataset({"diverging": (("chain", "draw"), diverging)})
    return xr.DataTree.from_dict(groups), share, response, probs


def test_read_posterior_gives_the_layout_whatever_the_stored_dim_order():
    gen = np.random.default_rng(0)
    diverging = np.zeros((2, 5), dtype=bool)
    diverging[1, [0, 3]] = True
    tree, share, response, probs = _tree(gen, diverging=diverging)
    post = read_posterior(tree)
    assert (post.chains, post.draws, post.divergences) == (2, 5, 2)
    assert np.array_equal(post.values("response"), response)
    assert post.dims("response") == ("chain", "draw", "trader", "class", "level")
    # flat: draw s is chain s // draws, draw s % draws
    flat = post.flat("class_share")
    assert flat.shape == (10, 2) and np.array_equal(flat[7], share[1, 2])
    assert np.allclose(post.mean("class_probability"), probs.mean(axis=(0, 1)))
    assert post.coords == {"class": ("a", "b"), "trader": ("x", "y", "z"), "level": ("1", "2", "3", "4"),
                           "question": tuple(f"q{i}" for i in range(6))}
    assert "mean" not in post and "response" in post
    with pytest.raises(InferenceError, match="no 'mean'"):
        post.values("mean")


def test_read_posterior_rejects_other_layouts():
    import xarray as xr

    gen = np.random.default_rng(1)
    share = xr.Dataset({"class_share": (("chain", "draw", "k"), np.ones((1, 2, 2)))})
    bad = xr.DataTree.from_dict({"posterior": share})
    with pytest.raises(InferenceError, match=r"'class_share' has dims \('chain', 'draw', 'k'\)"):
        read_posterior(bad)
    no_draws = xr.DataTree.from_dict({"posterior": xr.Dataset({"class_share": (("class",), np.ones(2))})})
    with pytest.raises(InferenceError, match="expected chain and draw"):
        read_posterior(no_draws)
    with pytest.raises(InferenceError, match="posterior group"):
        read_posterior(np.zeros(3))
    tree, *_ = _tree(gen)
    assert read_posterior(tree).divergences == 0  # no sample_stats: none recorded


def test_gauge_fixing_judges_the_fixed_draws_with_the_run_divergences():
    from deepmarkets.models.relabel import fix_gauge

    gen = np.random.default_rng(2)
    diverging = np.zeros((2, 5), dtype=bool)
    diverging[0, 1] = True
    tree, *_ = _tree(gen, diverging=diverging)
    res = fix_gauge(tree, method="pivot", pivot=0)
    assert isinstance(res.after, Diagnostics) and isinstance(res.before, Diagnostics)
    assert res.before.divergences == res.after.divergences == 1
    assert "1 divergent transition" in res.after.problems()
    assert json.dumps(res.to_dict(), allow_nan=False)
