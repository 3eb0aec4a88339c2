"""Layered latent markets: a deep latent-variable model fitted by traders and shaped by rent.

* :class:`LayeredLatentMarket` -- the market: traders move a :class:`LayeredState` (location
  states with Gaussian emissions, and optionally a coarse layer of shape states whose covariances
  their children share) or a :class:`CategoricalState` (latent classes over answers) and are paid
  the held-out gain in log score; structural elements pay rent and leave when their accounts go
  negative.
* Traders: :class:`EMTrader`, :class:`GradientTrader`, :class:`Specialist`, :class:`Entrepreneur`,
  :class:`Restarter`; a trader is any object
  with a ``name`` and ``plan(state, x, rng)`` returning a :class:`Plan`.
* :func:`fit_em` -- plain EM with a fixed structure (the baseline).
* :func:`load_wine`, :func:`load_olive` -- real data with known classes, standardised.
* The conditional version: :class:`ConditionalLatentMarket`, the same market in a mixture of
  experts ``q(y | x)`` (:class:`ConditionalState`, moved by :class:`ConditionalEMTrader`), and
  :func:`fit_mdn`, a mixture density network trained by gradient descent (the baseline), on
  :func:`bishop_inverse`.
* :class:`CrossFittedMarket` -- the trading core both markets share.
"""

from deepmarkets.helpers import export_lazily

__all__ = export_lazily(__name__, {
    "categorical": ["CategoricalState", "encode_answers"],
    "conditional": ["ConditionalState", "bishop_inverse", "init_conditional"],
    "conditional_market": ["ConditionalEMTrader", "ConditionalLatentMarket"],
    "crossfit": ["CrossFittedMarket"],
    "datasets": ["Dataset", "load_olive", "load_wine", "standardize"],
    "em": ["EMFit", "em_step", "fit_em"],
    "market": ["LayeredLatentMarket", "Trade", "read_data"],
    "mdn": ["MDN", "fit_mdn"],
    "plots": ["plot_clusters", "plot_log_score", "plot_market", "plot_structure"],
    "posterior": ["sample_posterior"],
    "state": ["LayeredState"],
    "symbolic": ["symbolic_density"],
    "traders": ["EMTrader", "Entrepreneur", "GradientTrader", "Plan", "Restarter", "Specialist"],
}, renamed={"conditional_em_step": ("conditional", "em_step")})
