"""The result of fitting a latent class model to a reports book.

:class:`LatentClassFit` holds the estimate (class shares, each trader's response
probabilities, each question's posterior class probabilities), the log-likelihood at the
estimate, and how it was obtained (EM with restarts, or NUTS with diagnostics). It is the
same object for the three models:

``"lca"``
    Latent class analysis: K hidden classes; trader j answers from its own categorical
    distribution over its levels in each class (poLCA's model).
``"dawid-skene"``
    Dawid–Skene: the hidden classes are the true labels; each trader has a confusion matrix
    ``P(answer = l | truth = k)`` over the shared label set.
``"forecast"``
    Quoted probabilities: ``logit(p) ~ Normal(mean[j, k], sigma[j])`` for trader j on a
    question of class k.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepmarkets.errors import InferenceError
from deepmarkets.helpers import json_safe
from deepmarkets.helpers.defaults import ESS_MIN_PER_CHAIN, RHAT_MAX
from deepmarkets.helpers.plotting import figure_and_axes, styled
from deepmarkets.models.data import Reports
from deepmarkets.models.diagnostics import CONVERGENCE_RULE, Diagnostics

__all__ = ["CONVERGENCE_RULE", "ESS_MIN_PER_CHAIN", "LatentClassFit", "MODELS", "RHAT_MAX", "check_model",
           "convergence_problems", "count_parameters", "entropy_reliability"]

#: The latent class models, with one line each.
MODELS: dict[str, str] = {
    "lca": "latent class analysis: K classes, each trader a categorical distribution over its own levels per class",
    "dawid-skene": "Dawid-Skene: the classes are the true labels, each trader a confusion matrix",
    "forecast": "forecasts: logit(p) ~ Normal(mean[trader, class], sigma[trader])",
}

def convergence_problems(diagnostics: Mapping[str, Any]) -> list[str]:
    """How NUTS diagnostics fail :data:`CONVERGENCE_RULE`; an empty list when they pass.

    ``diagnostics`` is a :class:`~deepmarkets.models.diagnostics.Diagnostics` or a mapping with
    its keys (``chains``, ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``, ``divergences``), as
    :attr:`LatentClassFit.diagnostics`; see :meth:`Diagnostics.problems`.

    Examples
    --------
    >>> convergence_problems({"chains": 2, "max_rhat": 1.004, "min_ess_bulk": 250.0, "min_ess_tail": 310.0,
    ...                       "divergences": 0})
    []
    >>> convergence_problems({"chains": 4, "max_rhat": 1.018, "min_ess_bulk": 299.0, "min_ess_tail": 500.0,
    ...                       "divergences": 0})
    ['max R-hat 1.018 > 1.01', 'min bulk ESS 299 < 400 (100 per chain x 4 chains)']
    """
    return Diagnostics.from_mapping(diagnostics).problems()


def check_model(model: Any) -> str:
    """``model`` if it names a latent class model (a key of :data:`MODELS`), else InferenceError."""
    if model not in MODELS:
        raise InferenceError(
            f"model={model!r} is not a latent class model; expected one of {sorted(MODELS)} "
            f"('lca' with classes=K, 'dawid-skene' when answers and truth share labels, 'forecast' for probabilities)"
        )
    return model


def count_parameters(model: str, n_classes: int, n_levels: np.ndarray, n_traders: int) -> int:
    """Free parameters of a latent class model.

    ``lca``: ``(K - 1) + K * sum_j (L_j - 1)``; ``dawid-skene``: ``(K - 1) + K * J * (K - 1)``
    (``K = L`` labels); ``forecast``: ``(K - 1) + J * K`` means ``+ J`` standard deviations.

    Examples
    --------
    >>> count_parameters("lca", 2, np.array([2, 2, 2, 2]), 4)  # values data, K=2
    9
    """
    K = int(n_classes)
    if model == "lca":
        return (K - 1) + K * int(np.sum(np.asarray(n_levels) - 1))
    if model == "dawid-skene":
        return (K - 1) + K * int(n_traders) * (K - 1)
    if model == "forecast":
        return (K - 1) + int(n_traders) * K + int(n_traders)
    raise ValueError(f"unknown model {model!r}")


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def entropy_reliability(shares: np.ndarray, response: np.ndarray) -> float:
    """``I(class; answer) / H(class)`` for one trader with ``(K, L)`` response probabilities.

    Examples
    --------
    >>> entropy_reliability(np.array([0.5, 0.5]), np.eye(2))  # answers reveal the class
    1.0
    >>> entropy_reliability(np.array([0.5, 0.5]), np.full((2, 2), 0.5))  # answers say nothing
    0.0
    """
    h = _entropy(np.asarray(shares, dtype=float))
    if h <= 0 or response.shape[1] == 0:
        return 0.0
    joint = shares[:, None] * response
    marginal = joint.sum(axis=0)
    mi = _entropy(marginal) - float(np.sum(shares * np.array([_entropy(r) for r in response])))
    return float(min(max(mi / h, 0.0), 1.0))


def _gaussian_reliability(shares: np.ndarray, means: np.ndarray, sigma: float) -> float:
    """``I(class; logit p) / H(class)`` for a mixture of normals with a common sd (Gauss–Hermite quadrature)."""
    h = _entropy(np.asarray(shares, dtype=float))
    if h <= 0 or not sigma > 0:
        return 0.0
    nodes, weights = np.polynomial.hermite.hermgauss(80)
    weights = weights / math.sqrt(math.pi)
    mi = 0.0
    for k, (pk, mk) in enumerate(zip(shares, means, strict=True)):
        if pk <= 0:
            continue
        x = mk + math.sqrt(2.0) * sigma * nodes
        z = (x[:, None] - means[None, :]) / sigma
        logc = -0.5 * z**2  # common normalising constants cancel in the ratio
        log_mix = np.log(np.maximum(np.exp(logc) @ shares, 1e-300))
        mi += pk * float(weights @ (logc[:, k] - log_mix))
    return float(min(max(mi / h, 0.0), 1.0))


class ClassFitSummary:
    """What a fitted latent class model derives from its estimates, for every kind of fit.

    Shared by :class:`LatentClassFit` and
    :class:`~deepmarkets.models.partitioned.PartitionedFit`. A subclass has the attributes
    ``model``, ``classes``, ``class_shares``, ``response``, ``loglik``, ``n_parameters``,
    ``n_iter``, ``converged``, ``prior``, ``mean`` and ``sigma``, and defines
    :meth:`trader_names`, :meth:`question_count`, :meth:`response_levels` and ``_headline``.
    """

    def trader_names(self) -> np.ndarray:
        raise NotImplementedError

    def question_count(self) -> int:
        raise NotImplementedError

    def response_levels(self, j: int) -> np.ndarray:
        raise NotImplementedError

    @property
    def n_classes(self) -> int:
        """Number of classes ``K``."""
        return len(self.classes)

    @property
    def bic(self) -> float:
        """Bayesian information criterion ``-2 loglik + n_parameters * log(Q)`` (Q questions, as poLCA)."""
        return float(-2.0 * self.loglik + self.n_parameters * math.log(self.question_count()))

    @property
    def aic(self) -> float:
        """Akaike information criterion ``-2 loglik + 2 n_parameters``."""
        return float(-2.0 * self.loglik + 2.0 * self.n_parameters)

    def reliability(self):
        """How much each trader's answers reveal the class, labelled by trader.

        Dawid–Skene: ``P(answer == truth) = sum_k pi_k theta_j[k, k]``. LCA and forecasts: the
        share of the class entropy the trader's answer removes, ``I(class; answer_j) / H(class)``
        in [0, 1] (0 when there is one class).

        Returns
        -------
        pandas.Series
            Named ``reliability``, float64, indexed by trader name (index named ``trader``) in
            the order of :meth:`trader_names`.

        Examples
        --------
        >>> from deepmarkets.models.data import Reports
        >>> from deepmarkets.models.em import fit_em
        >>> from deepmarkets.models.simulate import simulate_reports
        >>> book, truth, _ = simulate_reports(200, 5, classes=2, model="dawid-skene", rng=0)
        >>> fit = fit_em(Reports.from_book(book), model="dawid-skene", classes=None, rng=0)
        >>> rel = fit.reliability()  # P(answer == truth) per trader
        >>> rel.index.tolist(), bool(((rel > 0.5) & (rel <= 1)).all())
        (['t1', 't2', 't3', 't4', 't5'], True)
        """
        import pandas as pd

        pi = np.asarray(self.class_shares, dtype=float)
        traders = self.trader_names()
        if self.model == "dawid-skene":
            values = [float(np.sum(pi * np.diag(r))) for r in self.response]
        elif self.model == "forecast" and self.mean is not None and self.sigma is not None:
            values = [_gaussian_reliability(pi, self.mean[j], float(self.sigma[j])) for j in range(len(traders))]
        else:
            values = [entropy_reliability(pi, r) for r in self.response]
        index = pd.Index(traders.astype(object), name="trader")
        return pd.Series(np.asarray(values, dtype=np.float64), index=index, name="reliability")

    def _trader_entries(self) -> list[dict[str, Any]]:
        """The ``traders`` entry of ``to_dict()``: reliability, response table, and mean and sigma if any."""
        names = [str(c) for c in self.classes]
        rel = self.reliability()
        traders = []
        for j, t in enumerate(self.trader_names()):
            lv = [str(v) for v in self.response_levels(j)]
            resp = self.response[j]
            entry: dict[str, Any] = {
                "trader": str(t),
                "reliability": float(rel.iloc[j]),
                "response": {c: {lv[i]: float(resp[k, i]) for i in range(resp.shape[1])} for k, c in enumerate(names)},
            }
            if self.mean is not None:
                entry["mean"] = {c: float(self.mean[j, k]) for k, c in enumerate(names)}
            if self.sigma is not None:
                entry["sigma"] = float(self.sigma[j])
            traders.append(entry)
        return traders

    def __repr__(self) -> str:
        shares = ", ".join(f"{c}: {s:.4f}" for c, s in zip(self.classes, self.class_shares, strict=True))
        status = "converged" if self.converged else "NOT converged"
        extra = f", prior={self.prior:g}" if self.prior > 0 else ""
        return (f"{type(self).__name__}({self._headline()}; shares {{{shares}}}; bic {self.bic:.2f}; "
                f"{status} after {self.n_iter} iterations{extra})")


@dataclass(eq=False, repr=False)
class LatentClassFit(ClassFitSummary):
    """A fitted latent class model (LCA, Dawid–Skene or forecasts) on a reports book.

    Attributes
    ----------
    model : str
        ``"lca"``, ``"dawid-skene"`` or ``"forecast"`` (see :data:`MODELS`).
    method : str
        ``"em"`` (maximum likelihood or MAP by EM), ``"nuts"`` (posterior means from PyMC's NUTS
        or another backend, see ``diagnostics["backend"]``) or ``"advi"`` (means of draws from
        a variational approximation; :attr:`approximate`).
    reports : Reports
        The data.
    classes : numpy.ndarray
        ``(K,)`` class names: ``"1".."K"`` for lca and forecast, the labels for Dawid–Skene.
    class_shares : numpy.ndarray
        ``(K,)`` estimated ``P(class)``.
    response : tuple of numpy.ndarray
        For each trader j, ``(K, L_j)`` ``P(answer = level | class)`` over the levels it used;
        for Dawid–Skene, ``(K, L)`` confusion matrices over all labels. Forecast books without
        answers have ``(K, 0)`` arrays.
    posterior : numpy.ndarray
        ``(Q, K)`` ``P(class | that question's reports)`` at the estimate.
    loglik : float
        Log-likelihood of the reports at the estimate.
    n_parameters : int
        Free parameters (see :func:`count_parameters`).
    n_iter : int
        EM iterations of the best start (NUTS: draws per chain).
    converged : bool
        Whether the best start met the tolerance (NUTS: the diagnostics pass :data:`CONVERGENCE_RULE`).
    restarts_loglik : numpy.ndarray
        Log-likelihood each EM start reached.
    seconds : float
        Wall time of the fit.
    mean, sigma : numpy.ndarray or None
        Forecast model only: ``(J, K)`` mean of ``logit(p)`` and ``(J,)`` its sd per trader.
    idata : xarray.DataTree or None
        NUTS only: the ArviZ data tree.
    diagnostics : Diagnostics or None
        NUTS only (:class:`~deepmarkets.models.diagnostics.Diagnostics`, readable as a mapping):
        ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail``, ``divergences``, ``chains``, ``draws``,
        and among its extras ``gauge`` (which labelling was fixed) and ``switched_draws``.
    prior : float
        Dirichlet pseudo-count added to every cell (0: maximum likelihood).
    elbo : numpy.ndarray or None
        ADVI only: the evidence lower bound at every optimisation step (see :meth:`plot_elbo`).

    Examples
    --------
    >>> from deepmarkets.models.data import Reports
    >>> from deepmarkets.models.em import fit_em
    >>> from deepmarkets.models.simulate import simulate_reports
    >>> book, truth, _ = simulate_reports(200, 5, classes=2, model="dawid-skene", rng=0)
    >>> fit = fit_em(Reports.from_book(book), model="dawid-skene", classes=None, rng=0)
    >>> fit.classes.tolist(), fit.labels().columns.tolist()
    (['1', '2'], ['question', 'label', 'probability'])
    """

    model: str
    method: str
    reports: Reports
    classes: np.ndarray
    class_shares: np.ndarray
    response: tuple[np.ndarray, ...]
    posterior: np.ndarray
    loglik: float
    n_parameters: int
    n_iter: int
    converged: bool
    restarts_loglik: np.ndarray
    seconds: float
    mean: np.ndarray | None = None
    sigma: np.ndarray | None = None
    idata: Any = field(default=None, repr=False)
    diagnostics: Mapping[str, Any] | None = None
    prior: float = 0.0
    elbo: np.ndarray | None = field(default=None, repr=False)

    # -- derived quantities ----------------------------------------------------

    def trader_names(self) -> np.ndarray:
        """Trader names, in the order of ``response``."""
        return self.reports.traders

    def question_count(self) -> int:
        """Questions in the book."""
        return self.reports.n_questions

    @property
    def approximate(self) -> bool:
        """Whether the estimate comes from a variational approximation (ADVI) rather than EM or MCMC."""
        return self.method == "advi"

    @styled
    def plot_elbo(self, ax: Any = None):
        """The ELBO of every ADVI step, and its running mean (ADVI fits only).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Drawn there when given, else on a new figure.

        Returns
        -------
        matplotlib.figure.Figure
            ``ax.figure`` when ``ax`` was given.

        Raises
        ------
        InferenceError
            For a fit without an ELBO trace (EM or NUTS).
        """
        if self.elbo is None:
            raise InferenceError(f"this {self.method} fit has no ELBO trace; plot_elbo applies to method='advi'")
        fig, ax = figure_and_axes(ax, figsize=(6, 3.5))
        steps = np.arange(1, len(self.elbo) + 1)
        ax.plot(steps, self.elbo, lw=0.5, alpha=0.5, label="ELBO (one minibatch estimate per step)")
        w = max(1, len(self.elbo) // 50)
        running = np.convolve(self.elbo, np.ones(w) / w, mode="valid")
        ax.plot(steps[w - 1:], running, lw=1.5, label=f"running mean over {w} steps")
        ax.set_xlabel("iteration")
        ax.set_ylabel("ELBO (nats)")
        ax.set_title(f"ADVI of the {self.model} model")
        ax.legend(loc="lower right")
        return fig

    def response_levels(self, j: int) -> np.ndarray:
        """The answer labels indexing the columns of ``response[j]``."""
        if self.model == "dawid-skene":
            return self.reports.labels
        return self.reports.levels[j]

    def labels(self):
        """The most probable class of each question, as a table.

        Returns
        -------
        pandas.DataFrame
            Columns ``question``, ``label`` (the argmax class name; for Dawid–Skene an answer
            label) and ``probability`` (its posterior probability).

        Examples
        --------
        >>> from deepmarkets.models.data import Reports
        >>> from deepmarkets.models.em import fit_em
        >>> from deepmarkets.models.simulate import simulate_reports
        >>> book, truth, _ = simulate_reports(200, 5, classes=2, model="dawid-skene", rng=0)
        >>> fit = fit_em(Reports.from_book(book), model="dawid-skene", classes=None, rng=0)
        >>> table = fit.labels()
        >>> float((table["label"].astype(int) - 1 == truth).mean())  # the simulated truth is class k = label k+1
        1.0
        """
        import pandas as pd

        best = np.argmax(self.posterior, axis=1)
        return pd.DataFrame({
            "question": pd.Series(self.reports.questions.astype(object), dtype="str"),
            "label": pd.Series(self.classes.astype(object)[best], dtype="str"),
            "probability": self.posterior[np.arange(len(best)), best].astype(np.float64),
        })

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (plain floats, lists and str).

        Keys: ``model``, ``method``, ``classes``, ``loglik``, ``class_shares`` (class -> share),
        ``traders`` (a list of ``{trader, reliability, response: {class: {level: p}}}``, plus
        ``mean`` and ``sigma`` for forecasts), ``approximate``, ``diagnostics``, ``n_questions``, ``n_traders``,
        ``n_answers``, ``bic``, ``aic``, ``n_parameters``, ``prior``, ``converged``, ``n_iter``,
        ``restarts_loglik``, ``seconds``.

        Examples
        --------
        >>> from deepmarkets.models.data import Reports
        >>> from deepmarkets.models.em import fit_em
        >>> from deepmarkets.models.simulate import simulate_reports
        >>> book, truth, _ = simulate_reports(200, 5, classes=2, model="dawid-skene", rng=0)
        >>> fit = fit_em(Reports.from_book(book), model="dawid-skene", classes=None, rng=0)
        >>> import json
        >>> d = fit.to_dict()
        >>> sorted(d["class_shares"]), len(json.loads(json.dumps(d))["traders"])
        (['1', '2'], 5)
        """
        names = [str(c) for c in self.classes]
        return {
            "model": self.model,
            "method": self.method,
            "approximate": self.approximate,
            "classes": names,
            "loglik": float(self.loglik),
            "class_shares": {c: float(s) for c, s in zip(names, self.class_shares, strict=True)},
            "traders": self._trader_entries(),
            "diagnostics": json_safe(self.diagnostics) if self.diagnostics is not None else None,
            "n_questions": int(self.reports.n_questions),
            "n_traders": int(self.reports.n_traders),
            "n_answers": int(self.reports.n_answers),
            "bic": self.bic,
            "aic": self.aic,
            "n_parameters": int(self.n_parameters),
            "prior": float(self.prior),
            "converged": bool(self.converged),
            "n_iter": int(self.n_iter),
            "restarts_loglik": [float(v) for v in np.asarray(self.restarts_loglik, dtype=float)],
            "seconds": float(self.seconds),
        }

    # -- display ---------------------------------------------------------------

    def _headline(self) -> str:
        how = "EM" if self.method == "em" else self.method.upper()
        backend = (self.diagnostics or {}).get("backend")
        if backend:
            how += f" ({backend})"
        est = "MAP" if self.prior > 0 else ("ML" if self.method == "em" else "posterior mean")
        if self.approximate:
            est = "approximate posterior mean"
        return (f"{self.model} fit by {how} ({est}): {self.n_classes} classes, loglik {self.loglik:.4f}, "
                f"{self.reports.n_questions} questions, {self.reports.n_traders} traders, "
                f"{self.reports.n_answers} answers")

    def _repr_markdown_(self) -> str:
        names = [str(c) for c in self.classes]
        lines = [f"**LatentClassFit**: {self._headline()}", "",
                 "| class | share |", "|---|---|"]
        lines += [f"| {c} | {s:.4f} |" for c, s in zip(names, self.class_shares, strict=True)]
        rel = self.reliability()
        lines += ["", "| trader | reliability |", "|---|---|"]
        shown = min(len(rel), 20)
        lines += [f"| {t} | {r:.3f} |" for t, r in rel.iloc[:shown].items()]
        if len(rel) > shown:
            lines += ["", f"(first {shown} of {len(rel)} traders)"]
        if self.diagnostics:
            lines += ["", "diagnostics: " + ", ".join(f"{k}={v}" for k, v in self.diagnostics.items())]
        lines += ["", f"BIC {self.bic:.2f}, AIC {self.aic:.2f}, {self.n_parameters} parameters"]
        return "\n".join(lines)
