"""Gauge symmetries: closed-form dimensions, brute-force relabellings, exact null spaces, and gauge fixing."""

from __future__ import annotations

import doctest
import itertools
import json
import math
import warnings
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from deepmarkets.errors import DeclarationError, InferenceError
from deepmarkets.models import gauge, relabel, symbolic
from deepmarkets.models.fit import convergence_problems
from deepmarkets.models.gauge import ContinuousGauge, GaugeGroup, check_symmetry, continuous_gauge, discrete_gauge
from deepmarkets.models.gauge import continuous as gauge_continuous
from deepmarkets.models.gauge import discrete as gauge_discrete
from deepmarkets.models.metrics import adjusted_rand_index
from deepmarkets.models.relabel import GaugeFixing, fix_gauge, permute_classes, plot_gauge_fixing
from deepmarkets.models.symbolic import SymbolicModel, factor_model, from_latent_market, latent_class_model

# ---------------------------------------------------------------------------
# the symbolic models
# ---------------------------------------------------------------------------


def _patterns_numpy(shares, theta):
    """P(pattern) of a latent class model by brute force over the patterns (theta[k][j] a level distribution)."""
    K, J = len(shares), len(theta[0])
    out = []
    for x in itertools.product(*(range(len(theta[0][j])) for j in range(J))):
        out.append(sum(shares[k] * math.prod(theta[k][j][x[j]] for j in range(J)) for k in range(K)))
    return np.array(out[:-1])


def _lca_point(m, K, levels, gen):
    """A random point of latent_class_model(K, levels) and the same parameters as tables."""
    shares = gen.dirichlet(np.ones(K) * 3)
    theta = [[gen.dirichlet(np.ones(L) * 2) for L in levels] for _ in range(K)]
    values = {}
    for k in range(K - 1):
        values[sympy.Symbol(f"P(Y={k + 1})", positive=True)] = shares[k]
    for k in range(K):
        for j, L in enumerate(levels):
            for lv in range(L - 1):
                values[sympy.Symbol(f"P(X{j + 1}={lv + 1}|Y={k + 1})", positive=True)] = theta[k][j][lv]
    return [values[p] for p in m.parameters], shares, theta


def test_latent_class_model_counts_and_matches_brute_force():
    levels = [2, 3, 2]
    m = latent_class_model(3, levels)
    assert m.n_parameters == (3 - 1) + 3 * sum(L - 1 for L in levels)
    assert m.n_observables == math.prod(levels) - 1
    assert m.n_classes == 3 and len(m.class_blocks[0]) == 1 + sum(L - 1 for L in levels)
    gen = np.random.default_rng(0)
    x, shares, theta = _lca_point(m, 3, levels, gen)
    assert np.allclose(m.evaluate(x), _patterns_numpy(shares, theta), atol=1e-14)
    # the same model from one number of levels
    assert latent_class_model(2, 2, items=4).n_parameters == latent_class_model(2, [2, 2, 2, 2]).n_parameters == 9


def test_fixed_prior_is_exact_and_validated():
    m = latent_class_model(3, 2, items=2, prior=[0.2, 0.3, 0.5])
    assert [str(b[0]) for b in m.class_blocks] == ["1/5", "3/10", "1/2"]
    assert m.n_parameters == 3 * 2
    with pytest.raises(DeclarationError, match="summing to exactly 1"):
        latent_class_model(3, 2, items=2, prior=[0.2, 0.3, 0.4])
    with pytest.raises(DeclarationError, match="items"):
        latent_class_model(3, 2)
    with pytest.raises(DeclarationError, match="levels"):
        latent_class_model(3, [2, 1])


def test_factor_model_covariance():
    m = factor_model(4, 2)
    assert m.n_parameters == 4 * 2 + 4 and m.n_observables == 10
    gen = np.random.default_rng(1)
    lam, psi = gen.normal(size=(4, 2)), gen.uniform(0.2, 1, size=4)
    x = list(lam.ravel()) + list(psi)
    sigma = lam @ lam.T + np.diag(psi)
    assert np.allclose(m.evaluate(x), sigma[np.triu_indices(4)], atol=1e-14)


