"""deepmarkets.logic.induction: a logical inductor (Garrabrant et al. 2016, §5).

``inductor`` holds the deductive process, the traders, the :class:`Inductor` market and its
results; ``features`` the expressions traders' demands are written in; ``fixedpoint`` the
simplicial search the market maker falls back on; ``scenarios`` fixed deductive processes for
the empirical properties; ``spec`` inductors declared in TOML.
"""

from deepmarkets.helpers import export_lazily

# submodule -> the names it exports; each loads on first use
__all__ = export_lazily(__name__, {
    "inductor": ["DayRecord", "DeductiveProcess", "InductionError", "InductionResult", "Inductor", "Trader",
                 "arbitrageurs", "exclusive_exhaustive_trader", "frequency_trader", "plot_exploitation",
                 "plot_prices", "threshold_trader", "write_log"],
    "features": ["Feature", "FeatureGraph", "const", "fmax", "fmin", "price", "ramp", "safe_reciprocal"],
    "spec": ["TRADER_KINDS", "inductor_from_spec", "read_spec"],
})
