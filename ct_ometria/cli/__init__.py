"""``ct-ometria``: run syncs through Dagster, serve the local sandbox, run the demo."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable

from ct_ometria.errors import ConfigError, CtOmetriaError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from None


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="ct-ometria", description="commercetools to Ometria, through Dagster.")
    commands = root.add_subparsers(dest="command", required=True)

    sync = commands.add_parser("sync", help="sync the days START..END (inclusive, UTC): one Dagster run per "
                               "sync.days_per_run days (7 by default)")
    sync.add_argument("--start", type=_date, required=True, metavar="YYYY-MM-DD")
    sync.add_argument("--end", type=_date, required=True, metavar="YYYY-MM-DD")
    sync.add_argument("--dry-run", action="store_true", help="report what would be sent; push nothing, touch no ledger")
    sync.add_argument("--days-per-run", type=int, default=None, metavar="N",
                      help="one run per N days (default: sync.days_per_run of the mapping config): memory holds "
                      "N days at a time")
    sync.add_argument("--workers", type=int, default=1, metavar="W",
                      help="run W of those runs at once as separate processes (default 1)")

    letters = commands.add_parser("dead-letters", help="records that could not go to Ometria")
    letter_commands = letters.add_subparsers(dest="letters_command", required=True)
    listing = letter_commands.add_parser("list", help="open dead letters (no payloads: they may hold personal data)")
    listing.add_argument("--type", dest="record_type")
    listing.add_argument("--include-resolved", action="store_true")
    replay = letter_commands.add_parser("replay", help="re-read, re-validate and resend dead letters through Dagster")
    replay.add_argument("--type", dest="record_type")
    replay.add_argument("--id", dest="record_ids", action="append", default=[])
    replay.add_argument("--all", action="store_true")

    sandbox = commands.add_parser("sandbox", help="serve the local Ometria sandbox on 127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8080, help="0 picks a free port (default 8080)")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--latency-ms", type=int, default=0, help="delay every push answer by this much (benchmarks)")
    sandbox.add_argument(
        "--api-key-env",
        default="OMETRIA_API_KEY",
        help="the environment variable holding the API key clients must send (default OMETRIA_API_KEY)",
    )

    collector = commands.add_parser("collector", help="serve POST /events for storefront signals (127.0.0.1:8787)")
    collector.add_argument("--host", default=None, help="default CT_OMETRIA_COLLECTOR_HOST or 127.0.0.1")
    collector.add_argument("--port", type=int, default=None, help="default CT_OMETRIA_COLLECTOR_PORT or 8787; 0 picks one")

    demo = commands.add_parser("demo", help="emulator + sandbox + a sample store + the Dagster UI on 127.0.0.1:3000")
    demo.add_argument("--customers", type=int, default=300)
    demo.add_argument("--days", type=int, default=3)
    demo.add_argument("--headless", action="store_true", help="run the backfill here, print a summary and exit")
    demo.add_argument("--port", type=int, default=3000, help="the Dagster UI's port (default 3000)")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return guarded(lambda: _command(args))


def guarded(command: Callable[[], int]) -> int:
    """``command``'s exit status; a configuration or API error it raises is one line on stderr, not a traceback."""
    try:
        return command()
    except ConfigError as error:
        print(f"ct-ometria: configuration error: {error}", file=sys.stderr)
        return 2
    except CtOmetriaError as error:  # an API refused or could not be reached before any run started
        print(f"ct-ometria: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _command(args: argparse.Namespace) -> int:
    if args.command == "sync":
        from ct_ometria.cli.sync import sync_command

        return sync_command(args.start, args.end, args.dry_run, args.days_per_run, args.workers)
    if args.command == "dead-letters":
        from ct_ometria.cli.dead_letters import list_command, replay_command

        if args.letters_command == "list":
            return list_command(args.record_type, args.include_resolved)
        return replay_command(args.record_type, args.record_ids, args.all)
    if args.command == "sandbox":
        from ct_ometria.cli.sandbox import sandbox_command

        return sandbox_command(args.host, args.port, args.api_key_env, args.latency_ms)
    if args.command == "collector":
        from ct_ometria.cli.collector import collector_command

        return collector_command(args.host, args.port)
    if args.command == "demo":
        from ct_ometria.cli.demo import demo_command

        return demo_command(customers=args.customers, days=args.days, headless=args.headless, port=args.port)
    return 2


if __name__ == "__main__":
    sys.exit(main())
