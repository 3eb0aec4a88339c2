"""Simulated reports books with a known hidden truth, for tests, benchmarks and notebooks.

:func:`simulate_reports` draws a class for every question, then each trader's reports from
the model's own generative story (latent class analysis, Dawid–Skene, or forecasts), and
returns the book together with the truth and the parameters used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepmarkets.errors import DeclarationError
from deepmarkets.models.checks import whole_number

__all__ = ["simulate_reports"]

_MODELS = ("lca", "dawid-skene", "forecast")




def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def simulate_reports(n_questions: int, n_traders: int, *, classes: int = 3, levels: int | Sequence[int] = 3,
                     separation: float = 2.5, missing: float = 0.0, model: str = "lca",
                     rng: int | np.random.Generator | None = None) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """Simulate a reports book from a latent class model with known parameters.

    Each question's class is drawn from shares ``pi ~ Dirichlet(5, ..., 5)``. Then every
    (question, trader) pair is reported with probability ``1 - missing`` (each question keeps
    at least one report):

    * ``"lca"``: trader j has ``levels[j]`` answer levels ``"1".."L_j"``; in class k its answer
      distribution is ``softmax(z)`` with ``z ~ Normal(0, 0.5)`` plus ``separation`` on a
      preferred level (distinct preferred levels for the classes when ``L_j >= K``).
    * ``"dawid-skene"``: the labels are ``"1".."K"`` (``levels`` is not used); trader j's
      confusion row for truth k is ``softmax(z)`` with ``separation`` added on label k.
    * ``"forecast"``: trader j quotes ``p = expit(x)`` with ``x ~ Normal(mean[j, k], sigma[j])``,
      ``mean[j, k] = separation * scale_j * (k - (K - 1) / 2) + Normal(0, 0.3)``,
      ``scale_j ~ Uniform(0.5, 1.5)``, ``sigma_j ~ Uniform(0.5, 1)``; the book has a
      probability column and no answers.

    Parameters
    ----------
    n_questions, n_traders : int
        Questions ``q1..qQ`` and traders ``t1..tJ``.
    classes : int, default 3
        Number of hidden classes K.
    levels : int or sequence of int, default 3
        Answer levels per trader (lca).
    separation : float, default 2.5
        How far apart the classes are (a log-odds boost; larger is easier).
    missing : float, default 0.0
        Probability that a (question, trader) pair has no report, in [0, 1).
    model : {"lca", "dawid-skene", "forecast"}
    rng : int, numpy.random.Generator or None

    Returns
    -------
    (deepmarkets.beliefs.Book, numpy.ndarray, dict)
        The reports book (rows ordered by question, then trader), the ``(Q,)`` true class
        index (0-based; in Dawid–Skene the label ``str(k + 1)``), and the true parameters:
        ``model``, ``class_shares`` (K,), ``response`` (list of ``(K, L_j)``, lca and
        Dawid–Skene), ``mean`` (J, K) and ``sigma`` (J,) (forecast).

    Examples
    --------
    >>> book, truth, params = simulate_reports(50, 4, classes=2, levels=2, rng=0)
    >>> len(book), truth.shape, params["class_shares"].shape
    (200, (50,), (2,))
    """
    from deepmarkets.beliefs.book import Book

    Q = whole_number(n_questions, "n_questions", 1)
    J = whole_number(n_traders, "n_traders", 1)
    K = whole_number(classes, "classes", 1)
    if model not in _MODELS:
        raise DeclarationError(f"model={model!r}; expected one of {list(_MODELS)}")
    if isinstance(separation, bool) or not isinstance(separation, int | float | np.integer | np.floating) or \
            not math.isfinite(separation):
        raise DeclarationError(f"separation={separation!r}; expected a finite number")
    if isinstance(missing, bool) or not isinstance(missing, int | float | np.integer | np.floating) or \
            not 0 <= missing < 1:
        raise DeclarationError(f"missing={missing!r}; expected a probability in [0, 1)")
    if model == "dawid-skene":
        n_levels = np.full(J, K, dtype=np.int64)
        if K < 2:
            raise DeclarationError("a Dawid-Skene book needs classes >= 2 (the labels are the classes)")
    elif isinstance(levels, int | np.integer) and not isinstance(levels, bool):
        n_levels = np.full(J, whole_number(levels, "levels", 1), dtype=np.int64)
    else:
        try:
            n_levels = np.array([whole_number(v, "levels[j]", 1) for v in levels], dtype=np.int64)  # type: ignore[union-attr]
        except TypeError:
            raise DeclarationError(f"levels={levels!r}; expected a whole number or one per trader") from None
        if len(n_levels) != J:
            raise DeclarationError(f"levels has {len(n_levels)} entries for {J} traders; give one per trader")
    gen = np.random.default_rng(rng)
    pi = gen.dirichlet(np.full(K, 5.0))
    truth = gen.choice(K, size=Q, p=pi)
    present = gen.random((Q, J)) >= missing
    empty = np.flatnonzero(~present.any(axis=1))
    present[empty, gen.integers(0, J, size=len(empty))] = True
    qi, ji = np.nonzero(present)  # ordered by question, then trader
    params: dict[str, Any] = {"model": model, "class_shares": pi}
    columns: dict[str, Any] = {
        "question": np.array([f"q{i + 1}" for i in range(Q)], dtype=object)[qi],
        "trader": np.array([f"t{j + 1}" for j in range(J)], dtype=object)[ji],
    }
    if model == "forecast":
        scale = gen.uniform(0.5, 1.5, size=J)
        centre = np.arange(K) - (K - 1) / 2.0
        mean = separation * scale[:, None] * centre[None, :] + gen.normal(0.0, 0.3, size=(J, K))
        sigma = gen.uniform(0.5, 1.0, size=J)
        x = gen.normal(mean[ji, truth[qi]], sigma[ji])
        columns["probability"] = 1.0 / (1.0 + np.exp(-x))
        params.update(mean=mean, sigma=sigma)
    else:
        Lmax = int(n_levels.max())
        cdf = np.ones((J, K, Lmax))
        response = []
        for j in range(J):
            L = int(n_levels[j])
            z = gen.normal(0.0, 0.5, size=(K, L))
            if model == "dawid-skene":
                pref = np.arange(K)
            else:
                pref = (gen.permutation(max(L, K)) % L)[:K]
            z[np.arange(K), pref] += separation
            theta = _softmax(z)
            response.append(theta)
            cdf[j, :, :L] = np.cumsum(theta, axis=1)
            cdf[j, :, L - 1:] = 1.0
        u = gen.random(len(qi))
        answer = (u[:, None] >= cdf[ji, truth[qi]]).sum(axis=1)
        answer = np.minimum(answer, n_levels[ji] - 1)
        columns["answer"] = (answer + 1).astype(str).astype(object)
        params["response"] = response
    import pandas as pd

    book = Book.from_frame(pd.DataFrame(columns), kind="reports")
    return book, truth, params
