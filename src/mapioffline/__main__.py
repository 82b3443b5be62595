"""Command line: ``python -m mapioffline {demo,info,bench,bridge,state,watch,addin}`` (also installed as ``mapioffline``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from mapioffline import MapiError

PROG = "mapioffline"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The Outlook Offline State API from Python, with an embedded offline object for any OS. "
        "A command-line process is never inside Outlook: demo, info and bench use the embedded object; bridge, "
        "state and watch reach a publisher in another process (the Outlook add-in, or `bridge publish`).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo = commands.add_parser(
        "demo",
        help="toggle the embedded object's state and show every notification as each consumer gets it",
        description="Opens the embedded offline object, advises a blocking, a callback and an asyncio consumer, "
        "toggles the state (blocking and non-blocking), prints every notification with its delivery latency, "
        "then a summary.",
    )
    demo.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    demo.add_argument("--profile", default="mapioffline-demo", help="embedded profile name (default: %(default)s)")
    commands.add_parser(
        "info",
        help="versions, platform, ABI facts and which backends this process can use",
        description="Prints the package and core versions, the platform, ABI facts (struct sizes, IIDs) and "
        "which backends are available in this process, and why not.",
    )
    bench = commands.add_parser(
        "bench",
        help="a quick benchmark (< 60 s) of the headline figures against baselines",
        description="Measures delivery throughput, wake-up latency and Notify cost against baselines "
        "(a ctypes Python-callback sink, queue.SimpleQueue, a native condition variable) in one run and prints "
        "a table with ratios.",
    )
    bench.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    bench.add_argument("--plot", metavar="FILE.png", help="draw the results (needs matplotlib: the 'bench' extra)")
    bench.add_argument("--quick", action="store_true", help="a shorter, noisier run (for smoke tests)")
    from mapioffline._bridge_cli import add_commands

    add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command in ("bridge", "state", "watch", "addin"):
        from mapioffline._bridge_cli import run

        return run(args)
    try:
        if args.command == "demo":
            from mapioffline._demo import run_demo

            return run_demo(profile=args.profile, as_json=args.json)
        if args.command == "info":
            from mapioffline._demo import print_info

            return print_info()
        from mapioffline._bench import run_bench

        return run_bench(json_path=args.json, plot_path=args.plot, quick=args.quick)
    except BrokenPipeError:
        # The reader went away (`... | head -1`): that is how a pipeline ends, not an error. Point stdout at
        # /dev/null so that the interpreter's final flush does not complain again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (MapiError, ValueError, OSError, ImportError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
