"""The record of a hypothesis auction: every round, every hypothesis's ledger, tables and a summary."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deepmarkets.helpers.jsonsafe import json_safe

__all__ = ["BRIARun"]

#: Hypotheses listed in the text summary (most wins first).
SHOWN = 10


@dataclass(repr=False)
class BRIARun:
    """A run of :class:`~deepmarkets.models.bria.AuctionBRIA` (arrays by round and by hypothesis).

    ``rejected`` holds every rejection as (rounds, hypotheses) arrays when the agent kept them.
    """

    names: list[str]
    options: tuple[str, ...]
    allowance: object
    choices: np.ndarray
    rewards: np.ndarray
    estimates: np.ndarray
    winners: np.ndarray
    observations: np.ndarray
    wealth: np.ndarray
    allowance_received: np.ndarray
    records: np.ndarray
    wins: np.ndarray
    rejections: np.ndarray
    last_rejection: np.ndarray
    rejected: tuple[np.ndarray, np.ndarray] | None
    snapshot_rounds: np.ndarray
    snapshot_wealth: np.ndarray
    total_allowance: float
    ledger_error: float
    extra: dict = field(default_factory=dict)

    @property
    def n_rounds(self) -> int:
        return len(self.rewards)

    def average_reward(self, last: int | None = None) -> float:
        """The average reward (over the ``last`` rounds when given)."""
        r = self.rewards if last is None else self.rewards[-last:]
        return float(r.mean()) if len(r) else float("nan")

    def overestimation(self) -> float:
        """L_T = Σ (estimate − reward)."""
        return float(self.estimates.sum() - self.rewards.sum())

    def identity_error(self) -> float:
        """Σ wealth − (Σ allowance − L_T): zero up to rounding."""
        return float(self.wealth.sum()) - (self.total_allowance - self.overestimation())

    def option_shares(self, last: int | None = None) -> dict[str, float]:
        """How often each option was taken (over the ``last`` rounds when given)."""
        c = self.choices if last is None else self.choices[-last:]
        counts = np.bincount(c, minlength=len(self.options))
        return {o: float(k) / max(1, len(c)) for o, k in zip(self.options, counts, strict=True)}

    def win_shares(self, last: int | None = None) -> np.ndarray:
        """Each hypothesis's share of the rounds won (over the ``last`` rounds when given)."""
        w = self.winners if last is None else self.winners[-last:]
        return np.bincount(w, minlength=len(self.names)) / max(1, len(w))

    def table(self):
        """One row per hypothesis: wins, win share, wealth, allowance, record, rejections, last rejection."""
        import pandas as pd

        return pd.DataFrame({
            "hypothesis": self.names, "wins": self.wins, "win_share": self.wins / max(1, self.n_rounds),
            "wealth": self.wealth, "allowance": self.allowance_received, "record": self.records,
            "slack": self.wealth - self.allowance_received - self.records,
            "rejections": self.rejections, "last_rejection": self.last_rejection,
        })

    def rounds(self):
        """One row per round: option, winner, estimate, reward, observation, cumulative overestimation."""
        import pandas as pd

        return pd.DataFrame({
            "round": np.arange(1, self.n_rounds + 1), "option": [self.options[c] for c in self.choices],
            "winner": [self.names[i] for i in self.winners], "estimate": self.estimates, "reward": self.rewards,
            "observation": self.observations, "overestimation": np.cumsum(self.estimates - self.rewards),
        }).set_index("round")

    def to_dict(self) -> dict:
        """A JSON-safe summary: settings, average reward, L_T, the identity, option and win shares."""
        order = np.argsort(-self.wins, kind="stable")[:SHOWN]
        return json_safe({
            "hypotheses": len(self.names), "rounds": self.n_rounds, "allowance": self.allowance.to_dict(),
            "average_reward": self.average_reward(), "overestimation": self.overestimation(),
            "total_allowance": self.total_allowance, "identity_error": self.identity_error(),
            "ledger_error": self.ledger_error, "option_shares": self.option_shares(),
            "top_hypotheses": [{"hypothesis": self.names[i], "wins": int(self.wins[i]),
                                "wealth": float(self.wealth[i]), "record": float(self.records[i])} for i in order],
            **self.extra,
        })

    def __repr__(self) -> str:
        return (f"BRIARun({len(self.names)} hypotheses, {self.n_rounds} rounds, average reward "
                f"{self.average_reward():.4f}, L_T {self.overestimation():.4g}, allowance {self.total_allowance:.4g})")

    def _repr_markdown_(self) -> str:
        t = self.table().sort_values("wins", ascending=False).head(SHOWN)
        lines = [f"**{self!r}**", "", "| hypothesis | wins | wealth | record | rejections |", "|---|---|---|---|---|"]
        lines += [f"| {r.hypothesis} | {r.wins} | {r.wealth:.3f} | {r.record:.3f} | {r.rejections} |"
                  for r in t.itertuples()]
        return "\n".join(lines)
