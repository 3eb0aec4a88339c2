"""Command line: ``deepmarkets check``, ``deepmarkets demo``.

Heavy modules (z3, scipy) are imported inside the commands so ``--help`` is instant.
Exit codes of ``check``: 0 coherent, 1 incoherent, 3 unknown, 2 bad input.
"""

from __future__ import annotations

import json
import sys

import click

from deepmarkets.errors import DeepMarketsError

EXIT_CODES = {"coherent": 0, "incoherent": 1, "unknown": 3}
BAD_INPUT = 2


class _Group(click.Group):
    def main(self, *args, **kwargs):
        kwargs.setdefault("standalone_mode", True)
        return super().main(*args, **kwargs)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="deepmarkets")
def cli() -> None:
    """deepmarkets: markets as models of intelligence.

    Check quoted prices for coherence and find Dutch books.
    """


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(BAD_INPUT)


@cli.command()
@click.argument("prices_csv", type=click.Path(dir_okay=False))
@click.option("--theory", "theory_txt", type=click.Path(dir_okay=False), help="One sentence per line.")
@click.option("--json", "as_json", is_flag=True, help="Print the report's to_dict() as JSON.")
@click.option("--first", is_flag=True, help="Stop at the first certified Dutch book (report profit bounds).")
@click.option("--time-limit", type=float, default=None, help="Seconds before answering UNKNOWN.")
def check(prices_csv: str, theory_txt: str | None, as_json: bool, first: bool, time_limit: float | None) -> None:
    """Check the prices in PRICES_CSV (columns sentence,price[,given]) for coherence.

    Exit status: 0 coherent, 1 incoherent, 3 unknown, 2 bad input.
    """
    from deepmarkets.logic import Theory, check_coherence
    from deepmarkets.logic.files import read_prices, read_theory

    try:
        prices, conditional = read_prices(prices_csv)
        theory = Theory(read_theory(theory_txt), source=theory_txt) if theory_txt else None
        report = check_coherence(
            prices, theory, conditional or None, profit="first" if first else "optimal",
            time_limit=time_limit, progressbar=sys.stderr.isatty() and not as_json,
        )
    except DeepMarketsError as err:
        _fail(str(err))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(report.summary())
    sys.exit(EXIT_CODES[report.verdict.value])


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
def demo(as_json: bool) -> None:
    """Run the built-in examples: an overpriced field of candidates and a logically related pair."""
    from deepmarkets.demo import run_demo

    run_demo(as_json=as_json)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``deepmarkets`` command."""
    try:
        cli.main(args=argv, prog_name="deepmarkets", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return BAD_INPUT
    except click.exceptions.Abort:
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else BAD_INPUT
    return 0
