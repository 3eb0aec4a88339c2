"""Latent class models by minibatch ADVI (PyMC), for books too large for full-batch NUTS.

:func:`fit_advi` fits a mean-field Gaussian approximation (in the unconstrained space) to the
posterior of the model that :func:`~deepmarkets.models.nuts.fit_nuts` samples: the same priors
and the same collapsed likelihood, but each step of the optimiser sees a random minibatch of
``batch_size`` answer patterns (``pymc.Minibatch``) whose log-likelihood is scaled by
``patterns / batch_size``, an unbiased estimate of the full one. Draws from the approximation
are aligned to the EM labelling exactly like NUTS draws, so the result is the same
:class:`~deepmarkets.models.fit.LatentClassFit` (``method="advi"``). It is approximate:
mean-field ADVI underestimates posterior spread, so no R-hat or ESS is claimed; the ELBO trace
is kept (``fit.elbo``, ``fit.plot_elbo()``) to judge the optimisation.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from typing import Any

import numpy as np

from deepmarkets.errors import InferenceError
from deepmarkets.helpers import as_rng, warn
from deepmarkets.helpers.validate import whole_number
from deepmarkets.models.data import Reports
from deepmarkets.models.fit import LatentClassFit, check_model
from deepmarkets.models.nuts import (
    _IDENTIFIABILITY_WARNINGS,
    _MEAN_PRIOR_SD,
    _SIGMA_PRIOR_SD,
    PRIORS,
    _aligned,
    _check_reports,
    _check_start,
    _Design,
    _design,
    _initvals,
    _point_fit,
    _start_params,
    _switched,
)

__all__ = ["fit_advi", "DEFAULT_BATCH"]

#: Answer patterns per minibatch when ``batch_size`` is None (all of them when there are fewer).
DEFAULT_BATCH = 2048
#: Padded (patterns x entries per pattern) cells allowed in memory.
_MAX_PADDED = 200_000_000
#: The ELBO is judged on the means of the last two windows of this share of the iterations.
_WINDOW = 0.1


@contextlib.contextmanager
def _pymc_log(*, quiet: bool):
    """PyMC's log messages (``Finished [100%]: Average Loss = ...``) held back while ``quiet``."""
    logger = logging.getLogger("pymc")
    level = logger.level
    if quiet:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _padded(d: _Design) -> tuple[dict[str, np.ndarray], int]:
    """Each pattern's entries as rows of a ``(patterns, M)`` table (padding contributes 0), and ``M``."""
    P = d.n_rows
    order = np.argsort(d.rows, kind="stable")
    rows = d.rows[order]
    per_row = np.bincount(rows, minlength=P)
    M = max(int(per_row.max()) if len(rows) else 0, 1)
    if P * M > _MAX_PADDED:
        raise InferenceError(f"the book has {P} answer patterns with up to {M} entries each; their padded table "
                             f"({P * M} cells) exceeds {_MAX_PADDED}; split the book or fit it by EM")
    pos = np.arange(len(rows)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    names = ("f_trader", "f_n", "f_s1", "f_s2") if d.model == "forecast" else ("cols", "vals")
    out = {}
    for name in names:
        values = getattr(d, name)[order]
        table = np.zeros((P, M), dtype=values.dtype)
        table[rows, pos] = values
        out[name] = table
    return out, M


def _minibatch_model(d: _Design, batch_size: int):
    """The PyMC model of :func:`~deepmarkets.models.nuts.latent_class_model` with a minibatch likelihood."""
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    K, P = d.K, d.n_rows
    tables, _ = _padded(d)
    data = [tables[name] for name in tables] + [d.counts]
    with pm.Model() as m:
        share = pm.Dirichlet("class_share", a=np.ones(K))
        log_share = pt.log(share)
        if batch_size < P:
            batch = pm.Minibatch(*[pytensor.shared(x) for x in data], batch_size=batch_size)
        else:
            batch = [pytensor.shared(x) for x in data]
        counts = batch[-1]
        if d.model == "forecast":
            J = d.n_traders
            mean = pm.Normal("mean", mu=np.zeros((J, K)), sigma=_MEAN_PRIOR_SD)
            sigma = pm.HalfNormal("sigma", sigma=np.full(J, _SIGMA_PRIOR_SD))
            tr, n, s1, s2 = batch[:4]
            m_e = mean[tr]  # (B, M, K)
            iv_e = (1.0 / pt.sqr(sigma))[tr][..., None]
            term = (-0.5 * iv_e * (s2[..., None] - 2.0 * s1[..., None] * m_e + n[..., None] * pt.sqr(m_e))
                    - (n * (pt.log(sigma[tr]) + 0.5 * np.log(2 * np.pi)))[..., None])
            ll = term.sum(axis=1) + log_share
        else:
            blocks = []
            for L, members in d.groups:
                theta = pm.Dirichlet(f"response_{L}", a=np.ones((len(members), K, L)))
                log_th = pt.log(theta).transpose(0, 2, 1)
                blocks.append(log_th.reshape((log_th.shape[0] * log_th.shape[1], log_th.shape[2])))
            if blocks:
                log_theta = pt.concatenate(blocks, axis=0) if len(blocks) > 1 else blocks[0]  # (C, K)
                cols, vals = batch[:2]
                ll = (vals[..., None] * log_theta[cols]).sum(axis=1) + log_share
            else:
                ll = pt.zeros((counts.shape[0], K)) + log_share
        scale = pytensor.shared(np.float64(P / min(batch_size, P)))  # data, so one compiled graph serves every book
        pm.Potential("loglik", scale * pt.dot(counts, pm.math.logsumexp(ll, axis=1)))
    return m


def _check_batch_size(batch_size: Any, patterns: int) -> int:
    if batch_size is None:
        return min(DEFAULT_BATCH, patterns)
    batch_size = whole_number(batch_size, "batch_size", 1, InferenceError)
    if batch_size > patterns:
        raise InferenceError(f"batch_size={batch_size} but the book has only {patterns} distinct answer patterns "
                             f"(the rows a minibatch draws from); use batch_size <= {patterns}, or None")
    return batch_size


def fit_advi(reports: Reports, *, model: str, classes: int | None, batch_size: int | None = None,
             iterations: int = 10_000, learning_rate: float = 0.01, draws: int = 1000,
             start: LatentClassFit | None = None, rng: int | np.random.Generator | None = None,
             progressbar: bool = True) -> LatentClassFit:
    """Fit a latent class model by minibatch ADVI, started from the EM optimum.

    Parameters
    ----------
    reports : Reports
    model : {"lca", "dawid-skene", "forecast"}
    classes : int or None
        As in :func:`~deepmarkets.models.em.fit_em`.
    batch_size : int, optional
        Distinct answer patterns (collapsed questions, as NUTS uses them) per optimisation step,
        drawn with replacement; their log-likelihood is scaled by ``patterns / batch_size``.
        Default: :data:`DEFAULT_BATCH` or all patterns when there are fewer (then every step
        uses the exact likelihood).
    iterations : int, default 10000
        Optimisation steps (Adam).
    learning_rate : float, default 0.01
        Adam's step size. The variational parameters are averaged over the last 10 % of the
        steps (iterate averaging), which removes most of the minibatch noise of the last step.
    draws : int, default 1000
        Draws taken from the fitted approximation.
    start : LatentClassFit, optional
        The EM fit to start from and to align the draws to (fitted when omitted).
    rng : int, numpy.random.Generator or None
        Seeds EM, the start, the optimiser's minibatches and the draws.
    progressbar : bool, default True

    Returns
    -------
    LatentClassFit
        ``method="advi"``, ``approximate`` True; point estimates are means of the aligned draws;
        ``idata`` has the NUTS posterior's variables and coords (one chain) and ``sample_stats``
        with ``class_permutation``; ``elbo`` is the ELBO at every step; ``diagnostics`` is a
        mapping with ``approximate``, ``iterations``, ``batch_size``, ``patterns``,
        ``learning_rate``, ``elbo_last`` (mean over the last window of 10 % of the steps),
        ``elbo_change`` (its change from the window before) and ``elbo_noise`` (standard error
        of that change), ``draws``, ``gauge``, ``switched_draws``, ``priors``, ``fit_seconds``,
        ``em_seconds``. ``converged`` is True when ``elbo_change <= 2 * elbo_noise``.

    Raises
    ------
    InferenceError
        For bad arguments (a batch larger than the number of patterns, a non-positive learning
        rate, ...), a start that does not match, or an optimisation that fails.

    Warns
    -----
    UserWarning
        When the ELBO still rises over the last window of steps (run more ``iterations``).

    Examples
    --------
    >>> from deepmarkets.models.simulate import simulate_reports
    >>> book, truth, _ = simulate_reports(500, 8, classes=2, model="dawid-skene", rng=0)
    >>> fit = fit_advi(Reports.from_book(book), model="dawid-skene", classes=None, batch_size=64,
    ...                iterations=3000, rng=0, progressbar=False)  # doctest: +SKIP
    >>> fit.approximate, fit.elbo.shape  # doctest: +SKIP
    (True, (3000,))
    """
    started = time.perf_counter()
    _check_reports(reports)
    model = check_model(model)
    iterations = whole_number(iterations, "iterations", 20, InferenceError)
    draws = whole_number(draws, "draws", 1, InferenceError)
    if not (isinstance(learning_rate, float | int) and not isinstance(learning_rate, bool)
            and np.isfinite(learning_rate) and learning_rate > 0):
        raise InferenceError(f"learning_rate={learning_rate!r}; expected a finite number > 0 (for example 0.01)")
    from deepmarkets.models.em import check_identifiable, fit_em

    with warnings.catch_warnings():
        if start is not None:
            warnings.simplefilter("ignore")
        K = check_identifiable(reports, model=model, classes=classes)
    d = _design(reports, model, K, True)
    batch_size = _check_batch_size(batch_size, d.n_rows)
    gen = as_rng(rng)
    em_seconds = 0.0
    if start is None:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            for said in _IDENTIFIABILITY_WARNINGS:
                warnings.filterwarnings("ignore", message=said)
            start = fit_em(reports, model=model, classes=classes, rng=gen)
        em_seconds = time.perf_counter() - t0
    else:
        _check_start(start, reports, model, K)
    init = _initvals(_start_params(start, d), 1, gen)[0]
    fit_seed, draw_seed = (int(s) for s in gen.integers(0, 2**31 - 1, size=2))

    import pymc as pm

    t0 = time.perf_counter()
    pm_model = _minibatch_model(d, batch_size)
    try:
        with pm_model, warnings.catch_warnings(), _pymc_log(quiet=not progressbar):
            if not progressbar:
                warnings.simplefilter("ignore", UserWarning)
            average = _IterateAverage(iterations - max(1, int(_WINDOW * iterations)))
            approx = pm.fit(n=iterations, method="advi", start=init, random_seed=fit_seed, progressbar=progressbar,
                            obj_optimizer=pm.adam(learning_rate=float(learning_rate)), callbacks=[average])
            average.apply(approx)
            idata = approx.sample(draws, random_seed=draw_seed)
    except (ValueError, RuntimeError, FloatingPointError) as err:
        raise InferenceError(f"ADVI of the {model} model failed: {type(err).__name__}: {err}") from err
    fit_seconds = time.perf_counter() - t0
    elbo = -np.asarray(approx.hist, dtype=np.float64)
    if not np.isfinite(elbo[-max(1, int(_WINDOW * iterations)):]).all():
        raise InferenceError(f"ADVI of the {model} model diverged (the ELBO is not finite at the end); lower "
                             f"learning_rate={learning_rate} or raise batch_size={batch_size}")
    return _result(reports, d, start, idata, elbo, draws=draws, batch_size=batch_size,
                   learning_rate=float(learning_rate), started=started, em_seconds=em_seconds,
                   fit_seconds=fit_seconds)


class _IterateAverage:
    """Averages the variational parameters over the steps after ``after`` (Polyak–Ruppert averaging).

    A constant learning rate leaves the minibatch optimiser jittering around the optimum; the
    average of its last steps is much closer to it than the last step.
    """

    def __init__(self, after: int) -> None:
        self.after, self.n, self.sums = after, 0, None

    def __call__(self, approx: Any, losses: Any, i: int) -> None:
        if i <= self.after:
            return
        values = [p.get_value() for p in approx.params]
        self.sums = values if self.sums is None else [a + v for a, v in zip(self.sums, values, strict=True)]
        self.n += 1

    def apply(self, approx: Any) -> None:
        if self.sums is not None:
            for p, total in zip(approx.params, self.sums, strict=True):
                p.set_value(total / self.n)


def _elbo_trend(elbo: np.ndarray) -> tuple[float, float, float]:
    """Mean ELBO of the last window, its change from the window before, and the standard error of the change."""
    w = max(2, int(_WINDOW * len(elbo)))
    last, before = elbo[-w:], elbo[-2 * w:-w]
    noise = float(np.sqrt(last.var(ddof=1) / len(last) + before.var(ddof=1) / len(before)))
    return float(last.mean()), float(last.mean() - before.mean()), noise


def _result(reports: Reports, d: _Design, start: LatentClassFit, idata: Any, elbo: np.ndarray, *, draws: int,
            batch_size: int, learning_rate: float, started: float, em_seconds: float,
            fit_seconds: float) -> LatentClassFit:
    """The fit from draws of the approximation: aligned to the EM labelling, as a DataTree, with the ELBO."""
    a = _aligned(reports, d, start, idata)
    a.tree["posterior"].attrs["approximation"] = "mean-field ADVI (PyMC); draws are independent"
    last, change, noise = _elbo_trend(elbo)
    converged = change <= 2.0 * noise
    if not converged:
        warn(f"ADVI for the {d.model} model may not have converged: the ELBO rose by {change:.4g} (noise "
             f"{noise:.2g}) over the last {int(_WINDOW * 100)}% of {len(elbo)} iterations; run more iterations")
    diagnostics = {
        "approximate": True, "method": "mean-field ADVI, minibatches of answer patterns",
        "iterations": len(elbo), "batch_size": int(batch_size), "patterns": int(d.n_rows),
        "learning_rate": learning_rate, "elbo_last": last, "elbo_change": change, "elbo_noise": noise,
        "draws": a.draws, "gauge": a.gauge, "switched_draws": _switched(a),
        "priors": PRIORS[d.model], "collapse": d.collapse, "fit_seconds": float(fit_seconds),
        "em_seconds": float(em_seconds),
        "note": "no R-hat or ESS: the draws are independent draws from an approximation that understates spread",
    }
    return _point_fit(reports, d, start, a, diagnostics, method="advi", n_iter=len(elbo), converged=converged,
                      started=started, elbo=elbo)
