"""One front door for inference on a book of reports: :func:`infer`.

``infer(book)`` reads the book (a :class:`~deepmarkets.beliefs.Book`, a pandas DataFrame, or a
file), chooses the model (Dawid–Skene, latent class analysis or forecasts) unless told, checks
that the model can be identified from the book, and fits it by EM (:func:`fit_em`) or by NUTS
started from EM (:func:`fit_nuts`). ``infer(cases, market=m, method="nuts")`` samples the
posterior over the state of a latent market ``m`` given its resolved cases
(:func:`~deepmarkets.models.infer_market.infer_market`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deepmarkets.errors import BookError, InferenceError
from deepmarkets.helpers import as_rng
from deepmarkets.models.data import Reports
from deepmarkets.models.fit import MODELS, LatentClassFit

if TYPE_CHECKING:
    from deepmarkets.models.infer_market import MarketPosterior

__all__ = ["infer", "reports_of", "choose_model", "METHODS"]

#: How a model is fitted.
METHODS: dict[str, str] = {
    "em": "maximum likelihood by EM with seeded restarts",
    "nuts": "posterior by NUTS (PyMC's sampler or another backend), started from the EM optimum, chains aligned to "
            "its labelling",
    "advi": "approximate posterior by minibatch ADVI (PyMC), started from the EM optimum, for books too large for NUTS",
}


def reports_of(book: Any, *, wide: bool = False, repeats: bool = False) -> Reports:
    """Encode a book given as a Book, a DataFrame, a file path or a Reports.

    Parameters
    ----------
    book : Book, pandas.DataFrame, str, os.PathLike or Reports
        A reports :class:`~deepmarkets.beliefs.Book`; a DataFrame in long layout
        (``question, trader, answer`` and/or ``probability``, aliases accepted) or wide layout
        (``wide=True``: one row per question, one column per trader); a path read with
        :meth:`Book.read <deepmarkets.beliefs.Book.read>` (CSV, Parquet, JSON lines), or with
        pandas as a CSV of text cells when ``wide=True``.
    wide : bool, default False
    repeats : bool, default False
        Accept several reports of one trader on one question (see :meth:`Reports.from_book`).

    Returns
    -------
    Reports

    Raises
    ------
    BookError
        For a trades book, a missing file, or a table that is not a reports book.

    Examples
    --------
    >>> import pandas as pd
    >>> reports_of(pd.DataFrame({"A": ["x", "y"], "B": ["x", "x"]}), wide=True).n_answers
    4
    """
    from deepmarkets.beliefs.book import Book

    if isinstance(book, Reports):
        return book
    if isinstance(book, Book):
        if wide:
            raise BookError("wide=True applies to a DataFrame or a CSV file; a Book is always long "
                            "(one row per report): drop wide=True")
        return Reports.from_book(book, repeats=repeats)
    if isinstance(book, str | os.PathLike):
        path = Path(book)
        if not wide:
            return Reports.from_book(Book.read(path, kind="reports"), repeats=repeats)
        if not path.exists():
            raise BookError(f"{path}: no such file; check the path (the working folder is {os.getcwd()})")
        if path.is_dir():
            raise BookError(f"{path}: is a folder, not a file; give the path of a wide CSV file")
        import pandas as pd

        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=True,
                                compression="infer")
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as err:
            raise BookError(f"{path}: cannot read it as a wide CSV table ({type(err).__name__}: {err}); expected a "
                            f"header with one column per trader (and optionally a question column)") from None
        frame = frame.replace("", np.nan)
        return Reports.from_frame(frame, wide=True)
    import pandas as pd

    if isinstance(book, pd.DataFrame):
        return Reports.from_frame(book, wide=wide, repeats=repeats)
    raise BookError(
        f"infer takes a reports Book, a pandas DataFrame or a file path, got a {type(book).__name__}; "
        f"for a list of dicts use Book.from_records(records, kind='reports')"
    )


def choose_model(reports: Reports, *, classes: int | None = None, model: str | None = None) -> str:
    """The model :func:`infer` fits when ``model`` is None.

    ``"forecast"`` for a book with probabilities and no answers; ``"lca"`` when ``classes`` is
    given; otherwise ``"dawid-skene"`` (the classes are the answer labels).

    Examples
    --------
    >>> import pandas as pd
    >>> r = Reports.from_frame(pd.DataFrame({"A": ["x", "y"], "B": ["x", "x"]}), wide=True)
    >>> choose_model(r), choose_model(r, classes=3)
    ('dawid-skene', 'lca')
    """
    if model is not None:
        if model not in MODELS:
            raise InferenceError(
                f"model={model!r} is not a latent class model; expected one of {sorted(MODELS)} or None "
                f"(chosen from the book: 'forecast' for probabilities only, 'lca' when classes is given, else "
                f"'dawid-skene')"
            )
        return model
    has_answers = bool((reports.answer >= 0).any())
    if reports.probability is not None and not has_answers:
        return "forecast"
    if classes is not None:
        return "lca"
    return "dawid-skene"


def infer(book: Any, *, classes: int | None = None, model: str | None = None, method: str = "em",
          wide: bool = False, restarts: int = 10, draws: int = 1000, tune: int = 1000, chains: int = 4,
          rng: int | np.random.Generator | None = None, progressbar: bool = True,
          repeats: bool = False, market: Any = None, scheduler: Any = None, backend: str = "pymc",
          batch_size: int | None = None, iterations: int | None = None) -> LatentClassFit | MarketPosterior:
    """Infer the hidden truth behind a book of reports, and each trader's reliability.

    Parameters
    ----------
    book : Book, pandas.DataFrame, str, os.PathLike or Reports
        The reports (see :func:`reports_of`).
    classes : int, optional
        Number of latent classes K (latent class analysis). Leave None for Dawid–Skene (the
        classes are the answer labels) and for forecasts (2 classes).
    model : {"lca", "dawid-skene", "forecast"}, optional
        Chosen from the book when None (see :func:`choose_model`).
    method : {"em", "nuts", "advi"}, default "em"
        ``"em"``: maximum likelihood with ``restarts`` seeded starts. ``"nuts"``: the posterior
        by NUTS with ``draws``, ``tune`` and ``chains``, started from the EM fit.
        ``"advi"``: an approximate posterior by minibatch ADVI (``batch_size``, ``iterations``;
        ``draws`` from the approximation), started from the EM fit
        (:func:`~deepmarkets.models.advi.fit_advi`).
    wide : bool, default False
        The DataFrame or CSV file has one row per question and one column per trader.
    restarts : int, default 10
        EM starts.
    draws, tune, chains : int
        NUTS settings (``method="nuts"`` only; ``draws`` also for ``"advi"``).
    rng : int, numpy.random.Generator or None
        Seed for the EM starts and the sampler.
    progressbar : bool, default True
        Show progress bars.
    repeats : bool, default False
        Accept several reports of one trader on one question (replicate ratings, each counted
        as evidence); without it they are a :class:`~deepmarkets.errors.BookError`.
    scheduler : None, str or distributed.Client
        Partitioned books only (``book`` a Dask DataFrame or a folder of Parquet files, fitted by
        :func:`~deepmarkets.models.partitioned.fit_partitioned` with ``method="em"``; the result
        is then a :class:`~deepmarkets.models.partitioned.PartitionedFit`): a scheduler address
        connects a ``distributed.Client`` to it; None uses an active Client, else a local cluster
        for books of 10^7 rows or more, else the single-process synchronous scheduler.
    market : LatentMarket, optional
        Infer the state of this latent market instead: ``book`` is then its resolved cases (see
        :meth:`~deepmarkets.models.latent_market.LatentMarket.encode`), ``method`` must be
        ``"nuts"``, the market declares the classes and the model, and ``draws``, ``tune``,
        ``chains``, ``rng``, ``progressbar`` and ``backend`` apply (see
        :func:`~deepmarkets.models.infer_market.infer_market`).
    backend : {"pymc", "nutpie", "numpyro", "blackjax"}, default "pymc"
        The NUTS sampler (``method="nuts"``; see :data:`~deepmarkets.models.nuts.BACKENDS`):
        ``"nutpie"`` is the fast CPU path (``pip install 'deepmarkets[nutpie]'``), ``"numpyro"``
        and ``"blackjax"`` run on a GPU when JAX sees one (``pip install 'deepmarkets[jax]'``).
    batch_size : int, optional
        ``method="advi"``: answer patterns per optimisation step (default
        :data:`~deepmarkets.models.advi.DEFAULT_BATCH`, or all when fewer).
    iterations : int, optional
        ``method="advi"``: optimisation steps (default 10000).

    Returns
    -------
    LatentClassFit
        Or, with ``market``, a :class:`~deepmarkets.models.infer_market.MarketPosterior`.

    Raises
    ------
    BookError
        For a book that cannot be read as reports.
    InferenceError
        For an unknown model or method, and for a model that the book cannot identify: one
        question, one trader answering each question once, more classes than questions, more
        parameters than possible answer patterns, NaN probabilities in a forecast book.

    Warns
    -----
    UserWarning
        When the parameters outnumber the distinct answer patterns seen (some are then not
        determined), when probabilities of exactly 0 or 1 are moved inside (0, 1), and when
        NUTS diagnostics fail.

    Examples
    --------
    >>> from deepmarkets.models.simulate import simulate_reports
    >>> book, truth, _ = simulate_reports(200, 5, classes=2, model="dawid-skene", rng=0)
    >>> fit = infer(book, rng=0, progressbar=False)
    >>> fit.model, fit.classes.tolist()
    ('dawid-skene', ['1', '2'])
    >>> float((fit.labels()["label"].astype(int) - 1 == truth).mean())  # the truth of question q is label truth[q] + 1
    1.0
    """
    if method not in METHODS:
        raise InferenceError(f"method={method!r}; expected one of {sorted(METHODS)} "
                             f"({'; '.join(f'{k}: {v}' for k, v in METHODS.items())})")
    if not isinstance(wide, bool | np.bool_):
        raise InferenceError(f"wide={wide!r}; expected True or False")
    if backend != "pymc" and method != "nuts":
        raise InferenceError(f"backend={backend!r} with method={method!r}; a backend chooses the NUTS sampler: "
                             f"pass method='nuts', or leave backend out")
    for name, value in (("batch_size", batch_size), ("iterations", iterations)):
        if value is not None and method != "advi":
            raise InferenceError(f"{name}={value!r} with method={method!r}; {name} is a setting of method='advi': "
                                 f"pass it, or leave {name} out")
    if method == "nuts":
        from deepmarkets.models.nuts import check_backend

        check_backend(backend)  # before any work: a missing extra is said at once
    if market is not None:
        return _infer_market(book, market, method=method, classes=classes, model=model, wide=wide, repeats=repeats,
                             draws=draws, tune=tune, chains=chains, rng=rng, progressbar=progressbar, backend=backend)
    from deepmarkets.models.partitioned import is_partitioned_book

    if is_partitioned_book(book) and not wide:
        if method != "em":
            raise InferenceError(f"method={method!r} on a partitioned book (a Dask DataFrame or a folder); it is "
                                 f"fitted by map-reduce EM only: pass method='em', or load a book that fits in "
                                 f"memory as a pandas DataFrame")
        from deepmarkets.models.partitioned import fit_partitioned

        return fit_partitioned(book, model=model, classes=classes, restarts=restarts, rng=rng, repeats=bool(repeats),
                               scheduler=scheduler, progressbar=progressbar)
    if scheduler is not None:
        raise InferenceError(f"scheduler={scheduler!r} applies to a partitioned book (a Dask DataFrame or a folder of "
                             f"Parquet files); this book is fitted in memory: leave scheduler out")
    reports = reports_of(book, wide=bool(wide), repeats=bool(repeats))
    model = choose_model(reports, classes=classes, model=model)
    from deepmarkets.models.em import check_identifiable, fit_em
    from deepmarkets.models.nuts import _IDENTIFIABILITY_WARNINGS

    if model == "forecast" and reports.probability is None:
        raise InferenceError("model='forecast' needs probabilities, but the book has a categorical answer column "
                             "only; use model='dawid-skene' or model='lca' (with classes=K)")
    check_identifiable(reports, model=model, classes=classes)  # raises, or warns once, before any work
    gen = as_rng(rng)
    with warnings.catch_warnings():
        for said in _IDENTIFIABILITY_WARNINGS:  # check_identifiable gave them above; the fits would repeat them
            warnings.filterwarnings("ignore", message=said)
        start = fit_em(reports, model=model, classes=classes, restarts=restarts, rng=gen,
                       progressbar=progressbar)
        if method == "em":
            return start
        if method == "advi":
            from deepmarkets.models.advi import fit_advi

            return fit_advi(reports, model=model, classes=classes, batch_size=batch_size,
                            iterations=10_000 if iterations is None else iterations, draws=draws, start=start,
                            rng=gen, progressbar=progressbar)
        from deepmarkets.models.nuts import fit_nuts

        return fit_nuts(reports, model=model, classes=classes, draws=draws, tune=tune, chains=chains,
                        start=start, rng=gen, progressbar=progressbar, backend=backend)


def _infer_market(cases: Any, market: Any, *, method: str, classes: Any, model: Any, wide: bool, repeats: bool,
                  draws: int, tune: int, chains: int, rng: Any, progressbar: bool, backend: str) -> MarketPosterior:
    """``infer(cases, market=...)``: the posterior over a latent market's state (NUTS only)."""
    from deepmarkets.models.infer_market import infer_market

    if method != "nuts":
        raise InferenceError(f"method={method!r} with market=; the state of a latent market is inferred by NUTS: "
                             f"pass method='nuts'")
    given = [name for name, value in (("classes", classes), ("model", model)) if value is not None]
    given += [name for name, value in (("wide", wide), ("repeats", repeats)) if value]
    if given:
        raise InferenceError(f"{', '.join(given)} given with market=; the market declares its hidden states and "
                             f"observables and reads its own cases: leave {', '.join(given)} out")
    return infer_market(market, cases, draws=draws, tune=tune, chains=chains, rng=rng, progressbar=progressbar,
                        backend=backend)
