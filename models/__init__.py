"""deepmarkets.models: inference on trader books, latent-variable markets, natural latents, agent economies.

* :func:`infer` -- the hidden truth behind a book of reports (Dawid–Skene, latent class
  analysis, probability forecasts), by EM or by NUTS (PyMC), as a :class:`LatentClassFit`.
* :class:`Reports` -- a reports book encoded for inference; :func:`fit_em`, :func:`fit_nuts`.
* :class:`LatentMarket` -- a market in P(Y) and P(X_i | Y), paid by the log score of the
  implied joint of the observables.
* :func:`align_draws` -- one labelling for class-indexed posterior draws (gauge fixing).
* :func:`discrete_gauge`, :func:`continuous_gauge` -- the gauge group of a symbolic latent model
  (relabellings and sign flips proven by sympy; the dimension of its continuous part), and
  :func:`fix_gauge` to give every posterior chain one labelling.
* :func:`natural_latent_errors` -- how natural a latent is: mediation and redundancy errors in
  bits, for a joint table or (:func:`fit_natural_latent_errors`) a fitted latent class model.

PyMC and ArviZ are imported only when NUTS runs.
"""

from deepmarkets.models.data import Reports
from deepmarkets.models.em import fit_em, log_likelihood
from deepmarkets.models.fit import LatentClassFit
from deepmarkets.models.gauge import (
    ContinuousGauge,
    GaugeFixing,
    GaugeGroup,
    SymbolicModel,
    continuous_gauge,
    discrete_gauge,
    factor_model,
    fix_gauge,
    from_latent_market,
    plot_gauge_fixing,
)
from deepmarkets.models.gauge import latent_class_model as symbolic_latent_class_model
from deepmarkets.models.infer import infer
from deepmarkets.models.latent_market import (
    InformedTraders,
    LatentMarket,
    LatentState,
    MarketPosterior,
    Move,
    Settlement,
    plot_kl,
    plot_tables,
)
from deepmarkets.models.metrics import adjusted_rand_index
from deepmarkets.models.natural import (
    NaturalLatentReport,
    fit_natural_latent_errors,
    mediator_determines_redund,
    natural_latent_errors,
    plot_natural_latent,
)
from deepmarkets.models.nuts import fit_nuts
from deepmarkets.models.relabel import align_draws
from deepmarkets.models.simulate import simulate_reports

__all__ = [
    "ContinuousGauge",
    "GaugeFixing",
    "GaugeGroup",
    "SymbolicModel",
    "continuous_gauge",
    "discrete_gauge",
    "factor_model",
    "fix_gauge",
    "from_latent_market",
    "plot_gauge_fixing",
    "symbolic_latent_class_model",
    "InformedTraders",
    "LatentClassFit",
    "LatentMarket",
    "LatentState",
    "MarketPosterior",
    "Move",
    "NaturalLatentReport",
    "Reports",
    "Settlement",
    "adjusted_rand_index",
    "align_draws",
    "fit_em",
    "fit_natural_latent_errors",
    "fit_nuts",
    "infer",
    "log_likelihood",
    "mediator_determines_redund",
    "natural_latent_errors",
    "plot_natural_latent",
    "plot_kl",
    "plot_tables",
    "simulate_reports",
]
