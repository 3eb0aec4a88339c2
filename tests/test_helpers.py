"""The shared helpers: seeds, exact numbers, JSON-safe values and warnings attributed to the caller."""

from __future__ import annotations

import json
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import as_rng, json_safe, to_fraction, to_rational, warn


@pytest.mark.parametrize("seed", [0, 7, [1, 2, 3], np.random.SeedSequence(5)])
def test_as_rng_accepts_numpys_seeds_and_is_reproducible(seed):
    assert as_rng(seed).random() == np.random.default_rng(seed).random()


@pytest.mark.parametrize("bad", [1.5, "seed", True, -1, object()])
def test_as_rng_refuses_what_is_not_a_seed(bad):
    with pytest.raises(DeclarationError, match="rng must be an int seed"):
        as_rng(bad)


@pytest.mark.parametrize(("value", "exact"), [
    (0.1, Fraction(1, 10)), ("0.43000000000000005", Fraction(43000000000000005, 10**17)),
    (np.float64(0.25), Fraction(1, 4)), (3, Fraction(3)), (Fraction(2, 7), Fraction(2, 7)),
])
def test_to_fraction_reads_the_decimal_as_written(value, exact):
    assert to_fraction(value) == exact
    assert to_rational(value) == exact


@pytest.mark.parametrize("bad", [math.nan, math.inf, "x", True, None])
def test_to_fraction_refuses_what_is_not_a_finite_number(bad):
    with pytest.raises(DeclarationError, match="price must be"):
        to_fraction(bad, "price")


def test_json_safe_output_is_strict_json():
    value = {"a": np.array([1.0, np.nan, np.inf]), "b": (np.int64(2), np.bool_(True)), "c": Fraction(1, 3)}
    text = json.dumps(json_safe(value), allow_nan=False)  # raises on NaN or infinity
    assert json.loads(text) == {"a": [1.0, None, None], "b": [2, True], "c": "1/3"}


def test_warnings_point_at_the_callers_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn("look here")
    assert caught[0].filename == __file__ and caught[0].category is UserWarning
