"""Bayesian inference from a latent market: the posterior over its state given resolved cases.

:func:`infer_market` turns the resolved cases of a
:class:`~deepmarkets.models.latent_market.LatentMarket` into a reports book (cases =
questions, observables = traders, levels = answers), samples a latent class model with NUTS
(:func:`~deepmarkets.models.nuts.fit_nuts`) started from the market's state, and sets the
posterior next to the market's own state (:class:`MarketPosterior`). :func:`deepmarkets.models.infer.infer`
dispatches here when it is given ``market=``; :meth:`LatentMarket.infer` calls it too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepmarkets.errors import DeclarationError, InferenceError
from deepmarkets.helpers import as_rng
from deepmarkets.helpers.defaults import INTERVAL_PROB
from deepmarkets.models.diagnostics import Diagnostics
from deepmarkets.models.latent_market import LatentMarket, LatentState, _best_permutation
from deepmarkets.models.posterior import read_posterior

__all__ = ["infer_market", "MarketPosterior"]


@dataclass(frozen=True, eq=False)
class MarketPosterior:
    """The posterior over a latent market's state given resolved cases, next to the market's own state.

    Attributes
    ----------
    market_state : LatentState
        The market's state (the labelling everything is aligned to).
    mean : LatentState
        The posterior mean of θ, relabelled to the market's hidden states.
    lower, upper : LatentState-shaped dicts
        Equal-tailed credible interval bounds (``prob``), as ``{"prior": (K,), "tables": ((K, L_i), ...)}``.
    prob : float
        Mass of the credible intervals.
    covered : float
        Fraction of the market's parameters inside their credible interval.
    max_abs_difference : float
        Largest absolute difference between the market's parameters and the posterior mean.
    latent : ndarray, shape (N, K)
        Posterior probability of each case's hidden state (market labelling).
    permutation : tuple of int
        Class ``j`` of the market is class ``permutation[j]`` of the fit.
    fit : LatentClassFit
        The underlying fit (with ``idata`` and ``diagnostics``).
    diagnostics : Diagnostics or None
        The fit's NUTS diagnostics (property), judged by the one convergence rule.
    seconds : float
    """

    market_state: LatentState
    mean: LatentState
    lower: dict
    upper: dict
    prob: float
    covered: float
    max_abs_difference: float
    latent: np.ndarray
    permutation: tuple[int, ...]
    fit: Any = field(repr=False)
    seconds: float = 0.0

    @property
    def diagnostics(self) -> Diagnostics | None:
        """The NUTS diagnostics of the fit (None for a fit without them)."""
        diag = getattr(self.fit, "diagnostics", None)
        return None if diag is None else Diagnostics.from_mapping(diag)

    def to_dict(self) -> dict:
        def arrays(d):
            return {"prior": [float(v) for v in d["prior"]], "tables": [np.asarray(t).tolist() for t in d["tables"]]}

        diag = self.diagnostics
        return {
            "market_state": self.market_state.to_dict(), "mean": self.mean.to_dict(),
            "lower": arrays(self.lower), "upper": arrays(self.upper), "prob": float(self.prob),
            "covered": float(self.covered), "max_abs_difference": float(self.max_abs_difference),
            "permutation": list(self.permutation), "n_cases": int(self.latent.shape[0]),
            "diagnostics": None if diag is None else diag.to_dict(), "seconds": float(self.seconds),
        }

    def __repr__(self) -> str:
        return (f"MarketPosterior({self.latent.shape[0]} cases: market within {self.max_abs_difference:.3g} of the "
                f"posterior mean; {100 * self.covered:.0f}% of its parameters inside the {100 * self.prob:.0f}% "
                "credible intervals)")

    def summary_frame(self):
        """One row per parameter: market value, posterior mean, interval bounds, inside or not."""
        import pandas as pd

        s = self.market_state
        rows = []
        for k, c in enumerate(s.classes):
            rows.append(("P(Y)", c, "", s.prior[k], self.mean.prior[k], self.lower["prior"][k],
                         self.upper["prior"][k]))
        for i, (name, levels) in enumerate(zip(s.observables, s.levels, strict=True)):
            for k, c in enumerate(s.classes):
                for j, lv in enumerate(levels):
                    rows.append((f"P({name} | Y)", c, lv, s.tables[i][k, j], self.mean.tables[i][k, j],
                                 self.lower["tables"][i][k, j], self.upper["tables"][i][k, j]))
        frame = pd.DataFrame(rows, columns=["parameter", "Y", "level", "market", "mean", "lower", "upper"])
        frame["inside"] = (frame["market"] >= frame["lower"]) & (frame["market"] <= frame["upper"])
        return frame

    def _repr_markdown_(self) -> str:
        rows = [f"**posterior vs market** on {self.latent.shape[0]} cases: market within "
                f"{self.max_abs_difference:.3g} of the posterior mean, {100 * self.covered:.0f}% of its parameters "
                f"inside the {100 * self.prob:.0f}% credible intervals", "",
                "| parameter | Y | level | market | mean | interval |", "|---|---|---|---|---|---|"]
        for r in self.summary_frame().itertuples(index=False):
            rows.append(f"| {r.parameter.replace('|', '\\|')} | {r.Y} | {r.level} | {r.market:.3f} | {r.mean:.3f} | "
                        f"[{r.lower:.3f}, {r.upper:.3f}]{'' if r.inside else ' ✗'} |")
        return "\n".join(rows)


def infer_market(market: LatentMarket, cases: Any, *, state: LatentState | Mapping | None = None, draws: int = 500,
                 tune: int = 500, chains: int = 2, cores: int | None = 1, prob: float = INTERVAL_PROB,
                 rng: int | np.random.Generator | None = None, progressbar: bool = True,
                 backend: str = "pymc") -> MarketPosterior:
    """The posterior over θ and over each case's hidden state given resolved cases, next to the market's θ.

    The cases become a reports book (cases = questions, observables = traders, levels =
    answers) and a latent class model with ``K`` classes is sampled with NUTS
    (:func:`deepmarkets.models.nuts.fit_nuts`, Dirichlet(1) priors, the class marginalised).
    The posterior is relabelled to the market's hidden states by the permutation that
    brings its mean closest to the market's state (``state``, default the current one).

    Parameters
    ----------
    market : LatentMarket
    cases : cases (see :meth:`LatentMarket.encode`), fully resolved
    state : state, optional
        The market state to compare with (default: the current state).
    draws, tune, chains, cores : int
        NUTS settings; ``cores=1`` runs the chains one after another (for a model this small,
        faster than starting a process per chain).
    prob : float
        Mass of the equal-tailed credible intervals.
    rng, progressbar
        As usual.
    backend : {"pymc", "nutpie", "numpyro", "blackjax"}, default "pymc"
        The NUTS sampler (see :func:`~deepmarkets.models.nuts.fit_nuts`).

    Raises
    ------
    InferenceError
        If NUTS is not available or the fit fails.
    """
    started = time.perf_counter()
    if not isinstance(market, LatentMarket):
        raise DeclarationError(f"market={type(market).__name__}; expected a LatentMarket")
    try:
        from deepmarkets.models.fit import LatentClassFit
        from deepmarkets.models.nuts import fit_nuts
    except ImportError as err:  # pragma: no cover - the package ships both
        raise InferenceError(f"inference from the market needs deepmarkets.models.nuts ({err})") from err
    s = market.state if state is None else market._coerce(state, "state")
    if not (isinstance(prob, float | int) and 0 < prob < 1):
        raise DeclarationError(f"prob (the credible mass) must be in (0, 1), got {prob!r}")
    codes, _ = market.encode(cases)
    n, k = codes.shape[0], market.n_classes
    unused = [(market.observables[i], lv[j]) for i, lv in enumerate(market.levels) for j in range(len(lv))
              if not np.any(codes[:, i] == j)]
    if unused:
        name, level = unused[0]
        raise InferenceError(
            f"{name} = {level!r} never occurs in the {n} cases, so its probability given Y cannot be compared "
            f"({len(unused)} such level(s)); give more cases, or declare the market without unused levels"
        )
    gen = as_rng(rng)
    # readable names for the fit unless the reports table would mangle them (NA-like or padded text)
    reports, columns, texts = _reports_for(market, codes, readable=True)
    if list(reports.traders) != columns or any(
            not set(map(str, reports.levels[i])) <= set(texts[i]) for i in range(market.n_observables)):
        reports, columns, texts = _reports_for(market, codes, readable=False)
    # start NUTS from the market's state (and align its draws to it), unless the market cannot tell its
    # hidden states apart; then from the EM optimum
    distinct = not all(np.allclose(t, t[:1], atol=1e-6) for t in s.tables)
    start = None
    if distinct:
        level_idx = [[texts[i].index(str(lab)) for lab in reports.levels[i]] for i in range(market.n_observables)]
        response = tuple(s.tables[i][:, level_idx[i]] for i in range(market.n_observables))
        post = market.posterior_latent(codes, s)
        loglik = float(np.sum(market._log_q(s, codes)))
        start = LatentClassFit(
            model="lca", method="market", reports=reports, classes=np.asarray(market.classes), class_shares=s.prior,
            response=response, posterior=post, loglik=loglik, n_parameters=market.n_parameters, n_iter=0,
            converged=True, restarts_loglik=np.array([loglik]), seconds=0.0,
        )
    try:
        fit = fit_nuts(reports, model="lca", classes=k, draws=draws, tune=tune, chains=chains, cores=cores,
                       start=start, rng=gen, progressbar=progressbar, backend=backend)
    except InferenceError:
        raise
    except Exception as err:  # any sampler failure is reported as an inference failure
        raise InferenceError(f"NUTS on the {n} resolved cases failed: {type(err).__name__}: {err}") from err
    posterior = read_posterior(fit.idata)
    share = posterior.flat("class_share")
    labels = list(posterior.coords["level"])
    resp = posterior.flat("response")  # (draw, trader, class, level)
    traders = list(posterior.coords["trader"])
    tables = []
    for i, col in enumerate(columns):
        j = traders.index(col)
        tables.append(np.stack([resp[:, j, :, labels.index(lv)] for lv in texts[i]], axis=-1))  # (S, K, L)
    # the fit's classes follow its start; relabel them to the market's state (identity when started from it)
    mean_state = LatentState(market.classes, market.observables, market.levels,
                             _renormalise(share.mean(axis=0)), tuple(_renormalise(t.mean(axis=0)) for t in tables))
    perm = _best_permutation(mean_state, s)
    share = share[:, perm]
    tables = [t[:, perm] for t in tables]
    mean = mean_state.relabel(perm)
    alpha = (1 - prob) / 2
    lower = {"prior": np.quantile(share, alpha, axis=0), "tables": tuple(np.quantile(t, alpha, axis=0) for t in tables)}
    upper = {"prior": np.quantile(share, 1 - alpha, axis=0),
             "tables": tuple(np.quantile(t, 1 - alpha, axis=0) for t in tables)}
    inside = np.concatenate([
        ((s.prior >= lower["prior"]) & (s.prior <= upper["prior"])).ravel(),
        *[((t >= lo) & (t <= hi)).ravel() for t, lo, hi in zip(s.tables, lower["tables"], upper["tables"],
                                                                  strict=True)],
    ])
    if "class_probability" in posterior:
        latent = posterior.mean("class_probability")
    else:
        latent = np.asarray(fit.posterior)
    latent = latent[:, perm]
    return MarketPosterior(
        market_state=s, mean=mean, lower=lower, upper=upper, prob=float(prob), covered=float(inside.mean()),
        max_abs_difference=mean.distance(s), latent=latent, permutation=tuple(int(p) for p in perm), fit=fit,
        seconds=time.perf_counter() - started,
    )


def _reports_for(market: LatentMarket, codes: np.ndarray, readable: bool):
    """The cases as a wide reports table (cases = questions, observables = traders, levels = answers)."""
    import pandas as pd

    from deepmarkets.models.data import Reports

    columns = list(market.observables) if readable else [f"X{i + 1}" for i in range(market.n_observables)]
    texts = market.levels if readable else tuple(tuple(str(j + 1) for j in range(len(lv))) for lv in market.levels)
    frame = pd.DataFrame({
        "question": [f"case {n + 1}" for n in range(codes.shape[0])],
        **{col: [lv[c] if c >= 0 else None for c in codes[:, i]]
           for i, (col, lv) in enumerate(zip(columns, texts, strict=True))},
    })
    reports = Reports.from_frame(frame, wide=True)
    return reports, columns, texts


def _renormalise(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-300, None)
    return p / p.sum(axis=-1, keepdims=True)
