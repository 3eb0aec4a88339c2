"""Map-reduce EM for Dawid–Skene and latent class analysis over a partitioned book.

Each EM iteration is one pass over the partitions. For the current parameters of every start
still running, a partition computes its questions' posteriors (the E-step, on log scale, by the
same code as :func:`~deepmarkets.models.em.fit_em`) and returns the sufficient statistics of
the M-step: the expected counts of each design column (trader, level) per class, the sums of
the class posteriors, and its log-likelihood. The client adds them up (a tree of sums) and takes
the M-step. Iterations, stopping rule, the dropping of converged starts and the naming of the
classes are those of ``fit_em``, so on a book that fits in memory the two give the same
estimate (to rounding, far below 1e-9) from the same starts.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from deepmarkets.errors import InferenceError
from deepmarkets.helpers import ProgressBar, as_rng, warn
from deepmarkets.helpers.validate import finite_float, whole_number
from deepmarkets.models.em import (
    _Design,
    _log,
    _mstep_from_counts,
    _normalise,
    _random_response,
    _run_starts,
    _Steps,
)
from deepmarkets.models.fit import count_parameters
from deepmarkets.models.partitioned.result import PartitionedFit
from deepmarkets.models.partitioned.scheduler import dask_scheduler
from deepmarkets.models.partitioned.source import (
    Encoded,
    encode,
    open_book,
    question_hashes,
    questions_path,
    read_local,
)

__all__ = ["fit_partitioned"]

#: Partial results added up by one task of the reduction tree.
_FAN_IN = 8
#: Seed of the random keys that fingerprint answer patterns (the same as the in-memory check's).
_PATTERN_SEED = 12345


# ---------------------------------------------------------------------------
# work on one partition (runs on the workers)
# ---------------------------------------------------------------------------


def _csr_path(part: dict[str, Any]) -> str:
    return os.path.join(part["folder"], f"design-{part['index']:05d}.npz")


def load_design(part: dict[str, Any], n_columns: int):
    """The partition's ``(Q_p, C)`` sparse matrix of answer counts per question and design column."""
    from scipy import sparse

    with np.load(_csr_path(part), allow_pickle=False) as z:
        return sparse.csr_matrix((z["data"].astype(np.float64), z["indices"], z["indptr"]),
                                 shape=(int(z["n_questions"]), n_columns))


