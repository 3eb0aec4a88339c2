"""Maximum likelihood (or MAP) latent class models by EM, with seeded restarts.

Three models share one estimator, :func:`fit_em`:

``"lca"``
    Latent class analysis as in poLCA: each question has one of K hidden classes with shares
    ``pi``; trader j answers from a categorical distribution ``theta_j[k]`` over the levels it
    used. Missing answers are absent rows; a trader's repeated answers on a question each count.
``"dawid-skene"``
    Dawid & Skene (1979): the classes are the labels (``K = L``); ``theta_j`` is trader j's
    confusion matrix ``P(answer = l | truth = k)``. The first start is the majority vote.
``"forecast"``
    A book of quoted probabilities: ``logit(p) ~ Normal(mean[j, k], sigma[j])`` for trader j
    on a question of class k; the M-step is closed form.

The likelihood of question q is ``sum_k pi_k prod_{reports n on q} f(report n | k)``; the
E-step works on log scale with log-sum-exp, and probabilities that reach 0 stay 0 (their logs
are ``-inf``, which the sums handle). All starts run together as columns of one sparse
matrix product per iteration; each start stops when its log-likelihood increases by less
than ``tol * max(1, |loglik|)`` in an iteration.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepmarkets.errors import InferenceError
from deepmarkets.helpers import ProgressBar, as_rng, warn
from deepmarkets.helpers.validate import finite_float, whole_number
from deepmarkets.models.data import Reports
from deepmarkets.models.fit import LatentClassFit, check_model, count_parameters

__all__ = ["fit_em", "log_likelihood", "check_identifiable", "SIGMA_FLOOR"]

#: Smallest standard deviation of logit(p) the forecast model estimates (keeps the likelihood bounded).
SIGMA_FLOOR = 1e-3


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------




def _n_classes(reports: Reports, model: str, classes: Any) -> int:
    if classes is not None and (isinstance(classes, bool) or not isinstance(classes, int | np.integer)):
        raise InferenceError(f"classes={classes!r}; expected a whole number of latent classes >= 1, or None")
    if model == "dawid-skene":
        L = len(reports.labels)
        if L == 0:
            raise InferenceError("the book has no categorical answers; Dawid-Skene needs answer labels "
                                 "(use model='forecast' for a book of probabilities)")
        if classes is not None and int(classes) != L:
            raise InferenceError(
                f"classes={classes} with model='dawid-skene', but its classes are the {L} answer labels "
                f"{reports.labels.tolist()}; leave classes=None, or use model='lca' for K free classes"
            )
        if L == 1:
            raise InferenceError(
                f"every answer in the book is {str(reports.labels[0])!r}; with one label there is nothing to infer"
            )
        return L
    if classes is None:
        if model == "forecast":
            return 2
        raise InferenceError("model='lca' needs the number of latent classes: pass classes=K (K >= 1)")
    if int(classes) < 1:
        raise InferenceError(f"classes={classes}; expected at least 1 latent class")
    return int(classes)


def check_identifiable(reports: Reports, *, model: str, classes: int | None) -> int:
    """Check that a latent class model can be fitted to ``reports``; return the number of classes.

    Raises :class:`~deepmarkets.errors.InferenceError` when the model cannot be identified: one
    question; one trader who answered each question once (lca, Dawid–Skene); more classes
    than questions; more free parameters than answer patterns could determine
    (``n_parameters > prod_j L_j - 1``, the degrees of freedom of the table of complete answer
    patterns). Warns (``UserWarning``) when the parameters outnumber the distinct answer
    patterns seen minus one: the maximum is then typically on the boundary and some
    parameters are not determined by the data.

    Parameters
    ----------
    reports : Reports
    model : {"lca", "dawid-skene", "forecast"}
    classes : int or None

    Returns
    -------
    int
        The number of classes K.

    Examples
    --------
    >>> import pandas as pd
    >>> r = Reports.from_frame(pd.DataFrame({"A": [1, 2, 1], "B": [1, 2, 2]}), wide=True)
    >>> check_identifiable(r, model="lca", classes=2)
    Traceback (most recent call last):
    ...
    deepmarkets.errors.InferenceError: ...5 free parameters...
    """
    model = check_model(model)
    K = _n_classes(reports, model, classes)
    Q, J = reports.n_questions, reports.n_traders
    if model == "forecast":
        if reports.probability is None:
            raise InferenceError("model='forecast' needs a probability column; this book has answers only "
                                 "(use model='dawid-skene' or 'lca')")
        bad = np.isnan(reports.probability)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InferenceError(
                f"{int(bad.sum())} report(s) have no probability (NaN), e.g. trader "
                f"{str(reports.traders[reports.trader[i]])!r} "
                f"on question {str(reports.questions[reports.question[i]])!r}; the forecast model needs a probability "
                f"in every row: fill them in or drop those rows"
            )
        rows = np.ones(reports.n_answers, dtype=bool)
    else:
        rows = reports.answer >= 0
        if not rows.any():
            raise InferenceError(f"model={model!r} needs categorical answers; this book has probabilities only "
                                 f"(use model='forecast')")
    if Q < 2:
        raise InferenceError(
            f"the book has one question ({str(reports.questions[0])!r}); class shares and trader reliabilities cannot "
            f"be estimated from one question: add questions"
        )
    if K > Q:
        raise InferenceError(f"classes={K} but the book has only {Q} questions; use at most {Q} classes "
                             f"(far fewer in practice)")
    cell = reports.question[rows] * J + reports.trader[rows]
    repeats = len(np.unique(cell)) < len(cell)
    n_par = count_parameters(model, K, reports.n_levels, J)
    if model == "forecast":
        if J == 1 and not repeats:
            warn(
                f"the book has one forecaster ({str(reports.traders[0])!r}); its {K} classes are told apart only by "
                f"the "
                f"spread of its own forecasts, so class means and shares rest on the normal-shape assumption"
            )
        return K
    if J == 1 and not repeats and K > 1:
        raise InferenceError(
            f"the book has one trader ({str(reports.traders[0])!r}) answering each question once; with {K} classes its "
            f"answer distribution per class cannot be told apart from the class shares (not identifiable). "
            f"Add traders, or have the trader answer questions more than once"
        )
    if K > 1 and not repeats:
        if model == "dawid-skene":
            log_cells = J * math.log(len(reports.labels))
        else:
            log_cells = float(np.sum(np.log(np.maximum(reports.n_levels, 1))))
        if log_cells < math.log(n_par + 1) - 1e-12:
            cells = round(math.exp(log_cells))
            raise InferenceError(
                f"{model} with {K} classes has {n_par} free parameters, but answers of {J} trader(s) form only "
                f"{cells} possible answer patterns ({cells - 1} degrees of freedom): the model is not identifiable. "
                f"Use fewer classes or more traders"
            )
        if not repeats:
            n_patterns = _count_patterns(reports, rows)
            if n_par > n_patterns - 1:
                warn(
                    f"{model} with {K} classes has {n_par} free parameters, but the book shows only {n_patterns} "
                    f"distinct answer patterns: some parameters are not determined by the data (expect estimates at "
                    f"0 or 1 and several maxima); compare fits with fewer classes (bic)"
                )
    return K


def _count_patterns(reports: Reports, rows: np.ndarray) -> int:
    """Number of distinct answer patterns (which trader gave which answer) among the questions.

    Each (trader, level) pair gets two random 64-bit keys; a question's pattern is the pair of
    wrapping sums of its keys, which does not depend on the order of the rows (a collision has
    probability about 2**-128 per pair of patterns).
    """
    offset = np.concatenate([[0], np.cumsum(reports.n_levels)])
    col = offset[reports.trader[rows]] + reports.answer[rows]
    keys = np.random.default_rng(12345).integers(0, 2**63, size=(2, int(offset[-1])), dtype=np.int64).view(np.uint64)
    h = np.zeros((2, reports.n_questions), dtype=np.uint64)
    for i in range(2):
        np.add.at(h[i], reports.question[rows], keys[i][col])
    return len(np.unique(h, axis=1).T)


# ---------------------------------------------------------------------------
# categorical engine (lca and Dawid-Skene)
# ---------------------------------------------------------------------------


@dataclass
class _Design:
    """Sparse question-by-column counts; a column is one (trader, level) pair."""

    A: Any  # scipy.sparse csr (Q, C)
    AT: Any  # (C, Q)
    starts: np.ndarray  # (J_nonempty,) first column of each trader block with columns
    block: np.ndarray  # (C,) trader of each column
    sizes: np.ndarray  # (J,) columns per trader
    answered: np.ndarray  # (Q,) bool


def _design(reports: Reports, model: str) -> _Design:
    from scipy import sparse

    rows = reports.answer >= 0
    J, Q = reports.n_traders, reports.n_questions
    if model == "dawid-skene":
        L = len(reports.labels)
        sizes = np.full(J, L, dtype=np.int64)
        col = reports.trader[rows] * L + reports.label[rows]
    else:
        sizes = reports.n_levels
        offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        col = offset[reports.trader[rows]] + reports.answer[rows]
    C = int(sizes.sum())
    q = reports.question[rows]
    A = sparse.csr_matrix((np.ones(len(q)), (q, col)), shape=(Q, C))
    A.sum_duplicates()
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    starts = offsets[:-1][sizes > 0]
    block = np.repeat(np.arange(J), sizes)
    answered = np.zeros(Q, dtype=bool)
    answered[q] = True
    return _Design(A=A, AT=A.T.tocsr(), starts=starts, block=block, sizes=sizes, answered=answered)


def _log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(x)


def _estep_cat(d: _Design, log_theta: np.ndarray, log_pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior (Q, R, K) and log-likelihood (R,) for R starts; log_theta is (C, R, K), log_pi (R, K)."""
    C, R, K = log_theta.shape
    S = np.asarray(d.A @ log_theta.reshape(C, R * K)).reshape(-1, R, K) + log_pi[None]
    return _normalise(S)