def test_symbolic_model_validation_and_constraints():
    a, b, c, d = sympy.symbols("a b c d")
    with pytest.raises(DeclarationError, match="not parameters"):
        SymbolicModel([a], [a + b])
    with pytest.raises(DeclarationError, match="repeat"):
        SymbolicModel([a, a], [a])
    with pytest.raises(DeclarationError, match="same length"):
        SymbolicModel([a, b, c], [a + b + c], class_blocks=[[a, c], [b]])
    with pytest.raises(DeclarationError, match="twice"):
        SymbolicModel([a, b], [a + b], class_blocks=[[a], [a]])
    with pytest.raises(DeclarationError, match="linear in none"):
        SymbolicModel([a, b], [a * b], constraints=[a**2 + b**2 - 1 + a * b])
    m = SymbolicModel([a, b, c], [a * b, c], constraints=[sympy.Eq(a + b + c, 1)], fixed={d: 2})
    assert m.parameters == (a, b) and m.eliminated == {c: 1 - a - b}
    assert m.observables[1] == 1 - a - b
    m2 = SymbolicModel([a, b, d], [a + d * b], fixed={d: 0.5})
    assert m2.parameters == (a, b) and m2.observables[0] == a + b / 2
    assert json.dumps(m.to_dict()) and "SymbolicModel" in repr(m) and "parameters" in m._repr_markdown_()


def test_jacobian_matches_sympy_diff():
    m = latent_class_model(2, [2, 3])
    mine = sympy.Matrix(m.jacobian())
    ref = sympy.Matrix(m.observables).jacobian(m.parameters)
    assert sympy.expand(mine - ref) == sympy.zeros(*ref.shape)
    x = [float(v) for v in m.random_point(3)]
    ref_f = sympy.lambdify(m.parameters, ref, "numpy")(*x)
    assert np.allclose(m.jacobian_at(x), np.asarray(ref_f, dtype=float), atol=1e-14)


# ---------------------------------------------------------------------------
# the continuous gauge: the acceptance table
# ---------------------------------------------------------------------------

TABLE = [
    ("LCA K=2 J=2", lambda: latent_class_model(2, 2, items=2), 2),
    ("LCA K=2 J=3", lambda: latent_class_model(2, 2, items=3), 0),
    ("LCA K=3 J=3", lambda: latent_class_model(3, 2, items=3), 4),
    ("LCA K=3 J=5", lambda: latent_class_model(3, 2, items=5), 0),
    ("factor p=6 m=2", lambda: factor_model(6, 2), 1),
    ("factor p=6 m=3", lambda: factor_model(6, 3), 3),
]


@pytest.mark.parametrize("name,make,dim", TABLE, ids=[t[0] for t in TABLE])
def test_continuous_gauge_dimensions(name, make, dim):
    m = make()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no disagreement between points or arithmetics
        g = continuous_gauge(m, rng=0)
    assert isinstance(g, ContinuousGauge)
    assert g.dimension == dim
    assert g.exact and g.consistent and set(g.float_ranks) == set(g.exact_ranks) == {m.n_parameters - dim}
    assert g.generators.shape == (m.n_parameters, dim)
    jac = m.jacobian_at(list(g.point))
    assert np.abs(jac @ g.generators).max(initial=0.0) <= 1e-10 * max(1.0, np.abs(jac).max())
    assert np.allclose(g.generators.T @ g.generators, np.eye(dim), atol=1e-10)
    # the exact null space: J v = 0 exactly at the rational point
    import flint

    jx = m.jacobian_at(list(g.point), exact=True)
    assert len(g.exact_generators) == dim
    for v in g.exact_generators:
        col = flint.fmpq_mat(m.n_parameters, 1, [flint.fmpq(f.numerator, f.denominator) for f in v])
        assert all(e == 0 for e in (jx * col).entries())
    if dim:
        assert g.gap is None or g.gap > 1e6
    d = g.to_dict()
    assert json.dumps(d) and d["dimension"] == dim
    assert f"dimension {dim}" in repr(g) and "continuous gauge" in g._repr_markdown_()


