"""Bayesian latent class models by NUTS (PyMC), started from the EM optimum.

:func:`fit_nuts` samples the posterior of the three latent class models of
:mod:`deepmarkets.models.em` (``"lca"``, ``"dawid-skene"``, ``"forecast"``) with PyMC's NUTS.
The hidden class of each question is summed out (log-sum-exp), so only the continuous
parameters are sampled:

``log p(reports | params) = sum_p n_p log sum_k pi_k prod_{reports r of pattern p} f(r | k)``

where questions whose reports are identical (the same trader gave the same answer) are
collapsed into one *pattern* ``p`` counted ``n_p`` times. Priors: Dirichlet(1) on the class
shares and on every response row (``P(answer | class)`` of each trader); for forecasts
``mean[j, k] ~ Normal(0, 10)`` and ``sigma[j] ~ HalfNormal(5)`` on the logit scale.

Every chain starts at the EM optimum, jittered slightly and moved off the boundary of the
simplex; after sampling, every draw is relabelled to the EM labelling (minimum-KL
permutation, :func:`deepmarkets.models.relabel.align_draws`) before R-hat and ESS are
computed, so label switching between or within chains is handled, not reported as
non-convergence.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepmarkets.errors import InferenceError, MissingExtraError
from deepmarkets.helpers import as_rng, warn
from deepmarkets.helpers.cluster import usable_cpus
from deepmarkets.helpers.validate import whole_number
from deepmarkets.models.data import Reports
from deepmarkets.models.diagnostics import Diagnostics, diagnose
from deepmarkets.models.fit import (
    ESS_MIN_PER_CHAIN,
    RHAT_MAX,
    LatentClassFit,
    check_model,
    count_parameters,
)
from deepmarkets.models.posterior import count_divergences

__all__ = ["fit_nuts", "latent_class_model", "BACKENDS", "PRIORS", "RHAT_MAX", "ESS_MIN_PER_CHAIN"]

#: The NUTS samplers of :func:`fit_nuts`, all run by ``pymc.sample`` on the same PyMC model.
BACKENDS: dict[str, str] = {
    "pymc": "PyMC's own NUTS (the default; no extra packages)",
    "nutpie": "nutpie (Rust, the model compiled by numba): the fast CPU sampler; pip install 'deepmarkets[nutpie]'",
    "numpyro": "NumPyro on JAX (a GPU when JAX sees one, else the CPU); pip install 'deepmarkets[jax]'",
    "blackjax": "BlackJAX on JAX (a GPU when JAX sees one, else the CPU); pip install 'deepmarkets[jax]'",
}
#: The modules each optional backend imports, and the extra that installs them.
_EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "nutpie": (("nutpie", "numba"), "nutpie"),
    "numpyro": (("jax", "numpyro"), "jax"),
    "blackjax": (("jax", "blackjax"), "jax"),
}
#: The sampler statistics every backend's ``sample_stats`` holds, and nutpie's names for them.
_STATS = ("diverging", "energy", "lp", "tree_depth", "n_steps", "acceptance_rate")
_NUTPIE_STATS = {"depth": "tree_depth", "logp": "lp", "mean_tree_accept": "acceptance_rate"}

#: The priors of the Bayesian models, as stated in every NUTS result.
PRIORS: dict[str, str] = {
    "lca": "class shares ~ Dirichlet(1, ..., 1); each trader's response row P(answer | class) ~ Dirichlet(1, ..., 1)",
    "dawid-skene": "class shares ~ Dirichlet(1, ..., 1); each row of each confusion matrix ~ Dirichlet(1, ..., 1)",
    "forecast": "class shares ~ Dirichlet(1, ..., 1); mean[trader, class] ~ Normal(0, 10); "
                "sigma[trader] ~ HalfNormal(5) (logit scale)",
}

_MEAN_PRIOR_SD = 10.0
_SIGMA_PRIOR_SD = 5.0
#: Start values are mixed with this much of the uniform distribution (moves them off the boundary) ...
_INTERIOR = 0.01
#: ... and multiplied by exp(N(0, _JITTER)) per chain.
_JITTER = 0.05
#: Patterns by columns above which the likelihood uses a gather instead of a dense product.
_DENSE_LIMIT = 4.0
#: Values of class_probability (chains x draws x questions x classes) kept in the posterior at most.
_MAX_STORED = 100_000_000
#: Warnings of check_identifiable, which fit_em would repeat.
_IDENTIFIABILITY_WARNINGS = (".*distinct answer patterns.*", ".*one forecaster.*")


# ---------------------------------------------------------------------------
# the data, in the form the likelihood uses
# ---------------------------------------------------------------------------


@dataclass
class _Design:
    """Reports as weighted rows ("patterns") of sufficient statistics."""

    model: str
    K: int
    n_traders: int
    counts: np.ndarray  # (P,) how many questions each row stands for
    which: np.ndarray  # (Q,) row of each question
    collapse: str  # how rows were formed (stated in the result)
    # categorical models: columns are (trader, level) pairs of traders with >= 2 levels, grouped by L
    n_levels: np.ndarray | None = None  # (J,) levels per trader in the model (D-S: all labels)
    groups: tuple[tuple[int, np.ndarray], ...] = ()  # (L, traders with L levels), L >= 2, ascending
    col_trader: np.ndarray | None = None  # (C,)
    col_level: np.ndarray | None = None  # (C,)
    rows: np.ndarray | None = None  # (E,) entries of the row-by-column count matrix
    cols: np.ndarray | None = None
    vals: np.ndarray | None = None
    # forecast model: entries (row, trader) with n, sum of logit p, sum of squares
    f_trader: np.ndarray | None = None
    f_n: np.ndarray | None = None
    f_s1: np.ndarray | None = None
    f_s2: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return len(self.counts)

    @property
    def n_cols(self) -> int:
        return 0 if self.col_trader is None else len(self.col_trader)

    @property
    def dense(self) -> bool:
        return self.n_rows * self.n_cols <= _DENSE_LIMIT * max(len(self.rows), 1)


def _unique_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows, their counts, and the row of each input row."""
    uniq, inverse, counts = np.unique(table, axis=0, return_inverse=True, return_counts=True)
    return uniq, counts.astype(np.float64), inverse.reshape(-1).astype(np.int64)