def _finalise_partition(part: dict[str, Any], columns: np.ndarray, n_columns: int, pattern_columns: np.ndarray,
                        pattern_keys: np.ndarray, cap: int, vote_starts: tuple[int, int, int] | None):
    """Write the partition's design matrix in global columns; return its answer-pattern fingerprints
    (at most ``cap``) and, for Dawid–Skene, the statistics of the starting M-step."""
    rows = read_local(part)
    q, t, a, n = (rows[c].to_numpy(np.int64) for c in ("q", "t", "a", "n"))
    tg, lg = part["traders"][t], part["labels"][a]
    Q = part["questions"]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(q, minlength=Q))])
    np.savez(_csr_path(part), indptr=indptr, indices=columns[tg, lg].astype(np.int32), data=n.astype(np.int32),
             n_questions=np.int64(Q))
    h = np.zeros((2, Q), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(2):
            np.add.at(h[i], q, pattern_keys[i][pattern_columns[tg, lg]] * n.astype(np.uint64))
    patterns = np.unique(h, axis=1)[:, :cap]
    if vote_starts is None:
        return patterns, None
    R, K, key = vote_starts
    A = load_design(part, n_columns)
    vote = np.bincount(q * K + lg, weights=n, minlength=Q * K).reshape(Q, K)
    vote /= vote.sum(axis=1, keepdims=True)
    post = np.empty((Q, R, K))
    post[:, 0] = vote
    if R > 1:
        import pyarrow.parquet as pq

        names = pq.read_table(questions_path(part["folder"], part["index"])).column("question").to_numpy(False)
        hashes = question_hashes(names)
        for r in range(1, R):
            mix = 0.5 if r % 2 else 0.9  # as fit_em: half near the vote, half far from it
            post[:, r] = (1 - mix) * vote + mix * question_noise(hashes, key, r, K)
    return patterns, _sufficient(A, post)


def question_noise(hashes: np.ndarray, key: int, start: int, K: int) -> np.ndarray:
    """``(Q, K)`` Dirichlet(1) draws that depend only on each question's hash, ``key`` and the start.

    SplitMix64 of the hash turns into K uniforms, their negative logs into exponentials, and
    these normalised into a Dirichlet(1) draw: the same for a question whatever partition it is in.
    """
    out = np.empty((len(hashes), K))
    with np.errstate(over="ignore"):
        for k in range(K):
            z = hashes ^ np.uint64(key)
            z = z + np.uint64(start * K + k + 1) * np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
            out[:, k] = -np.log(((z >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53)
    return out / out.sum(axis=1, keepdims=True)


def _sufficient(A: Any, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    Q, R, K = post.shape
    counts = np.asarray(A.T @ post.reshape(Q, R * K)).reshape(-1, R, K)
    return counts, post.sum(axis=0)


def _posterior(A: Any, log_theta: np.ndarray, log_pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`deepmarkets.models.em._estep_cat`: ``(Q_p, R, K)`` posteriors and ``(R,)`` log-likelihoods."""
    C, R, K = log_theta.shape
    S = np.asarray(A @ log_theta.reshape(C, R * K)).reshape(-1, R, K) + log_pi[None]
    return _normalise(S)


def _partition_stats(part: dict[str, Any], n_columns: int, log_params: tuple[np.ndarray, np.ndarray]):
    """One partition's E-step: (expected counts (C, R, K), class-posterior sums (R, K), log-likelihood (R,))."""
    A = load_design(part, n_columns)
    post, ll = _posterior(A, *log_params)
    counts, share = _sufficient(A, post)
    return counts, share, ll


def partition_labels(part: dict[str, Any], n_columns: int, log_params: tuple[np.ndarray, np.ndarray],
                     order: np.ndarray, classes: np.ndarray):
    """question, label (the most probable class) and its probability for one partition's questions."""
    import pandas as pd
    import pyarrow.parquet as pq

    post = _posterior(load_design(part, n_columns), *log_params)[0][:, 0][:, order]
    best = np.argmax(post, axis=1)
    names = pq.read_table(questions_path(part["folder"], part["index"])).column("question").to_numpy(False)
    return pd.DataFrame({
        "question": pd.Series(np.asarray(names, dtype=object), dtype="str"),
        "label": pd.Series(np.asarray(classes, dtype=object)[best], dtype="str"),
        "probability": post[np.arange(len(best)), best].astype(np.float64),
    })


def _add(*parts):
    return tuple(sum(values[1:], values[0].copy()) for values in zip(*parts, strict=True))


def _tree_sum(items: list[Any]) -> Any:
    import dask

    while len(items) > 1:
        items = [dask.delayed(_add)(*items[i:i + _FAN_IN]) if len(items[i:i + _FAN_IN]) > 1 else items[i]
                 for i in range(0, len(items), _FAN_IN)]
    return items[0]


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------


def _model_and_classes(model: Any, classes: Any) -> str:
    if classes is not None and (isinstance(classes, bool) or not isinstance(classes, int | np.integer)):
        raise InferenceError(f"classes={classes!r}; expected a whole number of latent classes >= 1, or None")
    if model is None:
        return "lca" if classes is not None else "dawid-skene"
    if model == "forecast":
        raise InferenceError("model='forecast' is fitted in memory only; a partitioned book is fitted with "
                             "'dawid-skene' or 'lca'. Load a forecast book with infer(frame.compute())")
    if model not in ("dawid-skene", "lca"):
        raise InferenceError(f"model={model!r}; a partitioned book is fitted with 'dawid-skene' or 'lca' (or None: "
                             f"'lca' when classes is given, else 'dawid-skene')")
    return model


def _n_classes(enc: Encoded, model: str, classes: int | None, repeats: bool) -> int:
    """The number of classes; InferenceError (BookError for repeats) when the model cannot be identified."""
    from deepmarkets.errors import BookError

    voc = enc.vocabulary
    L, J, Q = len(voc.labels), len(voc.traders), enc.n_questions
    if enc.repeat is not None and not repeats:
        n, q, t = enc.repeat
        raise BookError(f"trader {t!r} reports on question {q!r} more than once ({n} repeated report"
                        f"{'s' if n != 1 else ''} in all); expected one report per trader and question. Keep one, or "
                        f"pass repeats=True (deepmarkets infer --repeats) when they are replicate ratings")
    if model == "dawid-skene":
        if classes is not None and int(classes) != L:
            raise InferenceError(f"classes={classes} with model='dawid-skene', but its classes are the {L} answer "
                                 f"labels {voc.labels.tolist()}; leave classes=None, or use model='lca'")
        if L == 1:
            raise InferenceError(f"every answer in the book is {str(voc.labels[0])!r}; with one label there is "
                                 f"nothing to infer")
        K = L
    else:
        if classes is None:
            raise InferenceError("model='lca' needs the number of latent classes: pass classes=K (K >= 1)")
        if int(classes) < 1:
            raise InferenceError(f"classes={classes}; expected at least 1 latent class")
        K = int(classes)
    if Q < 2:
        raise InferenceError("the book has one question; class shares and trader reliabilities cannot be estimated "
                             "from one question: add questions")
    if K > Q:
        raise InferenceError(f"classes={K} but the book has only {Q} questions; use at most {Q} classes")
    if J == 1 and enc.repeat is None and K > 1:
        raise InferenceError(f"the book has one trader ({str(voc.traders[0])!r}) answering each question once; with "
                             f"{K} classes it is not identifiable. Add traders")
    if K > 1 and enc.repeat is None:
        n_par = count_parameters(model, K, voc.n_levels, J)
        log_cells = J * math.log(L) if model == "dawid-skene" else float(np.sum(np.log(voc.n_levels)))
        if log_cells < math.log(n_par + 1) - 1e-12:
            raise InferenceError(f"{model} with {K} classes has {n_par} free parameters, but answers of {J} trader(s) "
                                 f"form only {round(math.exp(log_cells))} possible answer patterns: the model is not "
                                 f"identifiable. Use fewer classes or more traders")
    return K


# ---------------------------------------------------------------------------
# the estimator
# ---------------------------------------------------------------------------


def fit_partitioned(book: Any, *, model: str | None = None, classes: int | None = None, restarts: int = 10,
                    tol: float = 1e-10, max_iter: int = 5000, prior: float = 0.0,
                    rng: int | np.random.Generator | None = None, repeats: bool = False, scheduler: Any = None,
                    cache: str | os.PathLike | None = None, progressbar: bool = True) -> PartitionedFit:
    """Fit Dawid–Skene or latent class analysis to a partitioned book by map-reduce EM.

    Memory stays bounded by one partition plus the parameters (and 8 bytes per question on the
    client, to check that no question straddles partitions). The book is read once and encoded
    into a cache folder; each EM iteration then reads the encoded partitions.

    Parameters
    ----------
    book : dask.dataframe.DataFrame, str or os.PathLike
        A Dask DataFrame or a folder of Parquet files in long layout (``question, trader,
        answer``; the aliases of :class:`~deepmarkets.beliefs.Book` are accepted; other columns
        are ignored, so a time column does not reorder the rows). When a question's answers lie
        in several partitions, the book is shuffled by question once (Dask) into the cache.
    model : {"dawid-skene", "lca"}, optional
        None: ``"lca"`` when ``classes`` is given, else ``"dawid-skene"``.
    classes : int, optional
        K for ``"lca"``.
    restarts : int, default 10
        Number of starts, run together as in :func:`~deepmarkets.models.em.fit_em`. lca: the
        same random response tables as ``fit_em`` draws from the same ``rng`` (all starts
        match). Dawid–Skene: start 0 is the majority vote, as in ``fit_em``; start r >= 1 mixes
        the vote with a Dirichlet(1) posterior per question (weights 0.5 / 0.9 as ``fit_em``),
        but the draw is a hash of the question id, a key drawn from ``rng`` and r, so that it
        does not depend on how the book is partitioned (it differs from ``fit_em``'s draws).
    tol, max_iter, prior : float, int, float
        As :func:`~deepmarkets.models.em.fit_em`.
    rng : int, numpy.random.Generator or None
        Seed for the starts.
    repeats : bool, default False
        Accept several reports of one trader on one question (each counts as evidence).
    scheduler : None, str or distributed.Client
        See :func:`~deepmarkets.models.partitioned.scheduler.dask_scheduler`: None picks an active
        Client, else a local cluster for large books, else the single-process synchronous scheduler;
        ``"synchronous"``; a scheduler address; or a Client.
    cache : str or os.PathLike, optional
        Folder in which the encoded book's temporary folder is made (default: the system's
        temporary folder). With workers on other machines, give a folder they all share. The
        temporary folder lives as long as the result (removed by :meth:`PartitionedFit.close`
        or when the result is garbage collected), and is removed at once when the fit fails.
    progressbar : bool, default True
        One step per EM iteration.

    Returns
    -------
    PartitionedFit

    Raises
    ------
    BookError
        For a missing folder, no Parquet files, missing columns, an empty book, missing answers
        or any row a Book rejects, and repeated reports without ``repeats``.
    InferenceError
        For a bad argument, the forecast model, and a model the book cannot identify.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> from deepmarkets.models.simulate import simulate_reports
    >>> book, truth, _ = simulate_reports(200, 5, classes=2, model="dawid-skene", rng=0)
    >>> fit = fit_partitioned(dd.from_pandas(book.frame, npartitions=3), restarts=1, scheduler="synchronous",
    ...                       progressbar=False)
    >>> fit.classes.tolist(), fit.converged
    (['1', '2'], True)
    """
    started = time.perf_counter()
    model = _model_and_classes(model, classes)
    whole_number(restarts, "restarts", 1, InferenceError, hint="restarts is the number of EM starts")
    whole_number(max_iter, "max_iter", 1, InferenceError)
    finite_float(tol, "tol", InferenceError, low=0)
    finite_float(prior, "prior", InferenceError, low=0, hint="prior is a pseudo-count (0 for maximum likelihood)")
    if cache is not None and not Path(cache).is_dir():
        raise InferenceError(f"cache={str(cache)!r} is not a folder; give an existing folder (shared by the workers)")
    frame, source, rows = open_book(book)
    gen = as_rng(rng)
    R, prior = int(restarts), float(prior)
    folder = tempfile.mkdtemp(prefix="deepmarkets-book-", dir=cache)
    try:
        with dask_scheduler(scheduler, rows=rows, partitions=frame.npartitions) as compute:
            enc = encode(frame, folder, compute, source=source)
            K = _n_classes(enc, model, classes, repeats)
            fit = _fit(enc, model, K, R, tol, int(max_iter), prior, gen, compute, progressbar)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    fit.seconds = time.perf_counter() - started
    return fit


def _fit(enc: Encoded, model: str, K: int, R: int, tol: float, max_iter: int, prior: float,
         gen: np.random.Generator, compute: Any, progressbar: bool) -> PartitionedFit:
    import dask

    voc = enc.vocabulary
    J, L = voc.used.shape
    columns = voc.columns(model)
    sizes = np.full(J, L, dtype=np.int64) if model == "dawid-skene" else voc.n_levels
    C = int(sizes.sum())
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    design = _Design(A=None, AT=None, starts=offsets[:-1][sizes > 0], block=np.repeat(np.arange(J), sizes),
                     sizes=sizes, answered=None)
    n_par = count_parameters(model, K, voc.n_levels, J)
    check_patterns = K > 1 and enc.repeat is None
    cap = n_par + 2
    pattern_keys = np.random.default_rng(_PATTERN_SEED).integers(
        0, 2**63, size=(2, int(voc.n_levels.sum())), dtype=np.int64).view(np.uint64)
    vote = (R, K, int(gen.integers(0, 2**63))) if model == "dawid-skene" else None
    parts = [dask.delayed(_finalise_partition)(p, columns, C, voc.columns("lca"), pattern_keys, cap, vote)
             for p in enc.parts]
    (finished,) = dask.compute(parts, scheduler=compute)
    if check_patterns:
        seen = np.unique(np.concatenate([f[0] for f in finished], axis=1), axis=1).shape[1]
        if n_par > min(seen, cap) - 1:
            warn(f"{model} with {K} classes has {n_par} free parameters, but the book shows only {seen} distinct "
                 f"answer patterns: some parameters are not determined by the data (expect estimates at 0 or 1 and "
                 f"several maxima); compare fits with fewer classes (bic)")
    if model == "dawid-skene":
        counts, share = _add(*[f[1] for f in finished])
        state = list(_mstep_from_counts(design, counts, share, prior))
    else:
        state = list(_random_response(design, K, R, gen))

    def estep(st):
        """One pass over the book: the sums of the M-step stacked as ``(C + 1, R, K)`` (the last row: class
        shares), indexed by start on axis 1, and the log-likelihood of each start."""
        logs = dask.delayed((_log(st[0]), _log(st[1])), traverse=False)
        (total,) = dask.compute(_tree_sum([dask.delayed(_partition_stats)(p, C, logs) for p in enc.parts]),
                                scheduler=compute)
        counts, share, ll = total
        return np.concatenate([counts, share[None]]), ll

    def mstep(stats, st):
        return list(_mstep_from_counts(design, stats[:-1], stats[-1], prior))

    def take(st, idx):
        return [st[0][:, idx], st[1][idx]]

    def log_prior(st):  # as fit_em's: Dirichlet(1 + prior) on the shares and on every response row
        return prior * (_log(st[0]).sum(axis=(0, 2)) + _log(st[1]).sum(axis=1))

    steps = _Steps(state, estep, mstep, take, log_prior, design=design)
    with ProgressBar(f"EM {model} on {len(enc.parts)} partitions", max_iter, enabled=progressbar) as bar:
        runs = _run_starts(steps, R, tol, max_iter, prior, bar, every=1)
    best = int(np.argmax(runs.objective))
    theta, pi = runs.state[best]
    stats, _ = estep([theta, pi])  # at the best state, as fit_em's last E-step: its counts name the classes
    theta, pi = theta[:, 0], pi[0]
    if not runs.converged[best]:
        warn(f"EM for {model} stopped after max_iter={max_iter} iterations before meeting tol={tol:g}; the "
             f"log-likelihood {runs.loglik[best]:.6f} may still rise: raise max_iter or loosen tol")
    if model == "dawid-skene":
        from scipy.optimize import linear_sum_assignment

        agree = stats[:-1, 0].reshape(J, L, K).sum(axis=0).T  # agree[k, l]: expected answers l in class k
        cls, lab = linear_sum_assignment(-agree)
        order = np.empty(K, dtype=np.int64)
        order[lab] = cls
        classes = voc.labels.copy()
    else:
        order = np.argsort(-pi, kind="stable")
        classes = np.array([str(k + 1) for k in range(K)])
    response = tuple(theta[offsets[j]:offsets[j + 1]][:, order].T.copy() for j in range(J))
    return PartitionedFit(
        model=model, classes=classes, class_shares=pi[order], response=response, loglik=float(runs.loglik[best]),
        n_parameters=n_par, n_iter=int(runs.iterations[best]), converged=bool(runs.converged[best]),
        restarts_loglik=runs.loglik, seconds=0.0, prior=prior, traders=voc.traders, answer_labels=voc.labels,
        levels=voc.levels, n_questions=enc.n_questions, n_answers=enc.n_answers, n_partitions=len(enc.parts),
        shuffled=enc.shuffled, parts=enc.parts, folder=enc.folder, n_columns=C,
        log_params=(_log(theta)[:, None, :], _log(pi)[None]), order=order,
    )
