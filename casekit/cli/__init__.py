"""The ``casekit`` command line (contract in ARCHITECTURE.md; keep it stable).

Each sub-command lives in a private module ``casekit.cli.<name>`` exposing
``add_arguments(parser)`` and ``run(args) -> int``. Errors are printed to stderr as one readable
line (``casekit <cmd>: error: ...``) and never as a bare traceback unless ``--debug`` is given;
every message goes through :func:`casekit.privacy.scrub_message` first (PII masked, control
characters escaped, at most 300 characters).
Exit codes: 0 success, 1 partial (e.g. rows quarantined), 2 unusable input or bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from casekit._utils import CasekitError, FileUnusableError

__all__ = ["main"]

_COMMANDS: dict[str, str] = {
    "synth": "generate a seeded synthetic district (events + truth file)",
    "validate": "check a case log; exit 0 all valid, 1 rows quarantined, 2 unusable",
    "network": "agency network edges (working together or handover)",
    "rank": "rank collaboration patterns by censoring-aware time to close or settle",
    "whatif": "run the what-if simulator for a scenario",
    "report": "HTML report on a case log",
    "partition": "write a log as a case-partitioned Parquet folder for Dask (logs beyond memory)",
    "demo": "run the whole kit on the synthetic district",
}


def _scrub(message: object) -> str:
    """Make an error message printable: PII masked, control characters escaped, cut.

    Cut at 800 characters: long enough for the hint that ends most messages (which option to
    use), short enough that a hostile header or cell cannot flood the terminal.
    """
    from casekit.privacy import scrub_message

    return scrub_message(message, max_chars=800)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's own convention)
        self.exit(2, f"{self.prog}: error: {_scrub(message)}\n")


def _build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    from casekit import __version__

    parser = _Parser(prog="casekit", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"casekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers = {}
    for name, help_text in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", help="show a traceback on errors")
        subparsers[name] = p
    return parser, subparsers


def _run_quiet(module: object, args: argparse.Namespace) -> int:
    """Run a command; Python warnings become one ``note:`` line each (no source path or code)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            return module.run(args)  # type: ignore[attr-defined, no-any-return]
        finally:
            seen = set()
            for w in caught:
                text = " ".join(str(w.message).split())[:300]
                if text not in seen:
                    seen.add(text)
                    print(f"casekit {args.command}: note: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``casekit`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, subparsers = _build_parser()
    command = next((a for a in argv if not a.startswith("-")), None)
    module = None
    if command in _COMMANDS:
        module = importlib.import_module(f"casekit.cli.{command}")
        module.add_arguments(subparsers[command])
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        from casekit.cli._common import check_options

        check_options(args)
        return int(_run_quiet(module, args) or 0)
    except (FileUnusableError, CasekitError) as exc:
        if args.debug:
            raise
        print(f"casekit {args.command}: error: {_scrub(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"casekit {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # never a bare traceback
        if args.debug:
            raise
        first = _scrub(str(exc).splitlines()[0]) if str(exc) else ""
        print(
            f"casekit {args.command}: error: unexpected {type(exc).__name__}: {first} "
            "(run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
