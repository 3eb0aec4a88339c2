"""Natural-latent errors: closed forms, a brute-force reference, the mediator/redund inequality, fits."""

from __future__ import annotations

import copy
import doctest
import itertools
import json
import math
import warnings
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepmarkets.models.natural as natural
from deepmarkets.errors import DeclarationError, InferenceError
from deepmarkets.models.data import Reports
from deepmarkets.models.em import fit_em
from deepmarkets.models.natural import (
    NaturalLatentReport,
    fit_natural_latent_errors,
    latent_class_joint,
    mediator_determines_redund,
    natural_latent_errors,
    plot_natural_latent,
)
from deepmarkets.models.simulate import simulate_reports

EXACT = 1e-10


# ---------------------------------------------------------------------------
# a slow reference: dictionaries of cells, conditional entropies from their definitions
# ---------------------------------------------------------------------------


def _cells(p: np.ndarray) -> dict[tuple[int, ...], float]:
    return {idx: float(p[idx]) for idx in itertools.product(*map(range, p.shape)) if p[idx] > 0}


def _marginal(cells: dict, keep: tuple[int, ...]) -> dict:
    out: dict = defaultdict(float)
    for idx, v in cells.items():
        out[tuple(idx[k] for k in keep)] += v
    return out


def _cond_entropy(cells: dict, target: tuple[int, ...], given_: tuple[int, ...]) -> float:
    """H(target | given) = -sum p(t, g) log2 p(t | g)."""
    joint = _marginal(cells, given_ + target)
    cond = _marginal(cells, given_)
    g = len(given_)
    return -sum(v * math.log2(v / cond[k[:g]]) for k, v in joint.items() if v > 0)


def _cond_mi(cells: dict, a: tuple[int, ...], b: tuple[int, ...], c: tuple[int, ...]) -> float:
    """I(A; B | C) = sum p(a, b, c) log2 [p(a, b, c) p(c) / (p(a, c) p(b, c))]."""
    abc = _marginal(cells, a + b + c)
    ac, bc, cc = _marginal(cells, a + c), _marginal(cells, b + c), _marginal(cells, c)
    na, nb = len(a), len(b)
    total = 0.0
    for k, v in abc.items():
        ka, kb, kc = k[:na], k[na:na + nb], k[na + nb:]
        total += v * math.log2(v * cc[kc] / (ac[ka + kc] * bc[kb + kc]))
    return total


def _reference(p: np.ndarray, block_a: tuple[int, ...], block_b: tuple[int, ...]) -> dict:
    """Every quantity of the report for a joint whose last axis is the latent."""
    n = p.ndim - 1
    lat = (n,)
    cells = _cells(p)
    obs = tuple(range(n))
    h_lat = _cond_entropy(cells, lat, ())
    h_x = _cond_entropy(cells, obs, ())
    h_lat_given_x = _cond_entropy(cells, lat, obs)
    rest = [tuple(j for j in obs if j != i) for i in obs]
    return {
        "mediation": sum(_cond_entropy(cells, (i,), lat) for i in obs) - _cond_entropy(cells, obs, lat),
        "mediation_two_block": _cond_mi(cells, block_a, block_b, lat),
        "stochastic": [_cond_mi(cells, lat, (i,), rest[i]) for i in obs],
        "deterministic": [_cond_entropy(cells, lat, rest[i]) for i in obs],
        "block_a": _cond_entropy(cells, lat, block_a),
        "block_b": _cond_entropy(cells, lat, block_b),
        "mi": h_lat - h_lat_given_x,
        "h_x": h_x,
        "h_lat": h_lat,
    }


