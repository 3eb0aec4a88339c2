"""Economies declared in TOML (the ``deepmarkets economy SPEC.toml`` format).

Example ``SPEC.toml``::

    episodes = 3000
    seed = 0

    [environment]
    kind = "blocks_world"        # blocks_world, hanoi, bandit or chain
    n_blocks = 3                 # the environment's own arguments

    [economy]
    auction = "ccv"              # ccv, vickrey or first
    clones = 2
    gamma = 0.9

Every key is checked before any work: an unknown kind or key, or a bad value, is a
:class:`~deepmarkets.errors.DeclarationError` naming the file and the key.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers.files import read_toml_spec
from deepmarkets.helpers.validate import whole_number
from deepmarkets.models.economies.economy import Economy
from deepmarkets.models.economies.envs import Bandit, BlocksWorld, Chain, TowerOfHanoi

__all__ = ["ENVIRONMENTS", "read_spec", "economy_from_spec"]

#: The environments a spec may name.
ENVIRONMENTS = {"blocks_world": BlocksWorld, "hanoi": TowerOfHanoi, "bandit": Bandit, "chain": Chain}

_ECONOMY_KEYS = [p for p in inspect.signature(Economy).parameters if p not in ("env", "rng")]


def read_spec(path: str | Path) -> tuple[Economy, int]:
    """The economy declared in a TOML file, and its number of episodes."""
    return read_toml_spec(path, economy_from_spec)


def _call(factory, kwargs: Mapping[str, Any], where: str, allowed: list[str]):
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise DeclarationError(f"[{where}] has unknown key {unknown[0]!r}; the keys are {', '.join(allowed)}")
    try:
        return factory(**kwargs)
    except TypeError as err:
        raise DeclarationError(f"[{where}]: {err}") from None


def economy_from_spec(spec: Mapping[str, Any]) -> tuple[Economy, int]:
    """The economy of a parsed spec (see the module docstring), and its number of episodes.

    Examples
    --------
    >>> eco, episodes = economy_from_spec({"episodes": 10, "environment": {"kind": "chain", "n_states": 4},
    ...                                    "economy": {"auction": "ccv", "gamma": 0.9}})
    >>> eco.auction, episodes
    ('ccv', 10)
    """
    unknown = sorted(set(spec) - {"episodes", "seed", "environment", "economy"})
    if unknown:
        raise DeclarationError(f"unknown key {unknown[0]!r}; a spec has episodes, seed, [environment] and [economy]")
    episodes = whole_number(spec.get("episodes", 1000), "episodes", 1)
    seed = spec.get("seed")
    if seed is not None:
        seed = whole_number(seed, "seed", 0)
    env_spec = dict(spec.get("environment") or {})
    kind = env_spec.pop("kind", None)
    if kind not in ENVIRONMENTS:
        raise DeclarationError(f"[environment] kind={kind!r}; expected one of {', '.join(ENVIRONMENTS)}")
    factory = ENVIRONMENTS[kind]
    env = _call(factory, env_spec, "environment", list(inspect.signature(factory).parameters))
    economy = spec.get("economy") or {}
    if not isinstance(economy, Mapping):
        raise DeclarationError("[economy] must be a table of settings")
    eco = _call(lambda **kw: Economy(env, rng=seed, **kw), economy, "economy", _ECONOMY_KEYS)
    return eco, episodes
