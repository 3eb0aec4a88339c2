"""Coherence checking: known verdicts, brute-force agreement, certificates, bad input."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepmarkets.errors import DeclarationError
from deepmarkets.logic import Theory, Verdict, atoms, check_coherence, exactly_one, ints
from deepmarkets.logic.testing import brute_force_coherence, possible_truth_table, random_cnf_instance


def _all_worlds(report, theory=None):
    """Every possible truth assignment of the atoms, as {sentence: bool} per bet sentence/given."""
    sents = []
    for b in report.bets:
        sents += [b.sentence] + ([b.given] if b.given is not None else [])
    return [dict(zip(sents, row, strict=True)) for row in possible_truth_table(sents, theory)]


def _assert_book_never_loses(report, theory=None):
    book = report.dutch_book
    payoffs = []
    for world in _all_worlds(report, theory):
        active = any(p.bet.given is None or world[p.bet.given] for p in book.positions)
        if active:
            payoffs.append(book.payoff(world))
    assert payoffs and min(payoffs) == book.guaranteed_profit > 0


def _assert_distribution_reproduces(report):
    total = sum(p for p, _ in report.distribution)
    assert total == 1
    for i, bet in enumerate(report.bets):
        assert sum(p for p, w in report.distribution if w[i][0]) == bet.price


# --- published / textbook cases ------------------------------------------------------------
def test_classic_incoherent_pair_has_the_expected_dutch_book():
    a, b = atoms("a b")
    r = check_coherence({a: 0.6, b: 0.7, a & b: 0.2})
    assert r.verdict is Verdict.INCOHERENT
    assert r.max_profit == pytest.approx(0.1, abs=1e-12)
    assert r.l1_distance == pytest.approx(0.1, abs=1e-12)
    sides = {str(p.bet.sentence): (p.side, p.stake) for p in r.dutch_book.positions}
    assert sides == {"a": ("sell", -1), "b": ("sell", -1), "a & b": ("buy", 1)}
    assert r.dutch_book.guaranteed_profit == Fraction(1, 10)
    _assert_book_never_loses(r)
    assert sum(abs(x - y) for x, y in zip(r.nearest_prices, (0.6, 0.7, 0.2), strict=True)) == pytest.approx(0.1)


def test_boundary_pair_is_coherent_with_exact_certificate():
    a, b = atoms("a b")
    r = check_coherence({a: 0.6, b: 0.7, a & b: 0.3})
    assert r.verdict is Verdict.COHERENT
    assert len(r.distribution) <= 4
    _assert_distribution_reproduces(r)


def test_conditional_called_off_bets_with_zero_probability_condition():
    h, e = atoms("H E")
    r = check_coherence({h: 0}, conditional={(e, h): 0.3, (~e, h): 0.9})
    assert r.verdict is Verdict.INCOHERENT
    assert r.dutch_book.guaranteed_profit == Fraction(1, 5)
    assert {p.side for p in r.dutch_book.positions} == {"sell"}
    _assert_book_never_loses(r)


def test_conditional_coherent_on_a_null_condition_needs_two_layers():
    h, e = atoms("H E")
    r = check_coherence({h: 0}, conditional={(e, h): 0.3, (~e, h): 0.7})
    assert r.verdict is Verdict.COHERENT
    assert len(r.layers) == 2
    for layer in r.layers:
        assert sum(p for p, _ in layer) == 1


def test_conditional_matches_ratio_of_unconditional_prices():
    rain, cloudy = atoms("rain cloudy")
    theory = [rain.implies(cloudy)]
    ok = check_coherence({rain: 0.3, cloudy: 0.5}, theory, {(rain, cloudy): 0.6})
    bad = check_coherence({rain: 0.3, cloudy: 0.5}, theory, {(rain, cloudy): 0.4})
    assert ok.verdict is Verdict.COHERENT
    assert bad.verdict is Verdict.INCOHERENT
    _assert_book_never_loses(bad, Theory(theory))


def test_impossible_conditioning_event_is_unknown_not_dropped():
    a, b = atoms("a b")
    r = check_coherence(conditional={(a, b): 0.5}, theory=[~b])
    assert r.verdict is Verdict.UNKNOWN
    assert "impossible" in r.reason


def test_exclusive_contracts_summing_above_one():
    xs = atoms("w1 w2 w3")
    r = check_coherence(dict(zip(xs, (0.5, 0.4, 0.3), strict=True)), [exactly_one(xs)])
    assert r.verdict is Verdict.INCOHERENT
    assert r.dutch_book.guaranteed_profit == Fraction(1, 5)
    assert all(p.side == "sell" for p in r.dutch_book.positions)


def test_same_sentence_two_prices_is_incoherent():
    (a,) = atoms("a")
    r = check_coherence([(a, 0.3), (a, 0.4)])
    assert r.verdict is Verdict.INCOHERENT
    assert r.max_profit == pytest.approx(0.1)


def test_linear_arithmetic_sentences():
    x, y = ints("x y")
    theory = [x >= 0, y >= 0]
    r = check_coherence({x >= 2: 0.6, y >= 2: 0.6, x + y <= 3: 0.9}, theory)
    assert r.verdict is Verdict.INCOHERENT  # P(x+y<=3) <= 1 - P(x>=2 & y>=2) <= 0.8
    assert r.max_profit == pytest.approx(0.1)
    assert check_coherence({x >= 2: 0.6, y >= 2: 0.6, x + y <= 3: 0.8}, theory).verdict is Verdict.COHERENT


def test_profit_first_reports_verified_bounds():
    inst = random_cnf_instance(12, 12, 1.0, coherent=False, rng=3)
    first = check_coherence(inst.price_map, inst.theory, profit="first")
    full = check_coherence(inst.price_map, inst.theory)
    assert first.verdict is full.verdict is Verdict.INCOHERENT
    if first.max_profit_bounds is not None:
        lo, hi = first.max_profit_bounds
        assert lo == float(first.dutch_book.guaranteed_profit)
        assert lo - 1e-9 <= full.max_profit <= hi + 1e-9


def test_resource_limit_gives_unknown_with_reason():
    a, b = atoms("a b")
    r = check_coherence({a: 0.5, b: 0.5}, Theory([a | b], rlimit=1))
    assert r.verdict is Verdict.UNKNOWN
    assert "rlimit" in r.reason


# --- brute force agreement --------------------------------------------------------------
def test_agrees_with_brute_force_on_200_random_instances():
    rng = np.random.default_rng(20261126)
    verdicts = {True: 0, False: 0}
    for _ in range(200):
        n_atoms = int(rng.integers(2, 15))
        inst = random_cnf_instance(
            n_atoms, int(rng.integers(1, 13)), float(rng.uniform(0.0, 3.0)),
            coherent=bool(rng.random() < 0.5), rng=rng, mixture=int(rng.integers(1, 6)),
            literals=int(rng.integers(1, 4)),
        )
        report = check_coherence(inst.price_map, inst.theory)
        coherent, profit = brute_force_coherence(inst.price_map, inst.theory)
        assert report.coherent is coherent, inst
        assert report.max_profit == pytest.approx(profit, abs=1e-7)
        verdicts[coherent] += 1
        if coherent:
            _assert_distribution_reproduces(report)
            assert len(report.distribution) <= len(inst.sentences) + 1
        else:
            _assert_book_never_loses(report, inst.theory)
    assert min(verdicts.values()) >= 50  # both kinds well represented


# --- properties ----------------------------------------------------------------------------
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), coherent=st.booleans())
def test_certificates_hold_and_redundant_axioms_change_nothing(seed, coherent):
    inst = random_cnf_instance(6, 5, 1.5, coherent=coherent, rng=seed, mixture=3)
    report = check_coherence(inst.price_map, inst.theory)
    if report.verdict is Verdict.COHERENT:
        _assert_distribution_reproduces(report)
    else:
        assert report.verdict is Verdict.INCOHERENT
        _assert_book_never_loses(report, inst.theory)
    # an axiom entailed by the theory (a weakened copy of the first axiom) adds no constraint
    first = inst.theory.axioms[0]
    redundant = inst.theory.with_axioms(first | inst.sentences[0])
    again = check_coherence(inst.price_map, redundant)
    assert again.verdict is report.verdict
    assert again.max_profit == pytest.approx(report.max_profit, abs=1e-9)


# --- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize("price", [1.5, -0.1, float("nan"), float("inf"), "abc", None, True])
def test_bad_prices_are_rejected(price):
    (a,) = atoms("a")
    with pytest.raises(DeclarationError, match="price|number"):
        check_coherence({a: price})


def test_no_prices_and_inconsistent_theory_are_rejected():
    (a,) = atoms("a")
    with pytest.raises(DeclarationError, match="no prices"):
        check_coherence({})
    with pytest.raises(DeclarationError, match="no possible world"):
        check_coherence({a: 0.5}, [a, ~a])
    with pytest.raises(DeclarationError, match="profit"):
        check_coherence({a: 0.5}, profit="best")


def test_positive_mass_probe_decides_which_conditions_can_carry_probability():
    from deepmarkets.logic.coherence import Bet, _Layer, _run_layer

    e, f, h1, h2 = atoms("E F H1 H2")
    bets = [Bet(e, Fraction(3, 10), h1), Bet(f, Fraction(1, 2), h2)]
    free = _Layer(Theory(), bets, h1 | h2, h2, None)
    assert _run_layer(free, stop_at_first=False, progress=None)["status"] == "feasible"
    pinned = _Layer(Theory(), [Bet(h2, Fraction(0)), *bets], None, h2, None)
    assert _run_layer(pinned, stop_at_first=False, progress=None)["status"] == "optimal"


# ---------------------------------------------------------------------------
# a sentence priced more than once
# ---------------------------------------------------------------------------
def test_equal_repeated_prices_are_counted_once_and_noted():
    report = check_coherence([("a & b", "0.3"), ("a", "0.6"), ("a&b", "0.3"), ("(a) & (b)", "0.3")])
    a, b = atoms("a b")
    assert [bet.sentence for bet in report.bets] == [a & b, a]  # compared structurally
    assert report.verdict is Verdict.COHERENT
    _assert_distribution_reproduces(report)
    assert report.notes == ("a & b is priced 3 times, each at 0.3; counted once",)
    assert "note: a & b is priced 3 times" in report.summary()
    assert report.to_dict()["notes"] == list(report.notes)


def test_different_prices_for_one_sentence_are_a_named_dutch_book():
    report = check_coherence([("a & b", "0.3"), ("a&b", "0.4")])
    assert report.verdict is Verdict.INCOHERENT
    book = report.dutch_book
    assert book.guaranteed_profit == Fraction(1, 10)
    assert sorted((p.side, p.bet.price) for p in book.positions) == [("buy", Fraction(3, 10)),
                                                                      ("sell", Fraction(2, 5))]
    _assert_book_never_loses(report)
    assert report.notes == ("a & b is priced 2 times, at 0.3 and 0.4: buying it at 0.3 and selling it at 0.4 "
                            "wins 0.1 whatever happens, a Dutch book by itself",)


def test_different_conditional_prices_for_one_event_are_noted():
    report = check_coherence([("b", "0.5")], conditional=[("a", "b", "0.3"), ("a", "b", "0.4"), ("a", "b", "0.4")])
    assert report.verdict is Verdict.INCOHERENT
    assert len(report.bets) == 3
    assert report.notes == ("a given b is priced 3 times, at 0.3 and 0.4: buying it at 0.3 and selling it at 0.4 "
                            "wins 0.1 whenever b is true (both bets are called off otherwise), a Dutch book by itself",)


def test_worlds_follow_the_input_order_when_repeats_are_merged():
    report = check_coherence([("a", "0.3"), ("a", "0.3"), ("b", "0.5")], worlds=[(1, 1, 0), (0, 0, 1), (0, 0, 0)])
    assert report.verdict is Verdict.COHERENT
    with pytest.raises(DeclarationError, match="two truth values"):
        check_coherence([("a", "0.3"), ("a", "0.3"), ("b", "0.5")], worlds=[(1, 0, 0)])
    with pytest.raises(DeclarationError, match="world 0 has 2 truth values; expected one per price \\(3\\)"):
        check_coherence([("a", "0.3"), ("a", "0.3"), ("b", "0.5")], worlds=[(1, 0)])


def test_conditional_prices_are_shown_with_given_not_a_bar():
    # 'rain | cloudy' is the disjunction; a conditional price reads 'rain given cloudy'
    report = check_coherence({"rain": "0.3", "cloudy": "0.5"}, ["rain -> cloudy"], {("rain", "cloudy"): "0.4"})
    bet = report.bets[-1]
    assert str(bet) == "P(rain given cloudy) = 0.4" and bet.label == "rain given cloudy"
    assert "rain given cloudy" in report.dutch_book.table() and "rain | cloudy" not in report.summary()
    with pytest.raises(DeclarationError, match="the price of rain given cloudy is 1.5"):
        check_coherence(conditional={("rain", "cloudy"): "1.5"})


# --- exact answers at the boundary of the coherent set -------------------------------------
def _assert_certified_with_z3(report, theory):
    """The certificate re-checked by z3 over every possible world, independently of the check itself."""
    import z3

    solver = z3.Solver()
    solver.add(*(a.z3 for a in theory.axioms))
    if report.verdict is Verdict.COHERENT:
        _assert_distribution_reproduces(report)
        for _, world in report.distribution:
            literals = [b.sentence.z3 if w else z3.Not(b.sentence.z3) for b, (w, _) in zip(report.bets, world,
                                                                                          strict=True)]
            assert solver.check(*literals) == z3.sat
    else:
        assert report.verdict is Verdict.INCOHERENT
        book = report.dutch_book
        payoff = z3.Sum([z3.RealVal(p.stake) * (z3.If(p.bet.sentence.z3, z3.RealVal(1), z3.RealVal(0))
                                                - z3.RealVal(p.bet.price)) for p in book.positions])
        assert book.guaranteed_profit > 0
        assert solver.check(payoff < z3.RealVal(book.guaranteed_profit)) == z3.unsat


@pytest.mark.parametrize(("dem", "rep", "profit"), [
    ("0.43000000000000005", "0.5700000000000001", Fraction(3, 20000000000000000)),
    ("0.52", "0.48000000000000004", Fraction(1, 25000000000000000)),
    ("0.52", "0.48", Fraction(0)),
])
def test_two_exclusive_sentences_get_the_exact_verdict(dem, rep, profit):
    d, r = atoms("dem rep")
    theory = Theory([exactly_one(d, r)])
    report = check_coherence({d: dem, r: rep}, theory)
    assert report.verdict is (Verdict.INCOHERENT if profit else Verdict.COHERENT)
    assert report.within_tolerance is True and report.tolerance == 1e-9
    if profit:
        assert report.dutch_book.guaranteed_profit == profit and report.max_profit == float(profit)
        assert {p.side for p in report.dutch_book.positions} == {"sell"}
        _assert_book_never_loses(report, theory)
        assert sum(report.nearest_prices) == pytest.approx(1, abs=1e-15)
        assert "within tolerance: incoherent by" in report.summary()
        strict = check_coherence({d: dem, r: rep}, theory, tolerance=0)
        assert strict.verdict is Verdict.INCOHERENT and strict.within_tolerance is False
        assert "within tolerance" not in strict.summary()
        assert report.to_dict()["within_tolerance"] is True
    else:
        _assert_distribution_reproduces(report)


def test_conditional_price_printed_to_17_digits_is_exactly_incoherent():
    a, b = atoms("a b")
    third = f"{1 / 3:.17g}"  # 0.33333333333333331, a hair below 1/3
    report = check_coherence({a & b: "0.1", b: "0.3"}, conditional={(a, b): third})
    assert report.verdict is Verdict.INCOHERENT and report.within_tolerance is True
    _assert_book_never_loses(report)
    exact = check_coherence({a & b: "0.1", b: "0.3"}, conditional={(a, b): "1/3"})
    assert exact.verdict is Verdict.COHERENT


@pytest.mark.parametrize(("p_h", "p_not_e", "profit"), [
    ("0", "0.7", None),
    ("0", "0.70000000000000001", Fraction(1, 10**17)),  # the second layer, where P(H) = 0, is a hair off
    ("1e-17", "0.7", None),
    ("1e-17", "0.70000000000000001", Fraction(1, 10**34)),
])
def test_conditional_prices_on_a_nearly_null_condition_get_the_exact_verdict(p_h, p_not_e, profit):
    h, e = atoms("H E")
    report = check_coherence({h: p_h}, conditional={(e, h): "0.3", (~e, h): p_not_e})
    if profit is None:
        assert report.verdict is Verdict.COHERENT
    else:
        assert report.verdict is Verdict.INCOHERENT and report.dutch_book.guaranteed_profit == profit
        _assert_book_never_loses(report)


def test_price_a_hair_outside_unit_interval_is_noise_not_bad_input():
    a, b = atoms("a b")
    report = check_coherence({a: 1.0000000000000002, b: -1e-17})
    assert report.verdict is Verdict.INCOHERENT and report.within_tolerance is True
    assert report.dutch_book.guaranteed_profit == Fraction(2, 10**16) + Fraction(1, 10**17)
    _assert_book_never_loses(report)
    assert any("1.0000000000000002, outside [0, 1]" in note for note in report.notes)
    assert any("-1e-17, outside [0, 1]" in note for note in report.notes)
    with pytest.raises(DeclarationError, match=r"must lie in \[0, 1\]"):
        check_coherence({a: 1.0000000000000002}, tolerance=0)
    with pytest.raises(DeclarationError, match="tolerance 1e-09"):
        check_coherence({a: 1.01})


@pytest.mark.parametrize("tolerance", [-1e-9, 1, float("nan"), "small", True])
def test_bad_tolerance_is_rejected(tolerance):
    (a,) = atoms("a")
    with pytest.raises(DeclarationError, match="tolerance"):
        check_coherence({a: 0.5}, tolerance=tolerance)


def test_incoherence_above_the_tolerance_is_not_within_it():
    a, b = atoms("a b")
    prices = {a: 0.6, b: 0.7, a & b: 0.2}
    assert check_coherence(prices).within_tolerance is False
    assert check_coherence(prices, tolerance=0.1).within_tolerance is True
    first = check_coherence(prices, profit="first", tolerance=0.5)
    assert first.within_tolerance in (True, None)  # the bounds decide it only when they lie below 0.5


def test_face_prices_at_8_to_14_atoms_agree_with_exact_brute_force():
    """Float mixtures of 2-4 worlds printed to 17 digits: the verdict and profit are exactly brute force's."""
    from deepmarkets.logic.testing import brute_force_max_profit, random_face_instance

    rng = np.random.default_rng(20260612)
    verdicts = {Verdict.COHERENT: 0, Verdict.INCOHERENT: 0}
    for _ in range(24):
        n = int(rng.integers(8, 15))
        inst = random_face_instance(n, n, 2.0, worlds=int(rng.integers(2, 5)), rng=rng)
        report = check_coherence(inst.price_map, inst.theory)
        exact = brute_force_max_profit(inst.price_map, inst.theory)
        assert report.verdict is (Verdict.COHERENT if exact == 0 else Verdict.INCOHERENT), inst
        verdicts[report.verdict] += 1
        if exact:
            assert report.dutch_book.guaranteed_profit == exact and report.max_profit == float(exact)
            assert report.within_tolerance is True
            _assert_book_never_loses(report, inst.theory)
        else:
            _assert_distribution_reproduces(report)
    assert min(verdicts.values()) >= 3  # both verdicts occur at the boundary