def _check_against_reference(p: np.ndarray, report: NaturalLatentReport, tol: float = 1e-9) -> None:
    n = p.ndim - 1
    names = report.observables
    a = tuple(names.index(v) for v in report.partition[0])
    b = tuple(names.index(v) for v in report.partition[1])
    ref = _reference(p, a, b)
    assert report.mediation == pytest.approx(ref["mediation"], abs=tol)
    assert report.mediation_two_block == pytest.approx(ref["mediation_two_block"], abs=tol)
    assert report.redundancy_a == pytest.approx(ref["block_a"], abs=tol)
    assert report.redundancy_b == pytest.approx(ref["block_b"], abs=tol)
    assert report.mutual_information == pytest.approx(ref["mi"], abs=tol)
    assert report.entropy_x == pytest.approx(ref["h_x"], abs=tol)
    assert report.entropy_latent == pytest.approx(ref["h_lat"], abs=tol)
    for i in range(n):
        assert report.stochastic_redundancy[names[i]] == pytest.approx(ref["stochastic"][i], abs=tol)
        assert report.deterministic_redundancy[names[i]] == pytest.approx(ref["deterministic"][i], abs=tol)


def _random_joint(gen: np.random.Generator, shape: tuple[int, ...], alpha: float = 1.0) -> np.ndarray:
    p = gen.dirichlet(np.full(int(np.prod(shape)), alpha)).reshape(shape)
    return p / p.sum()


# ---------------------------------------------------------------------------
# closed forms (exact to 1e-10)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n, K", [(2, 2), (3, 3), (5, 2), (4, 4)])
def test_copies_of_the_latent_have_no_errors(n, K):
    prior = np.random.default_rng(n * 10 + K).dirichlet(np.ones(K))
    p = np.zeros((K,) * (n + 1))
    for k in range(K):
        p[(k,) * (n + 1)] = prior[k]
    r = natural_latent_errors(p, latent=n)
    for key, value in r.errors().items():
        assert abs(value) <= EXACT, key
    h = -float(np.sum(prior * np.log2(prior)))
    assert abs(r.mutual_information - h) <= EXACT and abs(r.entropy_latent - h) <= EXACT
    assert r.natural
    assert all(abs(v) <= EXACT for v in r.errors(normalised=True).values())


@pytest.mark.parametrize("shape, K", [((2, 2), 1), ((2, 3, 2), 1), ((3, 2, 2, 2), 3)])
def test_constant_latent_mediation_is_the_total_correlation(shape, K):
    gen = np.random.default_rng(len(shape))
    q = _random_joint(gen, shape, alpha=0.5)
    p = np.zeros(shape + (K,))
    p[..., K - 1] = q  # all mass on one latent value: Λ is constant
    r = natural_latent_errors(p, latent=-1)

    def h(m):
        m = m[m > 0]
        return -float(np.sum(m * np.log2(m)))

    n = len(shape)
    tc = sum(h(q.sum(axis=tuple(j for j in range(n) if j != i))) for i in range(n)) - h(q)
    assert abs(r.mediation - tc) <= EXACT
    assert all(abs(v) <= EXACT for v in r.deterministic_redundancy.values())
    assert all(abs(v) <= EXACT for v in r.stochastic_redundancy.values())
    assert abs(r.redundancy_a) <= EXACT and abs(r.redundancy_b) <= EXACT
    assert abs(r.mutual_information) <= EXACT and not r.informative
    assert all(math.isnan(v) for v in r.errors(normalised=True).values())
    assert "undefined" in r.verdict and "bits" in r.verdict
    assert r.natural == (tc <= r.tolerance)
    assert r.to_dict()["normalised"]["mediation"] is None


@pytest.mark.parametrize("shape", [(2, 2), (2, 3, 2), (3, 2, 2, 2)])
def test_latent_equal_to_the_whole_observable_tuple(shape):
    gen = np.random.default_rng(sum(shape))
    q = _random_joint(gen, shape, alpha=0.7)
    size = int(np.prod(shape))
    p = np.zeros(shape + (size,))
    for flat, idx in enumerate(itertools.product(*map(range, shape))):
        p[idx + (flat,)] = q[idx]
    r = natural_latent_errors(p, latent=len(shape))
    assert abs(r.mediation) <= EXACT and abs(r.mediation_two_block) <= EXACT
    cells = _cells(q)
    n = len(shape)
    for i, name in enumerate(r.observables):
        h_i_given_rest = _cond_entropy(cells, (i,), tuple(j for j in range(n) if j != i))
        assert abs(r.deterministic_redundancy[name] - h_i_given_rest) <= EXACT
        assert abs(r.stochastic_redundancy[name] - h_i_given_rest) <= EXACT  # H(Λ | X) = 0
    assert abs(r.mutual_information - _cond_entropy(cells, tuple(range(n)), ())) <= EXACT