def test_float_rank_alone_agrees_and_states_its_tolerance():
    g = continuous_gauge(latent_class_model(3, 2, items=3), exact=False, points=4, tol=1e-9, rng=5)
    assert g.dimension == 4 and g.exact_ranks is None and g.float_ranks == (7, 7, 7, 7) and g.tol == 1e-9


def test_factor_rotations_span_the_null_space():
    """The null space at (Λ, Ψ) is {(Λ A, 0): A skew-symmetric}: the k(k-1)/2 infinitesimal rotations."""
    for p, k in ((6, 2), (6, 3), (7, 3)):
        m = factor_model(p, k)
        g = continuous_gauge(m, rng=1)
        assert g.dimension == k * (k - 1) // 2
        x = np.array([float(v) for v in g.point])
        lam = x[: p * k].reshape(p, k)
        rotations = []
        for i, j in itertools.combinations(range(k), 2):
            A = np.zeros((k, k))
            A[i, j], A[j, i] = 1.0, -1.0
            rotations.append(np.concatenate([(lam @ A).ravel(), np.zeros(p)]))
        R = np.array(rotations).T
        # each rotation lies in the span of the generators, and they have the same dimension
        resid = R - g.generators @ (g.generators.T @ R)
        assert np.abs(resid).max() < 1e-10 * np.abs(R).max()
        assert np.linalg.matrix_rank(R) == g.dimension


def test_one_class_is_identifiable_and_fixed_prior_counts():
    assert continuous_gauge(latent_class_model(1, [2, 3, 4]), rng=0).dimension == 0
    # K=2, J=2 with the prior fixed: 4 parameters, 3 observables
    assert continuous_gauge(latent_class_model(2, 2, items=2, prior=[0.3, 0.7]), rng=0).dimension == 1


def test_non_rational_model_uses_floating_point_only():
    a, b = sympy.symbols("a b", real=True)
    m = SymbolicModel([a, b], [sympy.exp(a + b), a + b])
    g = continuous_gauge(m, rng=0)
    assert g.dimension == 1 and g.exact_ranks is None
    assert np.allclose(np.abs(g.generators[:, 0]), [2 ** -0.5, 2 ** -0.5])
    with pytest.raises(DeclarationError, match="rational functions"):
        continuous_gauge(m, exact=True)