# instances that the floating-point master cannot decide (two incoherent, two coherent)
@pytest.mark.parametrize(("n_atoms", "n_sentences", "seed"), [(40, 40, 1), (100, 30, 5), (200, 30, 3), (200, 30, 6)])
def test_face_prices_at_40_to_200_atoms_are_never_unknown(n_atoms, n_sentences, seed):
    from deepmarkets.logic.testing import random_face_instance

    inst = random_face_instance(n_atoms, n_sentences, 2.0, worlds=3, rng=seed)
    report = check_coherence(inst.price_map, inst.theory)
    assert report.verdict is not Verdict.UNKNOWN
    _assert_certified_with_z3(report, inst.theory)


@pytest.mark.slow
def test_face_prices_at_8_to_200_atoms_many_instances():
    from deepmarkets.logic.testing import brute_force_max_profit, random_face_instance

    rng = np.random.default_rng(20260613)
    for _ in range(20):
        n = int(rng.integers(8, 201))
        inst = random_face_instance(n, min(n, 40), 2.0, worlds=int(rng.integers(2, 5)), rng=rng)
        report = check_coherence(inst.price_map, inst.theory)
        assert report.verdict is not Verdict.UNKNOWN
        _assert_certified_with_z3(report, inst.theory)
        if n <= 16:
            exact = brute_force_max_profit(inst.price_map, inst.theory)
            assert report.coherent is (exact == 0)


def test_a_price_repeated_exactly_is_one_security_for_the_brute_force_oracle_too():
    from deepmarkets.logic.testing import brute_force_max_profit

    prices = [("a", "0.6"), ("a", "0.6"), ("~a", "0.6")]
    report = check_coherence(prices)
    # sell a and ~a once each: 1.2 in, 1 out in every world; a second sale of the repeat is not a second security
    assert brute_force_max_profit(prices) == Fraction(1, 5) == report.dutch_book.guaranteed_profit
    assert brute_force_max_profit([("a", "0.6"), ("a", "0.7"), ("~a", "0.6")]) > Fraction(1, 5)