def test_independent_bits_and_a_latent_that_is_their_xor():
    # X1, X2 fair independent bits, Λ = X1 xor X2: no observable alone says anything about Λ
    p = np.zeros((2, 2, 2))
    for a, b in itertools.product((0, 1), repeat=2):
        p[a, b, a ^ b] = 0.25
    r = natural_latent_errors(p, latent=2)
    assert abs(r.mediation - 1.0) <= EXACT  # given Λ, X1 determines X2: I(X1; X2 | Λ) = 1 bit
    assert all(abs(v - 1.0) <= EXACT for v in r.deterministic_redundancy.values())
    assert all(abs(v - 1.0) <= EXACT for v in r.stochastic_redundancy.values())
    assert abs(r.mutual_information - 1.0) <= EXACT and not r.natural


# ---------------------------------------------------------------------------
# brute force on random small joints
# ---------------------------------------------------------------------------


@st.composite
def joints(draw, min_obs: int = 2, max_obs: int = 4):
    n = draw(st.integers(min_obs, max_obs))
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=n + 1, max_size=n + 1)))
    size = int(np.prod(shape))
    weights = draw(st.lists(st.one_of(st.just(0.0), st.floats(0.01, 1.0)), min_size=size, max_size=size))
    w = np.array(weights)
    if w.sum() == 0:
        w[0] = 1.0
    return (w / w.sum()).reshape(shape)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=joints(), data=st.data())
def test_every_quantity_matches_the_brute_force_reference(p, data):
    n = p.ndim - 1
    latent = data.draw(st.integers(0, n))
    moved = np.moveaxis(p, -1, latent)  # the latent at a random axis
    order = data.draw(st.permutations(list(range(n))))
    cut = data.draw(st.integers(1, n - 1))
    names = [f"x{i}" for i in range(n)]
    partition = ([names[i] for i in order[:cut]], [names[i] for i in order[cut:]])
    r = natural_latent_errors(moved, latent=latent, observables=names, partition=partition)
    _check_against_reference(p, r)
    assert r.mediation_two_block <= r.mediation + 1e-9  # the two-block error never exceeds the n-way one
    for name in names:  # stochastic <= deterministic redundancy
        assert r.stochastic_redundancy[name] <= r.deterministic_redundancy[name] + 1e-9


def test_default_partition_is_first_half_and_rest():
    p = _random_joint(np.random.default_rng(0), (2, 2, 2, 2, 2, 2))
    r = natural_latent_errors(p, latent=5)
    assert r.partition == (("X1", "X2"), ("X3", "X4", "X5"))
    _check_against_reference(p, r)


def test_xarray_dims_order_and_extra_dims():
    xr = pytest.importorskip("xarray")
    gen = np.random.default_rng(4)
    p = _random_joint(gen, (2, 3, 2, 2))
    da = xr.DataArray(p, dims=("a", "b", "c", "lam"))
    r = natural_latent_errors(da.transpose("lam", "c", "a", "b"), latent="lam")
    assert r.observables == ("c", "a", "b") and r.latent == "lam"
    _check_against_reference(np.transpose(p, (2, 0, 1, 3)), r)
    # observables as a subset: the other dims are summed out and said so
    r2 = natural_latent_errors(da, latent="lam", observables=["b", "a"])
    assert r2.observables == ("b", "a") and any("summed out" in note for note in r2.notes)
    _check_against_reference(np.transpose(p.sum(axis=2), (1, 0, 2)), r2)
    with pytest.raises(DeclarationError, match="not a dim"):
        natural_latent_errors(da, latent="nope")
    with pytest.raises(DeclarationError, match="not an observable dim"):
        natural_latent_errors(da, latent="lam", observables=["a", "zz"])