@settings(max_examples=25, deadline=None)
@given(K=st.integers(1, 3), levels=st.lists(st.integers(2, 3), min_size=1, max_size=4), seed=st.integers(0, 10**6))
def test_property_float_and_exact_ranks_agree(K, levels, seed):
    m = latent_class_model(K, levels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = continuous_gauge(m, points=2, rng=seed)
    assert g.float_ranks == g.exact_ranks
    assert g.rank <= min(m.n_parameters, m.n_observables)
    assert g.dimension >= m.n_parameters - m.n_observables
    if K == 1:
        assert g.dimension == 0
    if g.dimension:
        jac = m.jacobian_at(list(g.point))
        assert np.abs(jac @ g.generators).max(initial=0.0) <= 1e-9 * max(1.0, np.abs(jac).max())


# ---------------------------------------------------------------------------
# the discrete gauge
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("prove", ["generators", "all"])
def test_three_class_lca_has_exactly_the_six_relabellings(prove):
    g = discrete_gauge(latent_class_model(3, 2, items=3), prove=prove, rng=0)
    assert isinstance(g, GaugeGroup)
    assert g.order == 6 and g.proven
    assert set(g.permutations()) == set(itertools.permutations(range(3)))
    assert g.elements[0].is_identity and g.elements[0].method == "identity"
    assert "S_3" in g.structure and len(g.generators) == 2
    if prove == "all":
        assert all(e.method in ("identity", "canonical form", "expand") for e in g.elements)
    else:
        assert {e.method for e in g.elements if not e.is_identity and e not in g.generators} <= \
            {"product of proven generators"}
    assert json.dumps(g.to_dict()) and "order 6" in repr(g) and "| element |" in g._repr_markdown_()


def test_the_group_agrees_with_brute_force_on_the_numbers():
    """A permutation is in the group exactly when P(pattern) from the permuted tables is unchanged."""
    gen = np.random.default_rng(2)
    for prior in (None, [0.25, 0.25, 0.5], [0.2, 0.3, 0.5], [Fraction(1, 3)] * 3):
        m = latent_class_model(3, [2, 3], prior=prior)
        g = discrete_gauge(m, rng=1)
        shares = np.array([float(v) for v in prior]) if prior is not None else gen.dirichlet(np.ones(3))
        theta = [[gen.dirichlet(np.ones(L)) for L in (2, 3)] for _ in range(3)]
        base = _patterns_numpy(shares, theta)
        brute = set()
        for perm in itertools.permutations(range(3)):
            # a relabelling moves the response tables; a fixed prior stays where it is
            moved_shares = shares[list(perm)] if prior is None else shares
            if np.allclose(_patterns_numpy(moved_shares, [theta[k] for k in perm]), base, atol=1e-13):
                brute.add(perm)
        assert set(g.permutations()) == brute
    assert discrete_gauge(latent_class_model(3, 2, items=3, prior=[0.2, 0.3, 0.5])).order == 1


def test_unequal_prior_leaves_only_the_identity_and_says_why():
    g = discrete_gauge(latent_class_model(3, 2, items=3, prior=[0.2, 0.3, 0.5]), rng=0)
    assert g.order == 1 and g.structure.startswith("trivial") and g.generators == ()
    assert g.rejected["numeric"] == 5 and g.examples and "changes" in g.examples[0]
    half = discrete_gauge(latent_class_model(3, 2, items=3, prior=[0.25, 0.25, 0.5]), rng=0)
    assert set(half.permutations()) == {(0, 1, 2), (1, 0, 2)}


def test_factor_model_signed_permutations():
    for k in (1, 2, 3):
        g = discrete_gauge(factor_model(5, k), rng=0)
        assert g.order == math.factorial(k) * 2**k and g.proven
        flips = [e for e in g.elements if e.permutation == tuple(range(k))]
        assert len(flips) == 2**k
    g = discrete_gauge(factor_model(4, 2), rng=0)
    assert {e.label for e in g.generators} == {"flip f1", "flip f2", "(f1 f2)"}


def test_partial_and_asymmetric_swaps_are_rejected():
    m = latent_class_model(2, 2, items=3)
    b0, b1 = m.class_blocks
    full = dict(zip(b0, b1, strict=True)) | dict(zip(b1[1:], b0[1:], strict=True))
    # the full swap (the last prior is 1 - P(Y=1): P(Y=1) -> 1 - P(Y=1))
    assert check_symmetry(m, full).holds is True
    responses = dict(zip(b0[1:], b1[1:], strict=True)) | dict(zip(b1[1:], b0[1:], strict=True))
    assert check_symmetry(m, responses).holds is False        # the prior not swapped
    assert check_symmetry(m, {b0[0]: 1 - b0[0]}).holds is False  # only the prior
    one_item = {b0[1]: b1[1], b1[1]: b0[1]}
    res = check_symmetry(m, one_item)
    assert not res and res.observable is not None and res.max_difference > 1e-6
    assert json.dumps(res.to_dict()) and "NOT" in res._repr_markdown_()
    # a block whose fixed entries differ: the swap changes no observable but is not a relabelling
    a, b = sympy.symbols("a b")
    asym = SymbolicModel([a, b], [a + b, a * b], class_blocks=[[a, 1], [b, 2]])
    g = discrete_gauge(asym, rng=0)
    assert g.order == 1 and g.rejected["blocks"] == 1
    sym = SymbolicModel([a, b], [a + b, a * b], class_blocks=[[a, 1], [b, 1]])
    assert discrete_gauge(sym, rng=0).order == 2


def test_symbolic_proof_needs_expansion_when_forms_differ():
    a, b = sympy.symbols("a b")
    m = SymbolicModel([a, b], [a**2 + b * (2 * a + b), a * b], class_blocks=[[a], [b]])
    g = discrete_gauge(m, prove="all", rng=0)
    assert g.order == 2 and g.elements[1].method == "expand"


def test_latent_market_model_has_the_same_gauge():
    from deepmarkets.models.latent_market import LatentMarket

    mk = LatentMarket("m", latent=["a", "b", "c"], observables={"x": ["0", "1"], "y": ["0", "1"], "z": ["u", "v"]})
    m = from_latent_market(mk)
    ref = latent_class_model(3, 2, items=3)
    assert (m.n_parameters, m.n_observables) == (ref.n_parameters, ref.n_observables)
    assert discrete_gauge(m, rng=0).order == 6
    assert continuous_gauge(m, rng=0).dimension == 4
    # the same distribution as the market's at a random state
    state = mk.random_state(rng=4)
    values = mk.values(state)
    x = [values[p] for p in m.parameters]
    assert np.allclose(m.evaluate(x), mk.joint(state).to_numpy()[:-1], atol=1e-12)
    with pytest.raises(DeclarationError):
        from_latent_market("not a market")


def test_discrete_gauge_input_checks():
    a = sympy.Symbol("a")
    with pytest.raises(DeclarationError, match="no class blocks"):
        discrete_gauge(SymbolicModel([a], [a]))
    with pytest.raises(DeclarationError, match="prove"):
        discrete_gauge(latent_class_model(2, 2, items=2), prove="some")
    with pytest.raises(DeclarationError, match="SymbolicModel"):
        discrete_gauge("model")


def test_module_docstring_examples():
    failures = tried = 0
    for module in (symbolic, gauge, gauge_discrete, gauge_continuous, relabel):
        f, t = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        failures, tried = failures + f, tried + t
    assert tried > 10 and failures == 0


# ---------------------------------------------------------------------------
# gauge fixing on synthetic draws (no sampling)
# ---------------------------------------------------------------------------


def _synthetic_posterior(gen, C=3, D=200, Q=120, K=3, switch="chain"):
    """Draws of a K-class posterior around known class probabilities, then relabelled per chain or per draw."""
    import xarray as xr

    sizes = np.arange(1, K + 1) * Q // (K * (K + 1) // 2)
    truth = gen.permutation(np.repeat(np.arange(K), sizes))  # class shares 1/6, 2/6, 3/6 for K = 3
    Q = len(truth)
    base = np.full((Q, K), 0.05)
    base[np.arange(Q), truth] = 0.9
    base /= base.sum(axis=1, keepdims=True)
    shares = np.bincount(truth, minlength=K) / Q
    S = C * D
    probs = np.stack([np.stack([gen.dirichlet(50 * row) for row in base]) for _ in range(S)])  # (S, Q, K)
    share = np.stack([gen.dirichlet(2000 * shares + 1) for _ in range(S)])  # (S, K)
    if switch == "chain":
        chain_perm = [tuple(gen.permutation(K)) for _ in range(C)]
        perms = np.repeat(np.array(chain_perm), D, axis=0)
    else:
        perms = np.array([gen.permutation(K) for _ in range(S)])
    sw_probs = permute_classes(probs, perms, axis=2)
    sw_share = permute_classes(share, perms, axis=1)
    post = xr.Dataset({
        "class_probability": (("chain", "draw", "question", "class"), sw_probs.reshape(C, D, Q, K)),
        "class_share": (("chain", "draw", "class"), sw_share.reshape(C, D, K)),
        "loglik": (("chain", "draw"), gen.normal(size=(C, D))),
    }, coords={"class": [str(k + 1) for k in range(K)]})
    return xr.DataTree.from_dict({"posterior": post}), truth, perms, probs


@pytest.mark.parametrize("switch", ["chain", "draw"])
@pytest.mark.parametrize("method", ["stephens", "pivot"])
def test_fixing_recovers_the_labelling_up_to_one_global_permutation(method, switch):
    gen = np.random.default_rng(11)
    tree, truth, perms, probs = _synthetic_posterior(gen, switch=switch)
    res = fix_gauge(tree, method=method)
    assert isinstance(res, GaugeFixing) and res.converged
    fixed = res.idata["posterior"]["class_probability"].values.reshape(probs.shape)
    # one global permutation maps the fixed draws onto the unswitched ones
    matches = [g for g in itertools.permutations(range(3)) if np.array_equal(fixed, probs[:, :, list(g)])]
    assert len(matches) == 1
    labels = fixed.mean(axis=0).argmax(axis=1)
    assert adjusted_rand_index(labels, truth) == 1.0
    assert res.before["max_rhat"] > 1.2 if switch == "chain" else True
    assert res.after["max_rhat"] < 1.01
    assert res.relabelled > 0 and res.permutations.shape == (3, 200, 3)
    assert res.idata["sample_stats"]["gauge_permutation"].shape == (3, 200, 3)
    assert json.dumps(res.to_dict()) and "relabelled" in repr(res) and "| before |" in res._repr_markdown_()


def test_fixing_with_a_given_pivot_and_errors():
    gen = np.random.default_rng(3)
    tree, truth, perms, probs = _synthetic_posterior(gen, C=2, D=50, Q=40)
    res = fix_gauge(tree, pivot=probs[0])  # the unswitched first draw: the original labelling comes back
    assert np.array_equal(res.idata["posterior"]["class_probability"].values.reshape(probs.shape), probs)
    res_int = fix_gauge(tree, pivot=0, method="pivot")  # draw 0's labelling: the original up to one relabelling
    fixed = res_int.idata["posterior"]["class_probability"].values.reshape(probs.shape)
    assert any(np.array_equal(fixed, probs[:, :, list(g)]) for g in itertools.permutations(range(3)))
    with pytest.raises(InferenceError, match="pivot"):
        fix_gauge(tree, pivot=np.ones((3, 3)))
    with pytest.raises(InferenceError, match="draw index"):
        fix_gauge(tree, pivot=10_000)
    with pytest.raises(DeclarationError, match="method"):
        fix_gauge(tree, method="ecr")
    no_probs = type(tree).from_dict({"posterior": tree["posterior"].to_dataset().drop_vars("class_probability")})
    with pytest.raises(InferenceError, match="method='pivot'"):
        fix_gauge(no_probs)
    with pytest.raises(InferenceError, match="DataTree"):
        fix_gauge(np.zeros(3))


def test_em_fit_has_nothing_to_fix():
    from deepmarkets.models.data import Reports
    from deepmarkets.models.em import fit_em
    from deepmarkets.models.simulate import simulate_reports

    book, _, _ = simulate_reports(60, 4, classes=2, levels=2, rng=0)
    fit = fit_em(Reports.from_book(book), model="lca", classes=2, rng=0)
    with pytest.raises(InferenceError, match="NUTS"):
        fix_gauge(fit)


# ---------------------------------------------------------------------------
# gauge fixing of a real NUTS posterior whose chains landed in different labellings
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nuts_fit():
    from deepmarkets.models.data import Reports
    from deepmarkets.models.nuts import fit_nuts
    from deepmarkets.models.simulate import simulate_reports

    book, truth, _ = simulate_reports(300, 8, classes=3, levels=3, separation=3.0, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fit = fit_nuts(Reports.from_book(book), model="lca", classes=3, draws=1000, tune=300, chains=4, rng=0)
    return fit, truth


def _switch_chains(fit, chain_perms):
    """The fit with every class-indexed posterior variable of chain c relabelled by chain_perms[c]."""
    import xarray as xr

    post = fit.idata["posterior"].to_dataset()
    C, D = post.sizes["chain"], post.sizes["draw"]
    perms = np.repeat(np.asarray(chain_perms), D, axis=0)
    new = {}
    for name, da in post.data_vars.items():
        if "class" in da.dims:
            dims = ("chain", "draw", *[d for d in da.dims if d not in ("chain", "draw")])
            arr = da.transpose(*dims).values
            flat = arr.reshape(C * D, *arr.shape[2:])
            new[name] = (dims, permute_classes(flat, perms, axis=dims.index("class") - 1).reshape(arr.shape))
    tree = xr.DataTree.from_dict({"posterior": post.assign(new),
                                  "sample_stats": fit.idata["sample_stats"].to_dataset()})
    return replace(fit, idata=tree)


@pytest.mark.parametrize("method", ["stephens", "pivot"])
def test_switched_chains_are_fixed(nuts_fit, method):
    fit, truth = nuts_fit
    own = fix_gauge(fit).after  # the sampler's own R-hat and ESS (a Monte Carlo quantity: bounded loosely)
    assert own["max_rhat"] < 1.05
    switched = _switch_chains(fit, [(0, 1, 2), (1, 2, 0), (2, 0, 1), (1, 0, 2)])
    pivot = fit if method == "pivot" else None   # the pivot method keeps the labelling of the original fit
    res = fix_gauge(switched, method=method, pivot=pivot)
    assert res.before["max_rhat"] > 1.5
    # certain: fixing gives back the sampler's draws, so exactly the sampler's own diagnostics
    assert res.after["max_rhat"] == pytest.approx(own["max_rhat"], rel=1e-9)
    assert res.after["min_ess_bulk"] == pytest.approx(own["min_ess_bulk"], rel=1e-9)
    assert res.after["min_ess_tail"] == pytest.approx(own["min_ess_tail"], rel=1e-9)
    probs = res.idata["posterior"]["class_probability"].mean(("chain", "draw")).values
    assert adjusted_rand_index(probs.argmax(axis=1), truth) >= 0.93
    # the fixed draws are the original ones up to one global relabelling
    orig = fit.idata["posterior"]["class_share"].values
    got = res.idata["posterior"]["class_share"].values
    matches = [g for g in itertools.permutations(range(3)) if np.array_equal(got, orig[..., list(g)])]
    assert len(matches) == 1
    if method == "pivot":
        assert matches == [(0, 1, 2)] and res.relabelled == 3 * 1000
    assert len(set(res.chain_labellings)) == 4
    refit = res.fit
    assert refit is not None and refit.converged == fit.converged
    assert refit.diagnostics["max_rhat"] == res.after["max_rhat"]
    # the fixed fit is judged by the one convergence rule, on the fixed draws' diagnostics
    assert refit.diagnostics["min_ess_tail"] == res.after["min_ess_tail"]
    assert refit.converged == (not convergence_problems(refit.diagnostics))
    assert np.allclose(np.sort(refit.class_shares), np.sort(fit.class_shares), atol=1e-12)
    assert refit.loglik == pytest.approx(fit.loglik, abs=1e-6)
    fig = plot_gauge_fixing(res)
    assert len(fig.axes) == 6
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_an_aligned_posterior_stays_as_it_is(nuts_fit):
    fit, _ = nuts_fit
    res = fix_gauge(fit)
    assert res.relabelled == 0 and res.chain_labellings == [(0, 1, 2)] * 4
    assert res.after["max_rhat"] == pytest.approx(fit.diagnostics["max_rhat"], rel=1e-9)
