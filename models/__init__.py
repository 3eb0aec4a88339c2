"""deepmarkets.models: inference on trader books, latent-variable markets, natural latents, agent economies.

* :func:`infer` -- the hidden truth behind a book of reports (Dawid–Skene, latent class
  analysis, probability forecasts), by EM, by NUTS (PyMC's sampler, nutpie, NumPyro or BlackJAX)
  or by minibatch ADVI (approximate), as a :class:`LatentClassFit`.
* :class:`Reports` -- a reports book encoded for inference; :func:`fit_em`, :func:`fit_nuts`,
  :func:`fit_advi`.
* :class:`LatentMarket` -- a market in P(Y) and P(X_i | Y), paid by the log score of the
  implied joint of the observables; :func:`simulate_informed_traders` moves it with traders who
  see private samples, :func:`infer_market` (or ``infer(cases, market=..., method="nuts")``)
  samples the posterior over its state.
* :class:`LayeredLatentMarket` -- a layered latent model (location states under a coarse layer of
  shared shapes) fitted by traders paid held-out log score, its structure set by rent;
  :class:`ConditionalLatentMarket` -- the same for a conditional density ``q(y | x)``.
* :func:`fit_partitioned` -- EM over a book larger than memory (a Dask DataFrame or a folder of
  Parquet files), partition by partition, as a :class:`PartitionedFit`.
* :func:`diagnose` -- R-hat and ESS of MCMC draws as :class:`Diagnostics`, judged by the one
  convergence rule; :func:`read_posterior` -- a NUTS posterior as numpy arrays with named dims.
* :func:`align_draws` -- one labelling for class-indexed posterior draws (gauge fixing).
* :func:`discrete_gauge`, :func:`continuous_gauge` -- the gauge group of a symbolic latent model
  (relabellings and sign flips proven by sympy; the dimension of its continuous part), and
  :func:`fix_gauge` to give every posterior chain one labelling.
* :func:`natural_latent_errors` -- how natural a latent is: mediation and redundancy errors in
  bits, for a joint table or (:func:`fit_natural_latent_errors`) a fitted latent class model.

PyMC and ArviZ are imported only when NUTS runs.
"""

from deepmarkets.helpers import export_lazily

# submodule -> the names it exports; each loads on first use (sympy, PyMC and matplotlib are slow to import)
__all__ = export_lazily(__name__, {
    "advi": ["fit_advi"],
    "data": ["Reports"],
    "diagnostics": ["Diagnostics", "diagnose"],
    "em": ["fit_em", "log_likelihood"],
    "fit": ["LatentClassFit"],
    "fit_plots": ["plot_class_shares", "plot_reliability"],
    "gauge": ["ContinuousGauge", "GaugeGroup", "continuous_gauge", "discrete_gauge"],
    "infer": ["infer"],
    "infer_market": ["MarketPosterior", "infer_market"],
    "latent_market": ["LatentMarket", "LatentState", "Move", "Settlement", "plot_tables"],
    "layered": ["LayeredLatentMarket", "ConditionalLatentMarket"],
    "metrics": ["adjusted_rand_index"],
    "natural": ["NaturalLatentReport", "fit_natural_latent_errors", "mediator_determines_redund",
                "natural_latent_errors", "plot_natural_latent"],
    "nuts": ["fit_nuts"],
    "partitioned": ["PartitionedFit", "fit_partitioned"],
    "posterior": ["Posterior", "read_posterior"],
    "relabel": ["GaugeFixing", "align_draws", "fix_gauge", "plot_gauge_fixing"],
    "simulate": ["InformedTraders", "plot_kl", "simulate_informed_traders", "simulate_reports"],
    "symbolic": ["SymbolicModel", "factor_model", "from_latent_market"],
}, renamed={"symbolic_latent_class_model": ("symbolic", "latent_class_model")})