def test_verdict_and_normalisation():
    # a noisy copy: Λ a fair bit, each X_i equal to Λ with probability 0.9
    n, eps = 3, 0.1
    p = latent_class_joint([0.5, 0.5], [np.array([[1 - eps, eps], [eps, 1 - eps]])] * n)
    bits = natural_latent_errors(p, latent=n, tolerance=0.2, normalise=False)
    norm = natural_latent_errors(p, latent=n, tolerance=0.2, normalise=True)
    assert abs(bits.mediation) <= EXACT
    assert bits.natural == (bits.max_deterministic_redundancy <= 0.2)
    assert norm.natural == (norm.max_deterministic_redundancy / norm.mutual_information <= 0.2)
    assert "divided by I(X;Λ)" in norm.verdict and "errors in bits" in bits.verdict
    ratio = norm.errors(normalised=True)
    for key, value in norm.errors().items():
        assert ratio[key] == pytest.approx(value / norm.mutual_information)
    d = json.loads(json.dumps(norm.to_dict()))
    assert d["natural"] == norm.natural and d["sizes"] == {"X1": 2, "X2": 2, "X3": 2, "Λ": 2}
    assert "NaturalLatentReport" in repr(norm) and "| mediation |" in norm._repr_markdown_()


@pytest.mark.parametrize("bad, match", [
    (np.full((2, 2, 2), np.nan), "finite"),
    (np.array([[[0.5, -0.1], [0.3, 0.3]], [[0.0, 0.0], [0.0, 0.0]]]), "non-negative"),
    (np.full((2, 2, 2), 0.9 / 8), r"sum to 0\.9"),
    (np.full((2, 2), 0.25), "at least 2 observables"),
    (np.array(1.0), "scalar"),
    ([["a", "b"]], "not numeric"),
])
def test_bad_joints_raise(bad, match):
    with pytest.raises(DeclarationError, match=match):
        natural_latent_errors(bad, latent=-1)


def test_bad_arguments_raise():
    p = np.full((2, 2, 2, 2), 1 / 16)
    with pytest.raises(DeclarationError, match="axis index"):
        natural_latent_errors(p, latent=4)
    with pytest.raises(DeclarationError, match="axis index"):
        natural_latent_errors(p, latent="Λ")
    with pytest.raises(DeclarationError, match="4 names for 3 observable axes"):
        natural_latent_errors(p, latent=3, observables=["a", "b", "c", "d"])
    with pytest.raises(DeclarationError, match="appears twice"):
        natural_latent_errors(p, latent=3, observables=["a", "a", "b"])
    with pytest.raises(DeclarationError, match="overlap|appears twice"):
        natural_latent_errors(p, latent=3, partition=(["X1", "X2"], ["X2", "X3"]))
    with pytest.raises(DeclarationError, match="neither block"):
        natural_latent_errors(p, latent=3, partition=(["X1"], ["X2"]))
    with pytest.raises(DeclarationError, match="not an observable"):
        natural_latent_errors(p, latent=3, partition=(["X1"], ["X2", "Y"]))
    with pytest.raises(DeclarationError, match="at least one"):
        natural_latent_errors(p, latent=3, partition=([], ["X1", "X2", "X3"]))
    with pytest.raises(DeclarationError, match="two blocks"):
        natural_latent_errors(p, latent=3, partition="X1")
    r = natural_latent_errors(p, latent=3, partition=("X2", ["X1", "X3"]))
    assert r.partition == (("X2",), ("X1", "X3"))
    with pytest.raises(DeclarationError, match="tolerance"):
        natural_latent_errors(p, latent=3, tolerance=-1)


def test_error_message_states_the_sum():
    p = np.full((2, 2, 2), 1 / 8)
    p[0, 0, 0] += 1e-6
    with pytest.raises(DeclarationError) as info:
        natural_latent_errors(p, latent=2)
    assert "1.000001" in str(info.value) and "divide the array by its sum" in str(info.value)
    p[0, 0, 0] -= 1e-6 - 1e-10  # within 1e-9: accepted
    natural_latent_errors(p, latent=2)


# ---------------------------------------------------------------------------
# a mediator determines a redund
# ---------------------------------------------------------------------------


