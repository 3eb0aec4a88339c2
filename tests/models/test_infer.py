"""The infer() front door: reading books in every form, choosing the model, and refusing what cannot be identified."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepmarkets.beliefs import Book
from deepmarkets.errors import BookError, DeclarationError, InferenceError
from deepmarkets.models.data import Reports
from deepmarkets.models.infer import choose_model, infer, reports_of
from deepmarkets.models.simulate import simulate_reports

DATA = Path(__file__).parents[2].parent / "shared" / "data"


def _ds_frame(n: int = 60, rng: int = 0) -> pd.DataFrame:
    return simulate_reports(n, 4, classes=2, model="dawid-skene", rng=rng)[0].frame[["question", "trader", "answer"]]


def _quiet(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return infer(progressbar=False, **kwargs)


# ---------------------------------------------------------------------------
# dispatch
# ---------------------------------------------------------------------------


def test_model_is_chosen_from_the_book():
    frame = _ds_frame()
    fit = infer(frame, rng=0, progressbar=False)
    assert fit.model == "dawid-skene" and fit.method == "em"
    assert fit.classes.tolist() == ["1", "2"]
    fit = infer(frame, classes=2, rng=0, progressbar=False)
    assert fit.model == "lca"
    forecasts = simulate_reports(80, 4, classes=2, model="forecast", rng=1)[0]
    fit = infer(forecasts, rng=0, progressbar=False)
    assert fit.model == "forecast" and fit.mean.shape == (4, 2)
    # explicit model wins
    assert infer(frame, model="lca", classes=2, rng=0, progressbar=False).model == "lca"
    both = Reports.from_frame(pd.DataFrame({"question": ["a", "a", "b", "b"], "trader": ["x", "y", "x", "y"],
                                            "answer": ["1", "1", "2", None], "probability": [0.9, 0.8, 0.1, 0.2]}))
    assert choose_model(both) == "dawid-skene" and choose_model(both, classes=2) == "lca"


def test_every_form_of_book_gives_the_same_fit(tmp_path):
    frame = _ds_frame()
    path = tmp_path / "book.csv"
    frame.rename(columns={"question": "item", "trader": "worker", "answer": "label"}).to_csv(path, index=False)
    wide = frame.pivot(index="question", columns="trader", values="answer").reset_index()
    wide_path = tmp_path / "wide.csv"
    wide.to_csv(wide_path, index=False)
    fits = [
        infer(frame, rng=3, progressbar=False),
        infer(Book.from_frame(frame, kind="reports"), rng=3, progressbar=False),
        infer(path, rng=3, progressbar=False),
        infer(str(path), rng=3, progressbar=False),
        infer(Reports.from_frame(frame), rng=3, progressbar=False),
        infer(wide, wide=True, rng=3, progressbar=False),
        infer(wide_path, wide=True, rng=3, progressbar=False),
    ]
    for fit in fits[1:]:
        assert fit.loglik == pytest.approx(fits[0].loglik, abs=1e-9)
        assert np.allclose(fit.class_shares, fits[0].class_shares, atol=1e-9)
    assert sorted(fits[-1].reports.questions.tolist()) == sorted(fits[0].reports.questions.tolist())


def test_same_seed_same_fit():
    frame = _ds_frame()
    a = infer(frame, classes=2, rng=5, progressbar=False)
    b = infer(frame, classes=2, rng=5, progressbar=False)
    assert a.loglik == b.loglik and np.array_equal(a.posterior, b.posterior)


def test_carcinoma_wide_file_matches_polca():
    path = DATA / "poLCA" / "carcinoma.csv"
    if not path.exists():
        pytest.skip("../shared/data/poLCA/carcinoma.csv is not present")
    fit = infer(path, wide=True, classes=2, rng=0, progressbar=False)
    assert fit.loglik == pytest.approx(-317.2568, abs=0.01)
    assert sorted(fit.class_shares) == pytest.approx([0.4988, 0.5012], abs=0.005)


def test_method_nuts_goes_through_em_and_nuts():
    frame = _ds_frame(120, rng=2)
    fit = _quiet(book=frame, method="nuts", draws=100, tune=100, chains=2, rng=0)
    assert fit.method == "nuts" and fit.model == "dawid-skene"
    assert fit.classes.tolist() == ["1", "2"]
    assert fit.idata is not None
    assert {"question", "trader", "class", "level"} <= set(fit.idata["posterior"].coords)
    em = infer(frame, rng=0, progressbar=False)
    assert np.abs(fit.class_shares - em.class_shares).max() < 0.08
    assert fit.diagnostics["chains"] == 2 and fit.diagnostics["draws"] == 100


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def test_unknown_model_or_method():
    frame = _ds_frame()
    with pytest.raises(InferenceError, match="model='mixture'.*expected one of"):
        infer(frame, model="mixture", progressbar=False)
    with pytest.raises(InferenceError, match="method='mcmc'.*expected one of \\['advi', 'em', 'nuts'\\]"):
        infer(frame, method="mcmc", progressbar=False)
    with pytest.raises(InferenceError, match="needs probabilities"):
        infer(frame, model="forecast", progressbar=False)


def test_one_trader_or_one_question_is_refused():
    one_trader = pd.DataFrame({"question": ["a", "b", "c"], "trader": "ann", "answer": ["1", "2", "1"]})
    with pytest.raises(InferenceError, match="one trader.*not identifiable"):
        infer(one_trader, classes=2, progressbar=False)
    one_question = pd.DataFrame({"question": "a", "trader": ["ann", "bob", "cy"], "answer": ["1", "2", "1"]})
    with pytest.raises(InferenceError, match="one question"):
        infer(one_question, progressbar=False)


def test_too_many_classes_is_refused_or_warned():
    frame = _ds_frame(30)
    with pytest.raises(InferenceError, match="only 30 questions"):
        infer(frame, classes=31, progressbar=False)
    # 4 traders with 2 levels: 16 possible patterns, 15 degrees of freedom; K=4 needs 4 * 4 + 3 = 19 parameters
    with pytest.raises(InferenceError, match="not identifiable"):
        infer(frame, classes=4, progressbar=False)
    # K=2 has 9 parameters: identifiable in principle, but this book shows only 3 distinct patterns
    few = pd.DataFrame({t: ["1", "2", "1"] * 10 for t in "ABCD"})
    few.loc[2::3, "D"] = "2"
    with pytest.warns(UserWarning, match="only 3 distinct answer patterns"):
        infer(few, wide=True, classes=2, rng=0, progressbar=False)


def test_probabilities_nan_or_at_the_edges():
    book = simulate_reports(40, 3, classes=2, model="forecast", rng=0)[0].frame[["question", "trader", "probability"]]
    mixed = book.copy()
    mixed["answer"] = None
    mixed.loc[0, "probability"] = np.nan
    mixed.loc[0, "answer"] = "yes"
    with pytest.raises(InferenceError, match="NaN"):
        infer(mixed, model="forecast", progressbar=False)
    missing = book.copy()
    missing.loc[3, "probability"] = np.nan
    with pytest.raises(BookError, match="probability is missing"):
        infer(missing, progressbar=False)
    edge = book.copy()
    edge.loc[[1, 2], "probability"] = [0.0, 1.0]
    with pytest.warns(UserWarning, match="2 probabilities of exactly 0 or 1 moved by 1e-06"):
        fit = infer(edge, rng=0, progressbar=False)
    assert np.isfinite(fit.loglik)


def test_books_that_are_not_reports():
    trades = Book.from_records([{"trader": "a", "security": "x", "quantity": 1}])
    with pytest.raises(BookError, match="reports"):
        infer(trades, progressbar=False)
    with pytest.raises(BookError, match="got a list"):
        infer([{"question": "a"}], progressbar=False)
    with pytest.raises(BookError, match="no such file"):
        infer("/no/such/book.csv", progressbar=False)
    with pytest.raises(BookError, match="no such file"):
        infer("/no/such/wide.csv", wide=True, progressbar=False)
    with pytest.raises(BookError, match="wide=True"):
        reports_of(Book.from_frame(_ds_frame(), kind="reports"), wide=True)
    with pytest.raises(InferenceError, match="wide="):
        infer(_ds_frame(), wide="yes", progressbar=False)


# ---------------------------------------------------------------------------
# a latent market through the same front door
# ---------------------------------------------------------------------------
def _market_and_cases():
    from deepmarkets.models.latent_market import LatentMarket

    m = LatentMarket("m", latent=["a", "b"], observables={f"x{i}": ["0", "1"] for i in range(3)})
    truth = m.state_from(prior=[0.4, 0.6], tables=[[[0.9, 0.1], [0.2, 0.8]]] * 3)
    sim = m.simulate_informed_traders(truth, 4, 50, rounds=2, rng=0, progressbar=False)
    return m, m.decode(sim.cases)


def test_infer_with_a_market_is_the_market_posterior():
    m, cases = _market_and_cases()
    settings = dict(draws=100, tune=100, chains=1, rng=3, progressbar=False)
    front = infer(cases, market=m, method="nuts", **settings)
    direct = m.infer(cases, **settings)
    assert type(front).__name__ == "MarketPosterior" and front.latent.shape == (200, 2)
    # the same sampler with the same seed: the same draws
    draws = [p.fit.idata["posterior"]["class_share"].values for p in (front, direct)]
    assert np.array_equal(draws[0], draws[1])
    assert front.permutation == direct.permutation


def test_infer_with_a_market_refuses_what_does_not_apply():
    m, cases = _market_and_cases()
    with pytest.raises(InferenceError, match="method='em' with market=.*pass method='nuts'"):
        infer(cases, market=m, progressbar=False)
    with pytest.raises(InferenceError, match="classes, repeats given with market="):
        infer(cases, market=m, method="nuts", classes=2, repeats=True, progressbar=False)
    with pytest.raises(DeclarationError, match="market=str; expected a LatentMarket"):
        infer(cases, market="m", method="nuts", progressbar=False)