def _normalise(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior and total log-likelihood from joint log-probabilities ``S`` (Q, R, K), by log-sum-exp.

    The class axis is short, so its reductions are written as loops over K (numpy reduces a
    short last axis slowly).
    """
    K = S.shape[2]
    m = S[..., 0].copy()
    for k in range(1, K):
        np.maximum(m, S[..., k], out=m)
    m[~np.isfinite(m)] = 0.0
    with np.errstate(under="ignore"):
        e = np.exp(S - m[..., None])
    tot = e[..., 0].copy()
    for k in range(1, K):
        tot += e[..., k]
    ll_q = m + _log(tot)
    bad = ~(tot > 0)
    if bad.any():  # a question impossible under every class (not at EM iterates): spread evenly
        tot[bad] = 1.0
        e[bad] = 1.0 / K
    post = e / tot[..., None]
    return post, ll_q.sum(axis=0)


def _mstep_cat(d: _Design, post: np.ndarray, prior: float) -> tuple[np.ndarray, np.ndarray]:
    """Response probabilities (C, R, K) and shares (R, K) from posteriors (Q, R, K)."""
    Q, R, K = post.shape
    counts = np.asarray(d.AT @ post.reshape(Q, R * K)).reshape(-1, R, K)
    return _mstep_from_counts(d, counts, post[d.answered].sum(axis=0), prior)


def _mstep_from_counts(d: _Design, counts: np.ndarray, share: np.ndarray,
                       prior: float) -> tuple[np.ndarray, np.ndarray]:
    """The M-step from its sufficient statistics: expected counts per column and class (C, R, K) and
    class-share sums over the answered questions (R, K). Sums over any split of the questions add up."""
    R = counts.shape[1]
    if prior > 0:
        counts = counts + prior
    tot = np.add.reduceat(counts, d.starts, axis=0)  # (J_nonempty, R, K)
    denom = tot[np.searchsorted(d.starts, np.arange(counts.shape[0]), side="right") - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        theta = counts / denom
    # a class with no weight on a trader's answers (only possible when its share is 0): uniform
    empty = ~np.isfinite(theta)
    if empty.any():
        theta[empty] = (1.0 / d.sizes[d.block])[:, None, None].repeat(R, 1).repeat(counts.shape[2], 2)[empty]
    share = share + prior
    pi = share / share.sum(axis=1, keepdims=True)
    return theta, pi


# ---------------------------------------------------------------------------
# forecast engine
# ---------------------------------------------------------------------------


@dataclass
class _Forecast:
    x: np.ndarray  # (N,) logit p
    q: np.ndarray
    j: np.ndarray
    B: Any  # (Q, N) incidence
    T: Any  # (J, N) incidence
    n_j: np.ndarray  # (J,)
    answered: np.ndarray


def _forecast_design(reports: Reports) -> _Forecast:
    from scipy import sparse

    p = reports.probability
    x = np.log(p) - np.log1p(-p)
    N = len(x)
    q, j = reports.question, reports.trader
    B = sparse.csr_matrix((np.ones(N), (q, np.arange(N))), shape=(reports.n_questions, N))
    T = sparse.csr_matrix((np.ones(N), (j, np.arange(N))), shape=(reports.n_traders, N))
    answered = np.zeros(reports.n_questions, dtype=bool)
    answered[q] = True
    return _Forecast(x=x, q=q, j=j, B=B, T=T, n_j=np.bincount(j, minlength=reports.n_traders), answered=answered)


def _estep_fc(f: _Forecast, mean: np.ndarray, sigma: np.ndarray, log_pi: np.ndarray):
    """mean (J, R, K), sigma (J, R), log_pi (R, K)."""
    J, R, K = mean.shape
    s = sigma[f.j][:, :, None]
    z = (f.x[:, None, None] - mean[f.j]) / s
    lp = -0.5 * z**2 - np.log(s) - 0.5 * math.log(2 * math.pi)
    S = np.asarray(f.B @ lp.reshape(len(f.x), R * K)).reshape(-1, R, K) + log_pi[None]
    return _normalise(S)


def _mstep_fc(f: _Forecast, post: np.ndarray, mean_old: np.ndarray | None, prior: float):
    Q, R, K = post.shape
    w = post[f.q]  # (N, R, K)
    sw = np.asarray(f.T @ w.reshape(len(f.x), R * K)).reshape(-1, R, K)
    swx = np.asarray(f.T @ (w * f.x[:, None, None]).reshape(len(f.x), R * K)).reshape(-1, R, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = swx / sw
    empty = sw <= 1e-12
    if empty.any():
        fallback = (np.asarray(f.T @ f.x) / np.maximum(f.n_j, 1))[:, None, None] + np.zeros_like(mean)
        mean[empty] = (mean_old if mean_old is not None else fallback)[empty]
    resid = (f.x[:, None, None] - mean[f.j]) ** 2 * w
    ss = np.asarray(f.T @ resid.reshape(len(f.x), R * K)).reshape(-1, R, K).sum(axis=2)
    sigma = np.sqrt(ss / np.maximum(f.n_j, 1)[:, None])
    sigma = np.maximum(sigma, SIGMA_FLOOR)
    share = post[f.answered].sum(axis=0) + prior
    pi = share / share.sum(axis=1, keepdims=True)
    return mean, sigma, pi


# ---------------------------------------------------------------------------
# starts
# ---------------------------------------------------------------------------


def _vote_posterior(reports: Reports) -> np.ndarray:
    """(Q, L) share of each label among a question's answers (the majority-vote start)."""
    rows = reports.answer >= 0
    L = len(reports.labels)
    counts = np.bincount(reports.question[rows] * L + reports.label[rows],
                         minlength=reports.n_questions * L).reshape(-1, L).astype(float)
    tot = counts.sum(axis=1, keepdims=True)
    return np.where(tot > 0, counts / np.maximum(tot, 1), 1.0 / L)


def _starts_cat(reports: Reports, d: _Design, model: str, K: int, R: int, gen: np.random.Generator,
                prior: float) -> tuple[np.ndarray, np.ndarray]:
    if model == "dawid-skene":
        vote = _vote_posterior(reports)
        post = np.empty((reports.n_questions, R, K))
        post[:, 0] = vote
        for r in range(1, R):
            noise = gen.dirichlet(np.ones(K), size=reports.n_questions)
            mix = 0.5 if r % 2 else 0.9  # half near the vote, half far from it
            post[:, r] = (1 - mix) * vote + mix * noise
        return _mstep_cat(d, post, prior)
    return _random_response(d, K, R, gen)


def _random_response(d: _Design, K: int, R: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The lca starts: random response probabilities (each trader's rows Dirichlet(1)) and equal shares, as poLCA."""
    C = len(d.block)
    g = gen.gamma(1.0, size=(C, R, K)) + 1e-12
    tot = np.add.reduceat(g, d.starts, axis=0)
    theta = g / tot[np.searchsorted(d.starts, np.arange(C), side="right") - 1]
    return theta, np.full((R, K), 1.0 / K)


def _starts_fc(f: _Forecast, reports: Reports, K: int, R: int, gen: np.random.Generator, prior: float):
    Q = reports.n_questions
    xbar = np.asarray(f.B @ f.x) / np.maximum(np.asarray(f.B.sum(axis=1)).ravel(), 1)
    spread = float(np.std(xbar[f.answered])) or 1.0
    post = np.empty((Q, R, K))
    for r in range(R):
        if r == 0:  # centres at evenly spaced quantiles
            centres = np.quantile(xbar[f.answered], (np.arange(K) + 0.5) / K)
        else:
            centres = np.sort(gen.choice(xbar[f.answered], size=K, replace=True) + gen.normal(0, 0.1 * spread, K))
        d2 = (xbar[:, None] - centres[None, :]) ** 2 / (2 * (0.5 * spread) ** 2)
        e = np.exp(-(d2 - d2.min(axis=1, keepdims=True)))
        post[:, r] = e / e.sum(axis=1, keepdims=True)
    return _mstep_fc(f, post, None, prior)


# ---------------------------------------------------------------------------
# the estimator
# ---------------------------------------------------------------------------




def fit_em(reports: Reports, *, model: str, classes: int | None, restarts: int = 10, tol: float = 1e-10,
           max_iter: int = 5000, prior: float = 0.0, rng: int | np.random.Generator | None = None,
           progressbar: bool = True) -> LatentClassFit:
    """Fit a latent class model to a reports book by EM with seeded restarts; keep the best start.

    Parameters
    ----------
    reports : Reports
        The encoded book (see :class:`~deepmarkets.models.data.Reports`).
    model : {"lca", "dawid-skene", "forecast"}
        See the module docstring.
    classes : int or None
        Number of latent classes K: required for ``"lca"``; must be None (or the number of labels)
        for ``"dawid-skene"``; defaults to 2 for ``"forecast"``.
    restarts : int, default 10
        Number of starts. ``"lca"``: random response probabilities (Dirichlet(1) rows) and equal
        shares, as poLCA. ``"dawid-skene"``: the majority vote first, then the vote mixed with
        random posteriors. ``"forecast"``: question-mean logits clustered around quantiles,
        then around random centres.
    tol : float, default 1e-10
        A start stops when one iteration raises its log-likelihood (its log posterior when
        ``prior > 0``) by less than ``tol * max(1, |value|)``.
    max_iter : int, default 5000
        Most iterations per start; a best start that did not converge gives a warning.
    prior : float, default 0.0
        Dirichlet pseudo-count added to every cell of the class shares and response tables
        (0: maximum likelihood; > 0: the MAP estimate under Dirichlet(1 + prior) priors). The
        forecast model adds it to the class shares only.
    rng : int, numpy.random.Generator or None
        Seed or generator for the starts.
    progressbar : bool, default True
        Show progress on standard error (:class:`deepmarkets.helpers.ProgressBar`).

    Returns
    -------
    LatentClassFit
        ``method="em"``. Classes are named ``"1".."K"`` in order of decreasing share for lca,
        of increasing mean logit for forecasts; Dawid–Skene classes are the labels, matched to
        them by the assignment that maximises the expected agreement of answers and truth.

    Raises
    ------
    InferenceError
        For an unknown model, a bad ``classes``, or a model that cannot be identified (see
        :func:`check_identifiable`).

    Examples
    --------
    >>> from deepmarkets.models.simulate import simulate_reports
    >>> from deepmarkets.models.metrics import adjusted_rand_index
    >>> book, truth, _ = simulate_reports(300, 6, classes=2, levels=3, rng=0)
    >>> fit = fit_em(Reports.from_book(book), model="lca", classes=2, rng=0)
    >>> fit.converged, round(adjusted_rand_index(truth, fit.posterior.argmax(axis=1)), 2)
    (True, 1.0)
    """
    started = time.perf_counter()
    model = _check_arguments(reports, model, restarts, max_iter, tol, prior)
    K = check_identifiable(reports, model=model, classes=classes)
    gen = as_rng(rng)
    R = int(restarts)
    prior = float(prior)
    if model != "forecast" and (reports.answer < 0).any():
        n_drop = int((reports.answer < 0).sum())
        warn(f"{n_drop} report(s) have a probability but no answer; model={model!r} uses the answers only")
    steps = (_forecast_steps(reports, K, R, gen, prior) if model == "forecast"
             else _categorical_steps(reports, model, K, R, gen, prior))
    with ProgressBar(f"EM {model}", max_iter, enabled=progressbar) as bar:
        runs = _run_starts(steps, R, tol, max_iter, prior, bar)
    best = int(np.argmax(runs.objective))
    st = runs.state[best]
    post, ll = steps.estep(st)
    post = post[:, 0]
    if not runs.converged[best]:
        warn(
            f"EM for {model} stopped after max_iter={max_iter} iterations before meeting tol={tol:g}; the "
            f"log-likelihood {float(ll[0]):.6f} may still rise: raise max_iter or loosen tol"
        )
    classes_out, order, pi, response, mean, sigma = _labelled(reports, model, K, steps, st, post)
    return LatentClassFit(
        model=model, method="em", reports=reports, classes=classes_out, class_shares=pi, response=response,
        posterior=post[:, order], loglik=float(ll[0]), n_parameters=count_parameters(model, K, reports.n_levels,
                                                                                     reports.n_traders),
        n_iter=int(runs.iterations[best]), converged=bool(runs.converged[best]), restarts_loglik=runs.loglik,
        seconds=time.perf_counter() - started, mean=mean, sigma=sigma, prior=prior,
    )


def _check_arguments(reports: Any, model: Any, restarts: Any, max_iter: Any, tol: Any, prior: Any) -> str:
    """The model's name, or an InferenceError for the first argument of :func:`fit_em` that is not usable."""
    if not isinstance(reports, Reports):
        raise InferenceError(f"fit_em takes a Reports object, got a {type(reports).__name__}; "
                             f"build one with Reports.from_book(book) or Reports.from_frame(frame)")
    model = check_model(model)
    whole_number(restarts, "restarts", 1, InferenceError, hint="restarts is the number of EM starts")
    whole_number(max_iter, "max_iter", 1, InferenceError)
    finite_float(tol, "tol", InferenceError, low=0)
    finite_float(prior, "prior", InferenceError, low=0, hint="prior is a pseudo-count (0 for maximum likelihood)")
    return model


@dataclass
class _Steps:
    """One model's EM, vectorised over starts: the starting states and the steps on a state (a list of arrays)."""

    start: list[np.ndarray]
    estep: Any  # state -> (class posteriors, log-likelihood per start)
    mstep: Any  # (class posteriors, state) -> state
    take: Any  # (state, start indices) -> the state of those starts
    log_prior: Any  # state -> log prior density per start, up to a constant
    design: _Design | None = None


def _forecast_steps(reports: Reports, K: int, R: int, gen: np.random.Generator, prior: float) -> _Steps:
    f = _forecast_design(reports)
    mean, sigma, pi = _starts_fc(f, reports, K, R, gen, prior)

    def estep(st):
        return _estep_fc(f, st[0], st[1], _log(st[2]))

    def mstep(post, st):
        return list(_mstep_fc(f, post, st[0], prior))

    def take(st, idx):
        return [st[0][:, idx], st[1][:, idx], st[2][idx]]

    def log_prior(st):  # Dirichlet(1 + prior) on the shares, up to a constant
        return prior * _log(st[2]).sum(axis=1)

    return _Steps([mean, sigma, pi], estep, mstep, take, log_prior)


def _categorical_steps(reports: Reports, model: str, K: int, R: int, gen: np.random.Generator,
                       prior: float) -> _Steps:
    d = _design(reports, model)
    theta, pi = _starts_cat(reports, d, model, K, R, gen, prior)

    def estep(st):
        return _estep_cat(d, _log(st[0]), _log(st[1]))

    def mstep(post, st):
        return list(_mstep_cat(d, post, prior))

    def take(st, idx):
        return [st[0][:, idx], st[1][idx]]

    def log_prior(st):  # Dirichlet(1 + prior) on the shares and on every response row, up to a constant
        return prior * (_log(st[0]).sum(axis=(0, 2)) + _log(st[1]).sum(axis=1))

    return _Steps([theta, pi], estep, mstep, take, log_prior, design=d)


@dataclass
class _Runs:
    """Where each start ended: log-likelihood, objective, iterations, whether it met ``tol``, and its state."""

    loglik: np.ndarray
    objective: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    state: dict[int, list[np.ndarray]]


def _run_starts(steps: _Steps, R: int, tol: float, max_iter: int, prior: float, bar: ProgressBar, *,
                every: int = 10) -> _Runs:
    """EM from every start at once; a start leaves the batch when its gain falls below ``tol`` (or at ``max_iter``).

    ``steps.estep`` returns anything indexed by start on its axis 1 (class posteriors, or sums of
    them) that ``steps.mstep`` takes; the bar moves every ``every`` iterations.
    """
    runs = _Runs(np.full(R, -np.inf), np.full(R, -np.inf), np.zeros(R, dtype=np.int64), np.zeros(R, dtype=bool), {})
    state = steps.start
    active = np.arange(R)
    prev = np.full(R, -np.inf)
    post, ll = steps.estep(state)
    for it in range(1, max_iter + 1):
        state = steps.mstep(post, state)
        post, ll = steps.estep(state)
        objective = ll + steps.log_prior(state) if prior > 0 else ll  # EM raises the log posterior under a prior
        gain = objective - prev
        done = gain <= tol * np.maximum(1.0, np.abs(objective))
        if it == max_iter:
            done[:] = True
        if done.any():
            for i in np.flatnonzero(done):
                r = int(active[i])
                runs.loglik[r] = ll[i]
                runs.objective[r] = objective[i]
                runs.iterations[r] = it
                runs.converged[r] = it < max_iter or bool(gain[i] <= tol * max(1.0, abs(objective[i])))
                runs.state[r] = steps.take(state, [i])
            keep = np.flatnonzero(~done)
            if keep.size == 0:
                break
            state = steps.take(state, keep)
            post = post[:, keep]
            ll = ll[keep]
            objective = objective[keep]
            active = active[keep]
        prev = objective
        if it % every == 0:
            best = float(np.max(np.concatenate([runs.loglik, ll])))
            bar.update(it, f"{len(active)} start(s) running, best loglik {best:.4f}")
    return runs


def _labelled(reports: Reports, model: str, K: int, steps: _Steps, st: list[np.ndarray], post: np.ndarray):
    """The best start's estimate with its classes named and ordered.

    Returns ``(classes, order, class shares, responses, means, sigmas)``: lca classes by
    decreasing share, forecast classes by increasing mean logit, Dawid–Skene classes matched
    to the labels; ``order`` is the class order to apply to the posterior.
    """
    mean = sigma = None
    if model == "forecast":
        mean, sigma, pi = st[0][:, 0], st[1][:, 0], st[2][0]
        order = np.argsort(mean.mean(axis=0), kind="stable")
        mean = mean[:, order]
        response = tuple(np.zeros((K, len(lv))) for lv in reports.levels)
        classes_out = np.array([str(k + 1) for k in range(K)])
    else:
        theta, pi = st[0][:, 0], st[1][0]
        if model == "dawid-skene":
            order = _match_labels(reports, post, K)
            classes_out = reports.labels.copy()
        else:
            order = np.argsort(-pi, kind="stable")
            classes_out = np.array([str(k + 1) for k in range(K)])
        theta = theta[:, order]
        offsets = np.concatenate([[0], np.cumsum(steps.design.sizes)])
        response = tuple(theta[offsets[j]:offsets[j + 1]].T.copy() for j in range(reports.n_traders))
    return classes_out, order, pi[order], response, mean, sigma


def _match_labels(reports: Reports, post: np.ndarray, K: int) -> np.ndarray:
    """Class order so that class i is label i: maximise the expected agreement of answers with the truth."""
    from scipy.optimize import linear_sum_assignment

    rows = reports.answer >= 0
    agree = np.zeros((K, K))
    np.add.at(agree.T, reports.label[rows], post[reports.question[rows]])  # agree[k, l]
    cls, lab = linear_sum_assignment(-agree)
    order = np.empty(K, dtype=np.int64)
    order[lab] = cls
    return order


def log_likelihood(reports: Reports, *, model: str, class_shares: np.ndarray,
                   response: tuple[np.ndarray, ...] | None = None, mean: np.ndarray | None = None,
                   sigma: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Log-likelihood of ``reports`` and the ``(Q, K)`` posterior at given parameters.

    Parameters
    ----------
    reports : Reports
    model : {"lca", "dawid-skene", "forecast"}
    class_shares : numpy.ndarray
        ``(K,)``.
    response : tuple of numpy.ndarray, optional
        lca: per trader ``(K, L_j)``; Dawid–Skene: per trader ``(K, L)``.
    mean, sigma : numpy.ndarray, optional
        Forecast model: ``(J, K)`` and ``(J,)``.

    Returns
    -------
    (float, numpy.ndarray)

    Examples
    --------
    >>> from deepmarkets.models.simulate import simulate_reports
    >>> r = Reports.from_book(simulate_reports(100, 4, classes=2, levels=2, rng=1)[0])
    >>> fit = fit_em(r, model="lca", classes=2, rng=0)
    >>> ll, post = log_likelihood(r, model="lca", class_shares=fit.class_shares, response=fit.response)
    >>> bool(abs(ll - fit.loglik) < 1e-9)
    True
    """
    model = check_model(model)
    pi = np.asarray(class_shares, dtype=float)
    K = len(pi)
    if model == "forecast":
        if mean is None or sigma is None:
            raise InferenceError("the forecast model needs mean (J, K) and sigma (J,)")
        f = _forecast_design(reports)
        post, ll = _estep_fc(f, np.asarray(mean, float)[:, None, :], np.asarray(sigma, float)[:, None],
                             _log(pi)[None])
        return float(ll[0]), post[:, 0]
    if response is None or len(response) != reports.n_traders:
        raise InferenceError(f"response must hold one (K, L) table per trader ({reports.n_traders})")
    d = _design(reports, model)
    theta = np.concatenate([np.asarray(r, float).reshape(K, -1).T for r in response], axis=0)
    if theta.shape[0] != len(d.block):
        raise InferenceError(f"response tables have {theta.shape[0]} levels in all; the book needs {len(d.block)}")
    post, ll = _estep_cat(d, _log(theta)[:, None, :], _log(pi)[None])
    return float(ll[0]), post[:, 0]