def test_mediator_determines_redund_on_1000_random_joints():
    gen = np.random.default_rng(2024)
    slacks = []
    for t in range(1000):
        n = int(gen.integers(2, 4))
        shape = tuple(int(v) for v in gen.integers(1, 4, size=n + 2))
        alpha = float(gen.choice([0.05, 0.3, 1.0]))  # sparse joints come close to the bound
        p = _random_joint(gen, shape, alpha)
        med, red = n, n + 1
        if t % 2:  # the mediator first, the redund last
            p = np.moveaxis(p, [n, n + 1], [0, n + 1])
            med, red = 0, n + 1
        c = mediator_determines_redund(p, mediator=med, redund=red)
        assert c.holds, c
        assert c.slack >= -1e-12
        assert c.lhs <= c.tight_rhs + 1e-12 and c.tight_rhs <= c.rhs + 1e-12
        slacks.append(c.slack)
    assert min(slacks) < 0.05  # some joints are close to the bound: the test can tell


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=joints(min_obs=3, max_obs=4))
def test_mediator_redund_sides_match_the_brute_force_reference(p):
    # read the last two axes as Λ and Λ'; the observables are the others
    n = p.ndim - 2
    c = mediator_determines_redund(p, mediator=n, redund=n + 1)
    cells = _cells(p)
    a = tuple(range(n // 2))
    b = tuple(range(n // 2, n))
    assert c.lhs == pytest.approx(_cond_entropy(cells, (n + 1,), (n,)), abs=1e-9)
    assert c.eps_med == pytest.approx(_cond_mi(cells, a, b, (n,)), abs=1e-9)
    assert c.redundancy_a == pytest.approx(_cond_entropy(cells, (n + 1,), a), abs=1e-9)
    assert c.redundancy_b == pytest.approx(_cond_entropy(cells, (n + 1,), b), abs=1e-9)
    assert c.holds and c.slack >= -1e-12


def test_mediator_redund_tight_cases():
    # Λ constant, Λ' = X1 = X2 a fair bit: H(Λ'|Λ) = 1 = I(X1; X2), no slack
    p = np.zeros((2, 2, 1, 2))
    p[0, 0, 0, 0] = p[1, 1, 0, 1] = 0.5
    c = mediator_determines_redund(p, mediator=2, redund=3)
    assert abs(c.lhs - 1) <= EXACT and abs(c.eps_med - 1) <= EXACT and abs(c.eps_red) <= EXACT
    assert abs(c.slack) <= EXACT and c.holds
    d = json.loads(json.dumps(c.to_dict()))
    assert d["holds"] and "holds" in repr(c)
    with pytest.raises(DeclarationError, match="different axes"):
        mediator_determines_redund(p, mediator=2, redund=2)
    with pytest.raises(DeclarationError, match="at least 2 observables"):
        mediator_determines_redund(p.sum(axis=1), mediator=1, redund=2)


# ---------------------------------------------------------------------------
# latent class fits
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def separated():
    book, truth, params = simulate_reports(2000, 6, classes=2, levels=2, separation=4.0, rng=1)
    reports = Reports.from_book(book)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fits = {K: fit_em(reports, model="lca", classes=K, rng=0) for K in (1, 2, 3)}
    return reports, fits


def test_well_separated_classes_are_a_natural_latent(separated):
    _, fits = separated
    r = fit_natural_latent_errors(fits[2])
    norm = r.errors(normalised=True)
    assert r.natural and r.source == "empirical"
    assert norm["mediation"] < 0.05 and norm["max_deterministic_redundancy"] < 0.05
    assert r.mutual_information > 0.9
    assert r.observables == tuple(fits[2].reports.traders) and r.latent == "class"


def test_the_empirical_joint_reproduces_the_observed_patterns(separated):
    reports, fits = separated
    r = fit_natural_latent_errors(fits[2])
    freq = pd.Series([tuple(row) for row in reports.wide().tolist()]).value_counts(normalize=True).to_numpy()
    assert r.entropy_x == pytest.approx(-float(np.sum(freq * np.log2(freq))), abs=1e-10)
    post = fits[2].posterior
    share = post.mean(axis=0)
    assert r.entropy_latent == pytest.approx(-float(np.sum(share * np.log2(share))), abs=1e-10)


def test_one_class_or_a_scrambled_posterior_is_not_natural(separated):
    _, fits = separated
    one = fit_natural_latent_errors(fits[1])
    assert not one.informative and not one.natural
    assert one.mediation > 1.0  # the total correlation of the traders' answers
    assert all(math.isnan(v) for v in one.errors(normalised=True).values())
    scrambled = copy.copy(fits[2])
    scrambled.posterior = fits[2].posterior[np.random.default_rng(0).permutation(len(fits[2].posterior))]
    r = fit_natural_latent_errors(scrambled)
    norm = r.errors(normalised=True)
    assert not r.natural and norm["mediation"] > 10 and norm["max_deterministic_redundancy"] > 10


@pytest.mark.parametrize("K", [1, 2, 3])
def test_model_joint_has_no_mediation_error(separated, K):
    _, fits = separated
    r = fit_natural_latent_errors(fits[K], source="model")
    assert abs(r.mediation) <= EXACT and abs(r.mediation_two_block) <= EXACT and r.source == "model"
    p = latent_class_joint(fits[K].class_shares, fits[K].response)
    assert p.shape == (2,) * 6 + (K,) and abs(p.sum() - 1) <= EXACT
    _check_against_reference(p, natural_latent_errors(p, latent=-1, observables=r.observables))


def test_dawid_skene_and_latent_market():
    book, _, _ = simulate_reports(300, 4, classes=3, model="dawid-skene", rng=2)
    fit = fit_em(Reports.from_book(book), model="dawid-skene", classes=None, rng=0)
    r = fit_natural_latent_errors(fit)
    assert r.sizes == {"t1": 3, "t2": 3, "t3": 3, "t4": 3, "class": 3}
    assert abs(fit_natural_latent_errors(fit, source="model").mediation) <= EXACT
    from deepmarkets.models.latent_market import LatentMarket

    m = LatentMarket("m", latent=2, observables={"a": ["0", "1"], "b": ["0", "1"], "c": ["0", "1", "2"]})
    state = m.state_from(prior=[0.3, 0.7], tables={"a": [[0.9, 0.1], [0.2, 0.8]], "b": [[0.7, 0.3], [0.1, 0.9]],
                                                   "c": [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]})
    rm = fit_natural_latent_errors(state, source="model")
    assert rm.observables == ("a", "b", "c") and abs(rm.mediation) <= EXACT
    _check_against_reference(latent_class_joint(state.prior, state.tables), rm)
    with pytest.raises(DeclarationError, match="source='model'"):
        fit_natural_latent_errors(m)


def test_missing_answers_dropped_or_imputed():
    book, _, _ = simulate_reports(400, 4, classes=2, levels=[2, 3, 2, 2], missing=0.15, rng=5)
    fit = fit_em(Reports.from_book(book), model="lca", classes=2, rng=0)
    incomplete = int((fit.reports.wide() < 0).any(axis=1).sum())
    assert incomplete > 0
    with pytest.warns(UserWarning, match=f"{incomplete} of 400 questions dropped"):
        dropped = fit_natural_latent_errors(fit)
    assert any(f"{incomplete} of 400" in note for note in dropped.notes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        imputed = fit_natural_latent_errors(fit, missing="impute")
    assert any("filled in" in note for note in imputed.notes)
    # imputing with the model's conditionals cannot add dependence given the class beyond the complete rows'
    assert imputed.mediation <= dropped.mediation + 0.05
    # every question counts: the class marginal is the mean posterior over all questions
    share = fit.posterior.mean(axis=0)
    assert imputed.entropy_latent == pytest.approx(-float(np.sum(share * np.log2(share))), abs=1e-10)


def test_repeated_answers_are_dropped_with_a_warning():
    book, _, _ = simulate_reports(100, 3, classes=2, levels=2, rng=6)
    frame = book.frame[["question", "trader", "answer"]]
    again = frame[(frame["trader"] == "t1")].iloc[:7]
    reports = Reports.from_frame(pd.concat([frame, again], ignore_index=True), repeats=True)
    fit = fit_em(reports, model="lca", classes=2, rng=0)
    with pytest.warns(UserWarning, match="7 of 100 questions dropped: a trader answered them more than once"):
        fit_natural_latent_errors(fit)


def test_bad_fit_inputs_raise(separated):
    _, fits = separated
    with pytest.raises(DeclarationError, match="max_cells=64"):
        fit_natural_latent_errors(fits[2], max_cells=64)
    with pytest.raises(DeclarationError, match="source="):
        fit_natural_latent_errors(fits[2], source="prior")
    with pytest.raises(DeclarationError, match="missing="):
        fit_natural_latent_errors(fits[2], missing="zero")
    with pytest.raises(DeclarationError, match="interval="):
        fit_natural_latent_errors(fits[2], interval=1.5)
    with pytest.raises(DeclarationError, match="LatentClassFit"):
        fit_natural_latent_errors(np.zeros(3))
    book, _, _ = simulate_reports(100, 3, classes=2, model="forecast", rng=0)
    fc = fit_em(Reports.from_book(book), model="forecast", classes=2, rng=0)
    with pytest.raises(DeclarationError, match="categorical"):
        fit_natural_latent_errors(fc)
    one = fit_em(Reports.from_frame(pd.DataFrame({"A": [1, 2, 1, 2, 1]}), wide=True), model="lca", classes=1,
                 rng=0)
    with pytest.raises(DeclarationError, match="at least 2 observables"):
        fit_natural_latent_errors(one)
    sparse, _, _ = simulate_reports(30, 8, classes=2, levels=2, missing=0.6, rng=0)
    fit = fit_em(Reports.from_book(sparse), model="lca", classes=2, rng=0)
    if (fit.reports.wide() < 0).any(axis=1).all():
        with pytest.warns(UserWarning), pytest.raises(InferenceError, match="impute"):
            fit_natural_latent_errors(fit)


@pytest.fixture(scope="module")
def nuts_fit():
    from deepmarkets.models.nuts import fit_nuts

    book, _, _ = simulate_reports(150, 5, classes=2, levels=2, separation=3.0, rng=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_nuts(Reports.from_book(book), model="lca", classes=2, draws=100, tune=100, chains=2, cores=1,
                        rng=0)


@pytest.mark.slow
def test_nuts_draws_give_credible_intervals(nuts_fit):
    r = fit_natural_latent_errors(nuts_fit, max_draws=150, rng=1)
    d = r.draws
    assert d is not None and d.n_draws == 150 and d.total_draws == 200
    for normalised in (False, True):
        for key, s in d.summary(normalised).items():
            assert s["lower"] <= s["mean"] <= s["upper"], key
    s = d.summary()
    # the estimate at the posterior-mean parameters sits inside the interval of the leading errors
    for key in ("mediation", "mediation_two_block", "redundancy_A", "redundancy_B"):
        assert s[key]["lower"] - 1e-3 <= r.errors()[key] <= s[key]["upper"] + 1e-3, key
    assert 0 <= d.probability_natural <= 1
    again = fit_natural_latent_errors(nuts_fit, max_draws=150, rng=1)
    assert np.array_equal(again.draws.draws, d.draws)
    assert np.allclose(again.draws.values["mediation"], d.values["mediation"])
    model = fit_natural_latent_errors(nuts_fit, source="model", rng=1)
    assert model.draws.n_draws == 200 and np.abs(model.draws.values["mediation"]).max() <= EXACT
    out = json.loads(json.dumps(r.to_dict()))
    assert out["draws"]["n_draws"] == 150 and set(out["draws"]["bits"]) >= {"mediation", "mutual_information"}
    assert "interval" in r._repr_markdown_() and "P(natural)" in repr(d)
    fig = plot_natural_latent(r)
    assert len(fig.axes[0].collections) >= 1  # the interval lines
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_plot_returns_a_figure(separated):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, fits = separated
    r = fit_natural_latent_errors(fits[2])
    fig = plot_natural_latent(r)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes[0].patches) == 4 + 2 * 6
    plt.close(fig)
    fig = plot_natural_latent(r, per_observable=False, normalised=False)
    assert len(fig.axes[0].patches) == 6 and "bits" in fig.axes[0].get_ylabel()
    plt.close(fig)
    with pytest.raises(DeclarationError, match="undefined"):
        plot_natural_latent(fit_natural_latent_errors(fits[1]), normalised=True)
    with pytest.raises(DeclarationError, match="NaturalLatentReport"):
        plot_natural_latent({"mediation": 0.1})


def test_docstring_examples_run():
    failures, tried = doctest.testmod(natural, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0