def _design(reports: Reports, model: str, K: int, collapse: bool) -> _Design:
    Q, J = reports.n_questions, reports.n_traders
    if model == "forecast":
        return _forecast_design(reports, K, collapse)
    if model == "dawid-skene":
        n_levels = np.full(J, len(reports.labels), dtype=np.int64)
    else:
        n_levels = reports.n_levels.astype(np.int64)
    # columns: traders with L >= 2 levels, grouped by L (one Dirichlet per group), then by trader, then level
    group_list = []
    col_of = {}  # trader -> first column
    col_trader, col_level = [], []
    for L in sorted(set(int(v) for v in n_levels if v >= 2)):
        members = np.flatnonzero(n_levels == L)
        group_list.append((L, members))
        for j in members:
            col_of[int(j)] = len(col_trader)
            col_trader.extend([int(j)] * L)
            col_level.extend(range(L))
    first_col = np.full(J, -1, dtype=np.int64)
    for j, c in col_of.items():
        first_col[j] = c
    has = reports.answer >= 0
    q, t = reports.question[has], reports.trader[has]
    code = reports.label[has] if model == "dawid-skene" else reports.answer[has]
    cell = q * J + t
    repeated = len(np.unique(cell)) < len(cell)
    keep = first_col[t] >= 0  # answers of one-level traders carry no information (P = 1 in every class)
    q, t, code = q[keep], t[keep], code[keep]
    col = first_col[t] + code
    C = len(col_trader)

    which = np.arange(Q, dtype=np.int64)
    counts = np.ones(Q)
    how = "none: one row per question"
    row, vals = q, np.ones(len(q))
    if collapse:
        if not repeated:
            pats, pcounts, which = reports.patterns()
            counts = pcounts.astype(np.float64)
            pj, tj = np.nonzero(pats >= 0)
            pcode = pats[pj, tj]
            if model == "dawid-skene":
                import pandas as pd

                to_label = [pd.Index(reports.labels).get_indexer(lv) for lv in reports.levels]
                pcode = np.array([to_label[j][c] for j, c in zip(tj.tolist(), pcode.tolist(), strict=True)],
                                 dtype=np.int64)
            ok = first_col[tj] >= 0
            row, col = pj[ok].astype(np.int64), first_col[tj[ok]] + pcode[ok]
            vals = np.ones(len(row))
            how = "identical answer patterns (Reports.patterns)"
        elif Q * max(C, 1) <= 50_000_000:
            # a trader answered some question more than once: collapse questions with identical answer counts
            table = np.zeros((Q, max(C, 1)), dtype=np.int64)
            np.add.at(table, (q, col), 1)
            uniq, counts, which = _unique_rows(table)
            row, col = np.nonzero(uniq[:, :C])
            vals = uniq[row, col].astype(np.float64)
            row, col = row.astype(np.int64), col.astype(np.int64)
            how = "identical answer counts per question (repeated answers present)"
        else:
            how = "none: repeated answers and too many questions to compare their counts"
    # entries of the (rows x columns) count matrix, duplicates summed
    width = max(C, 1)
    ukey, inv = np.unique(row * width + col, return_inverse=True)
    vals = np.bincount(inv.reshape(-1), weights=vals, minlength=len(ukey))
    return _Design(
        model=model, K=K, n_traders=J, counts=counts, which=which, collapse=how, n_levels=n_levels,
        groups=tuple(group_list), col_trader=np.asarray(col_trader, dtype=np.int64),
        col_level=np.asarray(col_level, dtype=np.int64), rows=(ukey // width).astype(np.int64),
        cols=(ukey % width).astype(np.int64), vals=vals,
    )


def _forecast_design(reports: Reports, K: int, collapse: bool) -> _Design:
    Q, J = reports.n_questions, reports.n_traders
    p = reports.probability
    x = np.log(p) - np.log1p(-p)
    cell = reports.question * J + reports.trader
    ucell, inv = np.unique(cell, return_inverse=True)
    inv = inv.reshape(-1)
    n = np.bincount(inv).astype(np.float64)
    s1 = np.bincount(inv, weights=x)
    s2 = np.bincount(inv, weights=x * x)
    q, t = ucell // J, ucell % J
    which = np.arange(Q, dtype=np.int64)
    counts = np.ones(Q)
    how = "none: one row per question"
    if collapse and Q * J * 3 <= 50_000_000:
        table = np.zeros((Q, 3 * J))
        table[q, t] = n
        table[q, J + t] = s1
        table[q, 2 * J + t] = s2
        uniq, ucounts, uwhich = _unique_rows(table)
        if len(uniq) < Q:
            counts, which = ucounts, uwhich
            rr, tt = np.nonzero(uniq[:, :J])
            q, t = rr, tt
            n, s1, s2 = uniq[rr, tt], uniq[rr, J + tt], uniq[rr, 2 * J + tt]
            how = "identical forecasts"
        else:
            how = "none: no two questions have identical forecasts"
    return _Design(model="forecast", K=K, n_traders=J, counts=counts, which=which, collapse=how,
                   rows=q.astype(np.int64), f_trader=t.astype(np.int64), f_n=n, f_s1=s1, f_s2=s2)


# ---------------------------------------------------------------------------
# the PyMC model
# ---------------------------------------------------------------------------


def _build(d: _Design):
    """The PyMC model of a design; class names are generic (the result renames them)."""
    import pymc as pm
    import pytensor.tensor as pt

    K = d.K
    with pm.Model() as m:
        # Dirichlet(1) priors; their concentrations are data, so the graph holds no sizes of this book as constants
        share = pm.Dirichlet("class_share", a=pm.Data("share_concentration", np.ones(K)))
        log_share = pt.log(share)
        counts = pm.Data("pattern_count", d.counts)
        rows = pm.Data("entry_row", d.rows)
        n_rows, n_classes = counts.shape[0], share.shape[0]
        if d.model == "forecast":
            J = d.n_traders
            mean = pm.Normal("mean", mu=pm.Data("mean_prior_mean", np.zeros((J, K))), sigma=_MEAN_PRIOR_SD)
            sigma = pm.HalfNormal("sigma", sigma=pm.Data("sigma_prior_scale", np.full(J, _SIGMA_PRIOR_SD)))
            tr = pm.Data("entry_trader", d.f_trader)
            n = pm.Data("entry_n", d.f_n)
            s1 = pm.Data("entry_sum", d.f_s1)
            s2 = pm.Data("entry_sum_sq", d.f_s2)
            iv = 1.0 / pt.sqr(sigma)
            m_e = mean[tr]  # (E, K)
            iv_e = iv[tr][:, None]
            term = (-0.5 * iv_e * (s2[:, None] - 2.0 * s1[:, None] * m_e + n[:, None] * pt.sqr(m_e))
                    - (n * (pt.log(sigma[tr]) + 0.5 * math.log(2 * math.pi)))[:, None])
            ll = pt.zeros((n_rows, n_classes))[rows].inc(term) + log_share
        else:
            blocks = []
            for L, members in d.groups:
                theta = pm.Dirichlet(f"response_{L}", a=pm.Data(f"response_{L}_concentration",
                                                                 np.ones((len(members), K, L))))
                log_th = pt.log(theta).transpose(0, 2, 1)
                blocks.append(log_th.reshape((log_th.shape[0] * log_th.shape[1], log_th.shape[2])))
            if blocks:
                log_theta = pt.concatenate(blocks, axis=0) if len(blocks) > 1 else blocks[0]  # (C, K)
                if d.dense:
                    X = np.zeros((d.n_rows, d.n_cols))
                    X[d.rows, d.cols] = d.vals
                    ll = pt.dot(pm.Data("pattern_table", X), log_theta) + log_share
                else:
                    cols = pm.Data("entry_col", d.cols)
                    vals = pm.Data("entry_count", d.vals)
                    ll = pt.zeros((n_rows, n_classes))[rows].inc(vals[:, None] * log_theta[cols]) + log_share
            else:
                ll = pt.zeros((n_rows, n_classes)) + log_share
        pm.Potential("loglik", pt.dot(counts, pm.math.logsumexp(ll, axis=1)))
    return m


def latent_class_model(reports: Reports, *, model: str, classes: int | None, collapse: bool = True):
    """The PyMC model that :func:`fit_nuts` samples (the classes summed out).

    Parameters
    ----------
    reports : Reports
    model : {"lca", "dawid-skene", "forecast"}
    classes : int or None
        As in :func:`~deepmarkets.models.em.fit_em`.
    collapse : bool, default True
        Collapse questions with identical reports into one weighted term. The log
        posterior is the same either way (only faster).

    Returns
    -------
    pymc.Model
        Free variables ``class_share`` (K,), and ``response_L`` (traders with L levels, K, L)
        for each number of levels L >= 2 (lca, Dawid–Skene), or ``mean`` (J, K) and ``sigma``
        (J,) (forecast); the likelihood is the potential ``loglik``.

    Examples
    --------
    >>> from deepmarkets.models.simulate import simulate_reports
    >>> r = Reports.from_book(simulate_reports(100, 4, classes=2, levels=[2, 2, 3, 3], rng=0)[0])
    >>> m = latent_class_model(r, model="lca", classes=2)
    >>> sorted(v.name for v in m.free_RVs)
    ['class_share', 'response_2', 'response_3']
    """
    from deepmarkets.models.em import check_identifiable

    _check_reports(reports)
    K = check_identifiable(reports, model=check_model(model), classes=classes)
    return _build(_design(reports, model, K, bool(collapse)))


# ---------------------------------------------------------------------------
# start values, alignment, per-draw class probabilities (numpy)
# ---------------------------------------------------------------------------


def _interior(p: np.ndarray) -> np.ndarray:
    L = p.shape[-1]
    return (1.0 - _INTERIOR) * p + _INTERIOR / L


def _jitter_simplex(p: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    q = _interior(p) * np.exp(gen.normal(0.0, _JITTER, size=p.shape))
    return q / q.sum(axis=-1, keepdims=True)


def _start_params(start: LatentClassFit, d: _Design) -> dict[str, np.ndarray]:
    """The EM estimate as values of the model's free variables."""
    out = {"class_share": np.asarray(start.class_shares, dtype=np.float64)}
    if d.model == "forecast":
        out["mean"] = np.asarray(start.mean, dtype=np.float64)
        out["sigma"] = np.asarray(start.sigma, dtype=np.float64)
        return out
    for L, members in d.groups:
        out[f"response_{L}"] = np.stack([np.asarray(start.response[j], dtype=np.float64) for j in members])
    return out


def _initvals(params: dict[str, np.ndarray], chains: int, gen: np.random.Generator) -> list[dict[str, np.ndarray]]:
    init = []
    for _ in range(chains):
        one = {}
        for name, v in params.items():
            if name == "mean":
                one[name] = v + gen.normal(0.0, _JITTER, size=v.shape) * params["sigma"][:, None]
            elif name == "sigma":
                one[name] = np.maximum(v, 1e-2) * np.exp(gen.normal(0.0, _JITTER, size=v.shape))
            else:
                one[name] = _jitter_simplex(v, gen)
        init.append(one)
    return init


def _blocks(d: _Design, share: np.ndarray, groups: dict[str, np.ndarray], scale: np.ndarray | None) -> np.ndarray:
    """(S, K, D) class blocks used to align draws: [share, response rows] or standardised means."""
    if d.model == "forecast":
        mean = groups["mean"]  # (S, J, K)
        return (mean / scale[None, :, None]).transpose(0, 2, 1)
    S, K = share.shape
    parts = [share[:, :, None]]
    for L, members in d.groups:
        th = groups[f"response_{L}"]  # (S, J_g, K, L)
        parts.append(th.transpose(0, 2, 1, 3).reshape(S, K, len(members) * L))
    return np.concatenate(parts, axis=2)


def _row_loglik(d: _Design, share: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
    """(S, P, K) joint log-probability of each row's reports and each class, for S parameter draws."""
    from scipy import sparse

    S, K = share.shape
    P = d.n_rows
    with np.errstate(divide="ignore"):
        log_share = np.log(share)
    if d.model == "forecast":
        mean, sigma = params["mean"], params["sigma"]  # (S, J, K), (S, J)
        t = d.f_trader
        m_e = mean[:, t, :]  # (S, E, K)
        iv = 1.0 / sigma[:, t] ** 2  # (S, E)
        term = (-0.5 * iv[:, :, None] * (d.f_s2[None, :, None] - 2.0 * d.f_s1[None, :, None] * m_e
                                          + d.f_n[None, :, None] * m_e ** 2)
                - (d.f_n[None, :] * (np.log(sigma[:, t]) + 0.5 * math.log(2 * math.pi)))[:, :, None])
        E = len(t)
        B = sparse.csr_matrix((np.ones(E), (d.rows, np.arange(E))), shape=(P, E))
        out = np.asarray(B @ term.transpose(1, 0, 2).reshape(E, S * K)).reshape(P, S, K)
        return out.transpose(1, 0, 2) + log_share[:, None, :]
    C = d.n_cols
    if C == 0:
        return np.broadcast_to(log_share[:, None, :], (S, P, K)).copy()
    logs = []
    for L, members in d.groups:
        th = params[f"response_{L}"]  # (S, J_g, K, L)
        with np.errstate(divide="ignore"):
            logs.append(np.log(th).transpose(0, 1, 3, 2).reshape(S, len(members) * L, K))
    log_theta = np.concatenate(logs, axis=1)  # (S, C, K)
    X = sparse.csr_matrix((d.vals, (d.rows, d.cols)), shape=(P, C))
    # 0 * log 0 never occurs: entries are only where answers were given
    out = np.asarray(X @ log_theta.transpose(1, 0, 2).reshape(C, S * K)).reshape(P, S, K)
    return out.transpose(1, 0, 2) + log_share[:, None, :]


def _softmax_lse(ll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = ll.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(ll - m)
    tot = e.sum(axis=-1, keepdims=True)
    return e / tot, (m + np.log(tot))[..., 0]


# ---------------------------------------------------------------------------
# the estimator
# ---------------------------------------------------------------------------


def _check_reports(reports: Any) -> None:
    if not isinstance(reports, Reports):
        raise InferenceError(f"expected a Reports object, got a {type(reports).__name__}; build one with "
                             f"Reports.from_book(book) or Reports.from_frame(frame)")








def _check_start(start: Any, reports: Reports, model: str, K: int) -> None:
    if not isinstance(start, LatentClassFit):
        raise InferenceError(f"start={type(start).__name__}; expected a LatentClassFit (from fit_em) or None")
    if start.model != model:
        raise InferenceError(f"start is a {start.model!r} fit but model={model!r}; fit the start with the same model")
    if start.n_classes != K:
        raise InferenceError(f"start has {start.n_classes} classes but the model has {K}; fit the start with "
                             f"classes={K}")
    same = start.reports is reports or (
        start.reports.n_questions == reports.n_questions and start.reports.n_traders == reports.n_traders
        and np.array_equal(start.reports.n_levels, reports.n_levels)
    )
    if not same:
        raise InferenceError("start was fitted to a different book (other questions, traders or levels); fit the "
                             "start on the same Reports")
    if model == "forecast" and (start.mean is None or start.sigma is None):
        raise InferenceError("start is a forecast fit without mean and sigma; refit it with fit_em")


def check_backend(backend: Any) -> str:
    """``backend`` if it names a sampler of :data:`BACKENDS` whose packages import, else an error.

    Raises
    ------
    InferenceError
        For a name that is not a backend.
    MissingExtraError
        For a backend whose packages are not installed; the message names the extra to install.

    Examples
    --------
    >>> check_backend("pymc")
    'pymc'
    """
    if backend not in BACKENDS:
        raise InferenceError(f"backend={backend!r}; expected one of {list(BACKENDS)} "
                             f"({'; '.join(f'{k}: {v}' for k, v in BACKENDS.items())})")
    if backend in _EXTRAS:
        import importlib

        modules, extra = _EXTRAS[backend]
        for name in modules:
            try:
                importlib.import_module(name)
            except ImportError as err:
                raise MissingExtraError(
                    f"backend={backend!r} needs the package {name!r}, which cannot be imported ({err}); install it "
                    f"with pip install 'deepmarkets[{extra}]', or use backend='pymc'"
                ) from None
    return backend


def fit_nuts(reports: Reports, *, model: str, classes: int | None, draws: int = 1000, tune: int = 1000,
             chains: int = 4, cores: int | None = None, start: LatentClassFit | None = None, collapse: bool = True,
             rng: int | np.random.Generator | None = None, progressbar: bool = True,
             backend: str = "pymc") -> LatentClassFit:
    """Sample the posterior of a latent class model with NUTS, started from the EM optimum.

    Parameters
    ----------
    reports : Reports
        The encoded book.
    model : {"lca", "dawid-skene", "forecast"}
        See :mod:`deepmarkets.models.em`.
    classes : int or None
        As in :func:`~deepmarkets.models.em.fit_em`.
    draws, tune : int, default 1000
        Draws kept per chain, and tuning steps per chain before them.
    chains : int, default 4
        Independent chains (R-hat needs at least 2).
    cores : int, optional
        Chains run in parallel; default ``min(chains, usable CPUs)``.
    start : LatentClassFit, optional
        The EM fit to start from and to align the draws to; computed with
        :func:`~deepmarkets.models.em.fit_em` (10 restarts) when omitted.
    collapse : bool, default True
        Sum the likelihood over distinct answer patterns weighted by their counts instead of
        over questions (same posterior, faster). With repeated answers (a trader answering a
        question more than once) questions with identical answer counts are collapsed.
    rng : int, numpy.random.Generator or None
        Seeds the EM start, the jitter of the start values and the sampler's ``random_seed``
        (the same seed gives the same draws with the same backend).
    progressbar : bool, default True
        Show PyMC's progress bars (and its log messages).
    backend : {"pymc", "nutpie", "numpyro", "blackjax"}, default "pymc"
        The NUTS sampler (:data:`BACKENDS`), each run by ``pymc.sample`` on the same model.
        ``"nutpie"`` is the fast CPU sampler (extra ``deepmarkets[nutpie]``); it takes one start
        for all chains, the jittered EM optimum, to which it adds its own U(-1, 1) jitter per chain
        in the unconstrained space. ``"numpyro"`` and ``"blackjax"`` (extra ``deepmarkets[jax]``)
        compile the model with JAX and run on a GPU when JAX sees one (else on the CPU), chains in
        parallel on devices of their own when JAX has as many devices as chains, else vectorised
        on one; every chain starts at its own jittered EM optimum, as with ``"pymc"``. The result
        has the same form whatever the backend.

    Returns
    -------
    LatentClassFit
        ``method="nuts"``. Point estimates (``class_shares``, ``response``, ``mean``,
        ``sigma``) are posterior means after alignment; ``posterior`` is the posterior mean of
        each question's class probabilities; ``loglik`` is the log-likelihood at the point
        estimates. ``idata`` is an ``xarray.DataTree`` (read it with
        :func:`~deepmarkets.models.posterior.read_posterior`) with groups ``posterior`` (variables
        ``class_share``, ``response`` (trader, class, level; NaN for levels a trader never
        used) or ``mean`` and ``sigma``, ``class_probability`` (question, class) and
        ``loglik``; coords ``question``, ``trader``, ``class``, ``level``) and ``sample_stats``
        (PyMC's, plus ``class_permutation``, the relabelling applied to each draw).
        ``diagnostics`` is a :class:`~deepmarkets.models.diagnostics.Diagnostics` (``max_rhat``,
        ``min_ess_bulk``, ``min_ess_tail``, ``divergences``, ``chains``, ``draws``,
        ``parameters``) whose extras are ``tune``, ``gauge``, ``switched_draws``,
        ``max_rhat_class_share_before_alignment``, ``priors``, ``collapse``,
        ``patterns``, ``sampling_seconds`` (the sampler's wall time, compiling included),
        ``sampler_seconds`` (tuning and draws as PyMC's sampler or nutpie timed them; for the
        JAX backends the same as ``sampling_seconds``), ``em_seconds`` and ``backend``. ``sample_stats`` holds
        the statistics every backend records: ``diverging``, ``energy``, ``lp``,
        ``tree_depth``, ``n_steps``, ``acceptance_rate`` (and ``class_permutation``).

    Raises
    ------
    InferenceError
        For a model that cannot be identified, bad arguments, a start that does not match, or
        sampling that fails.
    MissingExtraError
        For a backend whose packages are not installed (the message names the extra).

    Warns
    -----
    UserWarning
        When the diagnostics fail the convergence rule (R-hat above :data:`RHAT_MAX`, bulk or tail
        ESS below :data:`ESS_MIN_PER_CHAIN` per chain, or divergent transitions; see
        :meth:`Diagnostics.problems <deepmarkets.models.diagnostics.Diagnostics.problems>`); then
        ``converged`` is False.

    Examples
    --------
    >>> from deepmarkets.models.simulate import simulate_reports
    >>> book, truth, _ = simulate_reports(150, 5, classes=2, levels=2, rng=0)
    >>> fit = fit_nuts(Reports.from_book(book), model="lca", classes=2, draws=100, tune=100, chains=2,
    ...                rng=0)  # doctest: +SKIP
    >>> fit.diagnostics["gauge"]  # doctest: +SKIP
    'classes ordered to match the EM optimum by minimum-KL permutation per draw'
    """
    started = time.perf_counter()
    _check_reports(reports)
    model = check_model(model)
    draws = whole_number(draws, "draws", 1, InferenceError)
    tune = whole_number(tune, "tune", 0, InferenceError)
    chains = whole_number(chains, "chains", 1, InferenceError)
    if cores is not None:
        cores = whole_number(cores, "cores", 1, InferenceError)
    backend = check_backend(backend)
    from deepmarkets.models.em import check_identifiable, fit_em

    with warnings.catch_warnings():
        if start is not None:  # fitting the start said it already
            warnings.simplefilter("ignore")
        K = check_identifiable(reports, model=model, classes=classes)
    gen = as_rng(rng)
    em_seconds = 0.0
    if start is None:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            for said in _IDENTIFIABILITY_WARNINGS:  # said once just above
                warnings.filterwarnings("ignore", message=said)
            start = fit_em(reports, model=model, classes=classes, rng=gen)
        em_seconds = time.perf_counter() - t0
    else:
        _check_start(start, reports, model, K)
    d = _design(reports, model, K, bool(collapse))
    pm_model = _build(d)
    params = _start_params(start, d)
    init = _initvals(params, chains, gen)
    seeds = [int(s) for s in gen.integers(0, 2**31 - 1, size=chains)]
    if cores is None:
        cores = min(chains, usable_cpus())

    t0 = time.perf_counter()
    try:
        with pm_model, warnings.catch_warnings():
            if not progressbar:
                warnings.simplefilter("ignore", UserWarning)
            idata = _sample(backend, pm_model, init, seeds, draws=draws, tune=tune, cores=cores,
                            progressbar=progressbar)
    except (ValueError, RuntimeError, FloatingPointError) as err:
        raise InferenceError(f"NUTS sampling ({backend}) of the {model} model failed: {type(err).__name__}: "
                             f"{err}") from err
    sampling_seconds = time.perf_counter() - t0
    return _result(reports, d, start, idata, tune=tune, started=started, em_seconds=em_seconds,
                   sampling_seconds=sampling_seconds, backend=backend)


def _sample(backend: str, pm_model, init: list[dict[str, np.ndarray]], seeds: list[int], *, draws: int, tune: int,
            cores: int, progressbar: bool):
    """``pymc.sample`` with the backend's sampler, every chain started at its (jittered) EM optimum."""
    import pymc as pm

    common = dict(draws=draws, tune=tune, chains=len(seeds), random_seed=seeds, progressbar=progressbar,
                  quiet=not progressbar, compute_convergence_checks=False)
    if backend == "pymc":
        step = _nuts_step(pm_model, init, seeds)
        idata = pm.sample(cores=cores, step=step, initvals=init, **common)
    elif backend == "nutpie":  # nutpie takes one start for all chains and jitters it per chain by U(-1, 1)
        idata = pm.sample(cores=cores, nuts_sampler="nutpie", initvals=init[0], **common)
    else:  # the starts are jittered already
        import jax
        import pymc.sampling.jax  # noqa: F401  (asks JAX for one host device per CPU chain, unless JAX already started)

        # chains on devices of their own where there are enough (CPU, several GPUs), else vectorised on one
        method = "parallel" if jax.local_device_count() >= len(seeds) else "vectorized"
        idata = pm.sample(nuts_sampler=backend, initvals=init, nuts={"jitter": False, "chain_method": method},
                          **common)
        for group in ("posterior", "sample_stats"):  # JAX returns before its work ends: wait for the draws
            for var in idata[group].data_vars.values():
                jax.block_until_ready(var.data)
    return idata


def _common_stats(stats) -> Any:
    """The sampler statistics of :data:`_STATS` it recorded, under the same names and dtypes whatever the backend."""
    stats = stats.rename({old: new for old, new in _NUTPIE_STATS.items() if old in stats.data_vars})
    kept = [name for name in _STATS if name in stats.data_vars]
    kinds = {"diverging": bool, "tree_depth": np.int64, "n_steps": np.int64}
    return stats[kept].astype({name: kinds.get(name, np.float64) for name in kept})


def _nuts_step(pm_model, initvals: list[dict[str, np.ndarray]], seeds: list[int]):
    """PyMC's NUTS with a diagonal mass matrix adapted from the start values (as ``init="adapt_diag"``).

    Built here so that the log-density and its gradient are compiled once, in this process, and
    evaluated at every start before the chains' processes begin: the compiled kernels are cached
    on disk, and each chain's process loads them instead of compiling the same function again.
    """
    import pymc as pm
    from pymc.blocking import DictToArrayBijection
    from pymc.initial_point import make_initial_point_fns_per_chain
    from pymc.step_methods.hmc.quadpotential import QuadPotentialDiagAdapt

    fns = make_initial_point_fns_per_chain(model=pm_model, overrides=initvals, jitter_rvs=set(), chains=len(seeds))
    points = [fn(seed) for fn, seed in zip(fns, seeds, strict=True)]
    logp_dlogp = pm_model.logp_dlogp_function(ravel_inputs=True)
    logp_dlogp.trust_input = True
    arrays = [DictToArrayBijection.map(p).data for p in points]
    for c, x in enumerate(arrays):
        value = logp_dlogp([x], extra_vars={})[0]
        if not np.isfinite(value):
            raise InferenceError(f"the log posterior is {value} at the start of chain {c} (the EM optimum moved "
                                 f"inside the simplex); check the book for questions no class can explain")
    mean = np.mean(arrays, axis=0)
    potential = QuadPotentialDiagAdapt(len(mean), mean, np.ones_like(mean), 10, rng=seeds[0])
    return pm.NUTS(potential=potential, model=pm_model, rng=seeds[0], initial_point=points[0],
                   logp_dlogp_func=logp_dlogp)


@dataclass
class _Aligned:
    """Draws relabelled to the EM labelling, and what is read off them."""

    share: np.ndarray  # (S, K) relabelled class shares
    sampled_share: np.ndarray  # (S, K) as drawn
    perms: np.ndarray  # (S, K) the relabelling of each draw
    gauge: str
    tidy: Any
    tree: Any  # the DataTree of the result
    post_mean: np.ndarray  # (Q, K) posterior mean class probabilities
    draws: int  # per chain


def _aligned(reports: Reports, d: _Design, start: LatentClassFit, idata: Any) -> _Aligned:
    """Relabel every draw to the EM labelling and tidy the draws into the result's DataTree."""
    post = idata["posterior"]
    C, D = post.sizes["chain"], post.sizes["draw"]
    sampled_share, sampled = _sampled(post, d, C * D)
    perms, gauge = _align_to_start(d, start, sampled_share, sampled)
    share, raw = _relabelled(sampled_share, sampled, perms)
    post_mean, loglik_draw, class_prob = _class_probabilities(d, share, raw, C, D, reports.n_questions)
    tidy = _tidy(reports, d, share, raw, C, D)
    class_names = [str(c) for c in start.classes]
    tree = _posterior_tree(reports, d, idata, tidy, class_names, class_prob, loglik_draw, perms, gauge)
    return _Aligned(share=share, sampled_share=sampled_share, perms=perms, gauge=gauge, tidy=tidy, tree=tree,
                    post_mean=post_mean, draws=D)


def _switched(a: _Aligned) -> int:
    """Draws whose classes were relabelled."""
    return int((a.perms != np.arange(a.perms.shape[1])).any(axis=1).sum())


def _point_fit(reports: Reports, d: _Design, start: LatentClassFit, a: _Aligned, diagnostics: Any, *, method: str,
               n_iter: int, converged: bool, started: float, **extra: Any) -> LatentClassFit:
    """The result: posterior means as point estimates, and the log-likelihood there."""
    from deepmarkets.models.em import log_likelihood

    point_share = a.share.mean(axis=0)
    if d.model == "forecast":
        ll_point, _ = log_likelihood(reports, model="forecast", class_shares=point_share, mean=a.tidy.point_mean,
                                     sigma=a.tidy.point_sigma)
    else:
        ll_point, _ = log_likelihood(reports, model=d.model, class_shares=point_share,
                                     response=tuple(a.tidy.point_response))
    return LatentClassFit(
        model=d.model, method=method, reports=reports, classes=np.asarray([str(c) for c in start.classes]),
        class_shares=point_share, response=tuple(a.tidy.point_response), posterior=a.post_mean,
        loglik=float(ll_point), n_parameters=count_parameters(d.model, d.K, reports.n_levels, reports.n_traders),
        n_iter=int(n_iter), converged=bool(converged),
        restarts_loglik=np.asarray(start.restarts_loglik, dtype=np.float64), seconds=time.perf_counter() - started,
        mean=a.tidy.point_mean, sigma=a.tidy.point_sigma, idata=a.tree, diagnostics=diagnostics, prior=0.0, **extra,
    )


def _result(reports: Reports, d: _Design, start: LatentClassFit, idata: Any, *, tune: int, started: float,
            em_seconds: float, sampling_seconds: float, backend: str = "pymc") -> LatentClassFit:
    """The fit from NUTS draws: relabelled to the EM labelling, tidied into a DataTree, diagnosed, summarised."""
    a = _aligned(reports, d, start, idata)
    diagnostics = _diagnostics(d, idata, a.tidy, a.sampled_share, tune=tune, gauge=a.gauge, switched=_switched(a),
                               sampling_seconds=sampling_seconds, em_seconds=em_seconds, backend=backend)
    converged = _converged(d, diagnostics, a.draws, tune)
    return _point_fit(reports, d, start, a, diagnostics, method="nuts", n_iter=a.draws, converged=converged,
                      started=started)


def _sampled(post, d: _Design, S: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The draws as sampled, flattened over chains: class shares ``(S, K)`` and the other parameters by name."""
    share = post["class_share"].values.reshape(S, d.K)
    raw: dict[str, np.ndarray] = {}
    if d.model == "forecast":
        raw["mean"] = post["mean"].values.reshape(S, -1, d.K)
        raw["sigma"] = post["sigma"].values.reshape(S, -1)
    else:
        for L, members in d.groups:
            raw[f"response_{L}"] = post[f"response_{L}"].values.reshape(S, len(members), d.K, L)
    return share, raw


def _align_to_start(d: _Design, start: LatentClassFit, share: np.ndarray,
                    raw: dict[str, np.ndarray]) -> tuple[np.ndarray, str]:
    """The gauge: each draw's permutation of its classes that matches the EM labelling, and how it was chosen."""
    from deepmarkets.models.relabel import align_draws

    start_params = _start_params(start, d)
    if d.model == "forecast":
        scale = np.maximum(np.asarray(start.sigma, dtype=np.float64), 1e-3)
        pivot = _blocks(d, start_params["class_share"][None], {"mean": start_params["mean"][None]}, scale)[0]
        perms, _ = align_draws(_blocks(d, share, raw, scale), pivot, cost="squared")
        return perms, ("classes ordered to match the EM optimum by minimum squared distance of the trader means "
                       "(in units of the EM sigma) per draw")
    pivot = _blocks(d, start_params["class_share"][None], {k: v[None] for k, v in start_params.items()}, None)[0]
    perms, _ = align_draws(_blocks(d, share, raw, None), pivot, cost="kl")
    return perms, "classes ordered to match the EM optimum by minimum-KL permutation per draw"


def _relabelled(share: np.ndarray, raw: dict[str, np.ndarray],
                perms: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The draws with their classes permuted by ``perms`` (sigma has no class axis)."""
    from deepmarkets.models.relabel import permute_classes

    out = {name: value if name == "sigma" else permute_classes(value, perms, axis=2) for name, value in raw.items()}
    return permute_classes(share, perms, axis=1), out


def _class_probabilities(d: _Design, share: np.ndarray, raw: dict[str, np.ndarray], C: int, D: int,
                         Q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per-draw class probabilities of each question and log-likelihood, in chunks of draws.

    Returns the posterior class probabilities averaged over draws ``(Q, K)``, the log-likelihood
    of each draw ``(S,)`` and, when they fit in memory, the per-draw class probabilities ``(S, Q, K)``.
    """
    S, K = C * D, d.K
    store = C * D * Q * K <= _MAX_STORED
    class_prob = np.empty((S, Q, K), dtype=np.float64 if C * D * Q * K <= 20_000_000 else np.float32) if store \
        else None
    post_mean = np.zeros((d.n_rows, K))
    loglik_draw = np.empty(S)
    step = max(1, int(4_000_000 // max(max(d.n_rows, len(d.rows)) * K, 1)))
    for a in range(0, S, step):
        b = min(S, a + step)
        sub = {k: v[a:b] for k, v in raw.items()}
        ll = _row_loglik(d, share[a:b], sub)
        prob, lse = _softmax_lse(ll)
        loglik_draw[a:b] = lse @ d.counts
        post_mean += prob.sum(axis=0)
        if class_prob is not None:
            class_prob[a:b] = prob[:, d.which, :]
    return post_mean[d.which] / S, loglik_draw, class_prob


@dataclass
class _Tidy:
    """The relabelled draws as named posterior variables, and the point estimates they give."""

    data_vars: dict[str, Any]
    levels: list[str] | None
    params_for_diag: list[np.ndarray]
    point_response: list[np.ndarray]
    point_mean: np.ndarray | None
    point_sigma: np.ndarray | None


def _tidy(reports: Reports, d: _Design, share: np.ndarray, raw: dict[str, np.ndarray], C: int, D: int) -> _Tidy:
    """Posterior variables with named dims (responses on the book's levels), and their means."""
    S, K, J = C * D, d.K, reports.n_traders
    data_vars: dict[str, Any] = {"class_share": (("chain", "draw", "class"), share.reshape(C, D, K))}
    params_for_diag = [share.reshape(C, D, K)]
    if d.model == "forecast":
        mean, sigma = raw["mean"], raw["sigma"]
        data_vars["mean"] = (("chain", "draw", "trader", "class"), mean.reshape(C, D, J, K))
        data_vars["sigma"] = (("chain", "draw", "trader"), sigma.reshape(C, D, J))
        params_for_diag += [mean.reshape(C, D, -1), sigma.reshape(C, D, -1)]
        return _Tidy(data_vars, None, params_for_diag, [np.zeros((K, len(lv))) for lv in reports.levels],
                     mean.mean(axis=0), sigma.mean(axis=0))
    import pandas as pd

    labels = [str(v) for v in reports.labels]
    L_all = len(labels)
    response = np.full((S, J, K, L_all), np.nan)
    index = pd.Index(labels)
    level_pos = [np.arange(L_all) if d.model == "dawid-skene" else index.get_indexer(lv) for lv in reports.levels]
    for j in range(J):
        if d.n_levels[j] == 1:
            response[:, j, :, level_pos[j]] = 1.0
    for L, members in d.groups:
        th = raw[f"response_{L}"]
        for i, j in enumerate(members):
            response[:, j][:, :, level_pos[j]] = th[:, i]
        params_for_diag.append(th.reshape(C, D, -1))
    data_vars["response"] = (("chain", "draw", "trader", "class", "level"), response.reshape(C, D, J, K, L_all))
    mean_resp = response.mean(axis=0)
    point_response = [mean_resp[j][:, level_pos[j]].copy() if d.n_levels[j] > 0 else np.zeros((K, 0))
                      for j in range(J)]
    return _Tidy(data_vars, labels, params_for_diag, point_response, None, None)


def _posterior_tree(reports: Reports, d: _Design, idata: Any, tidy: _Tidy, class_names: list[str],
                    class_prob: np.ndarray | None, loglik_draw: np.ndarray, perms: np.ndarray, gauge: str):
    """The tidy posterior and the sampler's statistics (with each draw's class permutation) as a DataTree."""
    import xarray as xr

    post = idata["posterior"]
    C, D = post.sizes["chain"], post.sizes["draw"]
    Q, K = reports.n_questions, d.K
    coords: dict[str, Any] = {"chain": post["chain"].values, "draw": post["draw"].values, "class": class_names,
                              "trader": [str(t) for t in reports.traders],
                              "question": [str(q) for q in reports.questions]}
    if tidy.levels is not None:
        coords["level"] = tidy.levels
    data_vars = dict(tidy.data_vars)
    if class_prob is not None:
        data_vars["class_probability"] = (("chain", "draw", "question", "class"), class_prob.reshape(C, D, Q, K))
    data_vars["loglik"] = (("chain", "draw"), loglik_draw.reshape(C, D))
    attrs = dict(post.attrs)
    attrs.update({"model": d.model, "priors": PRIORS[d.model], "gauge": gauge,
                  "class_probability": "P(class | the question's reports, parameters) per draw"
                  if class_prob is not None else
                  f"not stored: {C * D * Q * K} values exceed {_MAX_STORED}; see the fit's posterior (mean)"})
    posterior = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    if "sample_stats" in idata.children and idata["sample_stats"].data_vars:
        stats = _common_stats(idata["sample_stats"].to_dataset())
    else:  # draws from a variational approximation: no sampler statistics
        stats = xr.Dataset(coords={"chain": coords["chain"], "draw": coords["draw"]})
    stats["class_permutation"] = (("chain", "draw", "class"), perms.reshape(C, D, K))
    stats = stats.assign_coords({"class": class_names})
    stats["class_permutation"].attrs["meaning"] = "class k of the draw is class_permutation[k] as sampled"
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})


def _diagnostics(d: _Design, idata: Any, tidy: _Tidy, sampled_share: np.ndarray, *, tune: int, gauge: str,
                 switched: int, sampling_seconds: float, em_seconds: float, backend: str) -> Diagnostics:
    """R-hat and ESS over the free parameters after alignment (R-hat of the shares before it too), and the run."""
    C, D = idata["posterior"].sizes["chain"], idata["posterior"].sizes["draw"]
    before = diagnose(sampled_share.reshape(C, D, d.K)).max_rhat
    return diagnose(np.concatenate(tidy.params_for_diag, axis=2), divergences=count_divergences(idata),
                    tune=int(tune), gauge=gauge, switched_draws=switched,
                    max_rhat_class_share_before_alignment=before, priors=PRIORS[d.model], collapse=d.collapse,
                    patterns=int(d.n_rows), sampling_seconds=float(sampling_seconds),
                    sampler_seconds=_sampler_seconds(idata, backend, sampling_seconds),
                    em_seconds=float(em_seconds), backend=backend)


def _sampler_seconds(idata: Any, backend: str, sampling_seconds: float) -> float:
    """Seconds of tuning and draws as PyMC's sampler or nutpie timed them; the whole wall time for the JAX backends.

    JAX compiles inside the timed call and returns before its asynchronous work ends, so the
    time PyMC records around it is not the sampling time.
    """
    if backend in ("pymc", "nutpie"):
        return float(idata["posterior"].attrs.get("sampling_time", sampling_seconds))
    return float(sampling_seconds)


def _converged(d: _Design, diagnostics: Diagnostics, D: int, tune: int) -> bool:
    """The one convergence rule on the diagnostics; a warning saying what failed and what to try."""
    problems = diagnostics.problems()
    if problems:
        warn(
            f"NUTS for the {d.model} model may not have converged: {'; '.join(problems)}. Run more draws/tune "
            f"(draws={D}, tune={tune}), more chains, or check that the model is identifiable (fewer classes)"
        )
    return not problems
