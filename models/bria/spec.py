"""Hypothesis auctions declared in TOML (the ``deepmarkets bria SPEC.toml`` format).

Example ``SPEC.toml``::

    rounds = 20000
    seed = 0

    [task]
    kind = "bandit"                 # bandit, lottery or prisoners_dilemma
    means = [0.3, 0.5, 0.7]         # the task's own arguments

    [allowance]                     # A(n, i) = c n^-a i^-b (default 5/(n i^1.1))
    c = 5
    a = 1
    b = 1.1

    [[hypotheses]]                  # families, enumerated in this order
    family = "constant"             # constant, copy_best or strategies
    promises = {low = 0.05, high = 1.0, step = 0.05}   # or a list of promises
    order = "option"

    [agent]
    check = false                   # verify the invariants every round

Every key is checked before any work: an unknown kind, family or key, or a bad value, is a
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
from deepmarkets.models.bria.agent import AuctionBRIA
from deepmarkets.models.bria.allowance import Allowance
from deepmarkets.models.bria.hypotheses import constant, copy_best, promise_grid, strategies
from deepmarkets.models.bria.tasks import Bandit, Lottery, PrisonersDilemma

__all__ = ["TASKS", "FAMILIES", "read_spec", "agent_from_spec"]

#: The tasks a spec may name.
TASKS = {"bandit": Bandit, "lottery": Lottery, "prisoners_dilemma": PrisonersDilemma}

#: The hypothesis families a spec may name, with their keys.
FAMILIES = {"constant": ("options", "promises", "order"), "copy_best": ("promises",),
            "strategies": ("names", "promises")}


def read_spec(path: str | Path) -> tuple[AuctionBRIA, int]:
    """The agent declared in a TOML file, and its number of rounds."""
    return read_toml_spec(path, agent_from_spec)


def _table(spec: Mapping[str, Any], key: str) -> dict:
    value = spec.get(key) or {}
    if not isinstance(value, Mapping):
        raise DeclarationError(f"[{key}] must be a table of settings")
    return dict(value)


def _keys(given: Mapping[str, Any], allowed, where: str) -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise DeclarationError(f"[{where}] has unknown key {unknown[0]!r}; the keys are {', '.join(allowed)}")


def _promises(value: Any, where: str):
    if value is None or isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        _keys(value, ("low", "high", "step"), f"{where}.promises")
        return promise_grid(**value)
    raise DeclarationError(f"[{where}] promises={value!r}; expected a list of promises or {{low, high, step}}")


def _family(item: Any, k: int, n_options: int, labels) -> Any:
    where = f"hypotheses {k}"
    if not isinstance(item, Mapping):
        raise DeclarationError(f"[[hypotheses]] number {k} must be a table with a family")
    item = dict(item)
    kind = item.pop("family", None)
    if kind not in FAMILIES:
        raise DeclarationError(f"[{where}] family={kind!r}; expected one of {', '.join(FAMILIES)}")
    _keys(item, FAMILIES[kind], where)
    promises = _promises(item.get("promises"), where)
    if kind == "constant":
        return constant(item.get("options", n_options), promises, labels=labels, order=item.get("order", "option"))
    if kind == "copy_best":
        return copy_best(promises)
    return strategies(item.get("names", ("cooperate", "defect", "tit_for_tat", "grim", "pavlov")), promises)


def agent_from_spec(spec: Mapping[str, Any]) -> tuple[AuctionBRIA, int]:
    """The agent of a parsed spec (see the module docstring), and its number of rounds.

    Examples
    --------
    >>> agent, rounds = agent_from_spec({"rounds": 100, "task": {"kind": "lottery", "safe": 0.4},
    ...                                  "hypotheses": [{"family": "constant", "promises": [0.3, 0.45]}]})
    >>> agent.names, rounds
    (['always safe @ 0.3', 'always safe @ 0.45', 'always lottery @ 0.3', 'always lottery @ 0.45'], 100)
    """
    _keys(spec, ("rounds", "seed", "task", "allowance", "hypotheses", "agent"), "spec")
    rounds = whole_number(spec.get("rounds", 1000), "rounds", 1)
    seed = spec.get("seed")
    if seed is not None:
        seed = whole_number(seed, "seed", 0)
    task_spec = _table(spec, "task")
    kind = task_spec.pop("kind", None)
    if kind not in TASKS:
        raise DeclarationError(f"[task] kind={kind!r}; expected one of {', '.join(TASKS)}")
    factory = TASKS[kind]
    _keys(task_spec, list(inspect.signature(factory).parameters), "task")
    task = factory(**task_spec)
    allowance_spec = _table(spec, "allowance")
    _keys(allowance_spec, ("c", "a", "b"), "allowance")
    allowance = Allowance(**allowance_spec)
    items = spec.get("hypotheses")
    if not items:
        raise DeclarationError("no [[hypotheses]] were declared; add e.g. [[hypotheses]] family = \"constant\"")
    if not isinstance(items, list):
        raise DeclarationError("hypotheses must be an array of tables: [[hypotheses]]")
    families = [_family(item, k, len(task.options), task.options) for k, item in enumerate(items, start=1)]
    agent_spec = _table(spec, "agent")
    _keys(agent_spec, ("check", "keep_rejections"), "agent")
    return AuctionBRIA(families, task, allowance=allowance, rng=seed, **agent_spec), rounds
