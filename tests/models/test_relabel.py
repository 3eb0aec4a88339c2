"""Gauge fixing of class-indexed draws: Hungarian alignment against brute force, switched chains restored."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import rel_entr

from deepmarkets.errors import InferenceError
from deepmarkets.models.relabel import align_draws, assignment_costs, permute_classes


def _dirichlet_blocks(gen, K, rows, L):
    """(K, rows * L) blocks made of ``rows`` probability rows of length L per class."""
    return gen.dirichlet(np.ones(L), size=(K, rows)).reshape(K, rows * L)


@pytest.mark.parametrize("cost", ["kl", "squared"])
@pytest.mark.parametrize("K", [2, 3, 4, 5])
def test_hungarian_matches_brute_force_over_all_permutations(K, cost):
    gen = np.random.default_rng(K)
    pivot = _dirichlet_blocks(gen, K, 3, 4)
    draws = np.stack([_dirichlet_blocks(gen, K, 3, 4) for _ in range(40)])
    perms, aligned = align_draws(draws, pivot, cost=cost)
    costs = assignment_costs(draws, pivot, cost=cost)
    for s in range(len(draws)):
        totals = {p: sum(costs[s, k, p[k]] for k in range(K)) for p in itertools.permutations(range(K))}
        best = min(totals.values())
        assert totals[tuple(perms[s])] == pytest.approx(best, rel=1e-12, abs=1e-12)
        # the brute-force cost of each pairing, computed from scratch
        p = perms[s]
        if cost == "squared":
            direct = sum(np.sum((pivot[k] - draws[s, p[k]]) ** 2) for k in range(K))
        else:
            direct = sum(np.sum(rel_entr(pivot[k], draws[s, p[k]]) - pivot[k] + draws[s, p[k]]) for k in range(K))
        assert direct == pytest.approx(best, rel=1e-10)
        assert np.array_equal(aligned[s], draws[s, p])
    assert all(sorted(row) == list(range(K)) for row in perms.tolist())


def test_kl_cost_is_the_sum_of_row_kl_divergences():
    gen = np.random.default_rng(1)
    pivot = _dirichlet_blocks(gen, 3, 2, 3)
    draw = _dirichlet_blocks(gen, 3, 2, 3)
    c = assignment_costs(draw[None], pivot, cost="kl")[0]
    for k in range(3):
        for m in range(3):
            rows_p, rows_q = pivot[k].reshape(2, 3), draw[m].reshape(2, 3)
            expected = sum(float(np.sum(rel_entr(rows_p[i], rows_q[i]))) for i in range(2))
            assert c[k, m] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert np.allclose(np.diag(assignment_costs(pivot[None], pivot, cost="kl")[0]), 0.0, atol=1e-14)


def test_pivot_with_zeros_is_allowed():
    pivot = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    draws = np.array([[[0.1, 0.45, 0.45], [0.98, 0.01, 0.01]]])
    perms, aligned = align_draws(draws, pivot)
    assert perms.tolist() == [[1, 0]]
    assert np.isfinite(assignment_costs(draws, pivot)).all()


@pytest.mark.parametrize("K", [2, 3, 4])
def test_label_switched_chains_are_restored_exactly(K):
    """Draws scattered around a well-separated truth, every draw relabelled at random, are put back exactly."""
    gen = np.random.default_rng(10 + K)
    J, L = 6, K
    shares = gen.dirichlet(np.full(K, 5.0))
    theta = np.empty((K, J, L))
    for k in range(K):
        a = np.ones(L)
        a[k] = 12.0
        theta[k] = gen.dirichlet(a, size=J)
    chains, n = 4, 250
    true_share = np.empty((chains, n, K))
    true_theta = np.empty((chains, n, K, J, L))
    for c in range(chains):
        true_share[c] = gen.dirichlet(200 * shares, size=n)
        for k in range(K):
            for j in range(J):
                true_theta[c, :, k, j] = gen.dirichlet(300 * theta[k, j], size=n)
    # switch: a chain keeps one labelling for a while, then jumps to another (as a sampler would)
    applied = np.empty((chains, n, K), dtype=np.int64)
    for c in range(chains):
        cut = gen.integers(1, n)
        applied[c, :cut] = gen.permutation(K)
        applied[c, cut:] = gen.permutation(K)
    applied[0, 0] = np.roll(np.arange(K), 1)  # at least one draw is switched, whatever the seed
    S = chains * n
    sw_share = permute_classes(true_share.reshape(S, K), applied.reshape(S, K), axis=1)
    sw_theta = permute_classes(true_theta.reshape(S, K, J, L), applied.reshape(S, K), axis=1)
    assert not np.array_equal(sw_share, true_share.reshape(S, K))
    blocks = np.concatenate([sw_share[:, :, None], sw_theta.reshape(S, K, J * L)], axis=2)
    pivot = np.concatenate([shares[:, None], theta.reshape(K, J * L)], axis=1)
    perms, aligned = align_draws(blocks, pivot, cost="kl")
    # the permutation found undoes the one applied, draw by draw
    inverse = np.argsort(applied.reshape(S, K), axis=1)
    assert np.array_equal(perms, inverse)
    assert np.array_equal(aligned[:, :, 0], true_share.reshape(S, K))
    assert np.array_equal(permute_classes(sw_theta, perms, axis=1), true_theta.reshape(S, K, J, L))
    # aligning again changes nothing: no switching is left
    again, _ = align_draws(aligned, pivot, cost="kl")
    assert (again == np.arange(K)).all()


def test_permute_classes_on_a_later_axis():
    x = np.arange(2 * 5 * 3).reshape(2, 5, 3).astype(float)  # draws, questions, classes
    perms = np.array([[2, 0, 1], [0, 1, 2]])
    out = permute_classes(x, perms, axis=-1)
    assert np.array_equal(out[0], x[0][:, [2, 0, 1]])
    assert np.array_equal(out[1], x[1])


def test_bad_input_is_reported():
    pivot = np.eye(3)
    with pytest.raises(InferenceError, match="expected \\(S, 3, 3\\)"):
        align_draws(np.zeros((4, 2, 3)), pivot)
    with pytest.raises(InferenceError, match="cost="):
        align_draws(np.ones((1, 3, 3)), pivot, cost="cosine")
    with pytest.raises(InferenceError, match="non-negative"):
        align_draws(-np.ones((1, 3, 3)), pivot, cost="kl")
    with pytest.raises(InferenceError, match="draw 1"):
        align_draws(np.stack([np.eye(3), np.full((3, 3), np.nan)]), pivot)
    with pytest.raises(InferenceError, match="class axis"):
        permute_classes(np.ones((2, 3)), np.zeros((2, 3), dtype=int), axis=0)
    # one parameter per class may be given as (S, K)
    perms, aligned = align_draws(np.array([[0.2, 0.8]]), np.array([0.8, 0.2]), cost="squared")
    assert perms.tolist() == [[1, 0]] and aligned.shape == (1, 2, 1)
