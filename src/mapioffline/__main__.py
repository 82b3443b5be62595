"""Command line: ``python -m mapioffline {demo,info,bench,bridge,state,watch,set-state,addin}`` (also installed as
``mapioffline``).

demo, info and bench each have two functions here: ``_add_<command>`` declares its arguments and exit statuses,
``_run_<command>`` carries it out and returns the exit status. The bridge's commands (bridge, state, watch,
set-state, addin) live in ``_bridge_cli``, in the same way. ``main`` runs every one of them through
``_cli.run``, the one error path."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mapioffline import __version__, _cli, _core
from mapioffline._cli import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_NO_PUBLISHER, EXIT_OK, EXIT_PUBLISHER_GONE, EXIT_USAGE

PROG = _cli.PROG

#: The statuses any command can end with (the top-level --help and the README's "Command line" section); each
#: command's --help lists its own.
EXIT_STATUSES = _cli.exit_statuses(
    _cli.STATUS_MEANINGS,
    {EXIT_NO_PUBLISHER: "state, watch, set-state",
     EXIT_PUBLISHER_GONE: "state, watch (within a second, unless --wait), set-state"},
)

_LOCAL = (EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED)


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = _cli.add_command(
        commands, "demo", run=_run_demo, statuses=_LOCAL, extra={EXIT_ERROR: "or a notification was missed"},
        help="toggle the embedded object's state and show every notification as each consumer gets it",
        description="Opens the embedded offline object, advises a blocking, a callback and an asyncio consumer, "
        "toggles the state (blocking and non-blocking), prints every notification with its delivery latency, "
        "then a summary.",
    )
    demo.add_argument("--json", action="store_true",
                      help="print JSON lines instead of text: one per notification (every field, the step and "
                      "set_state it belongs to, the consumer, the latency), then a summary")
    demo.add_argument("--profile", default="mapioffline-demo", help="embedded profile name (default: %(default)s)")


def _run_demo(args: argparse.Namespace) -> int:
    from mapioffline._demo import run_demo

    return run_demo(profile=args.profile, as_json=args.json)


def _add_info(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    info = _cli.add_command(
        commands, "info", run=_run_info, statuses=_LOCAL,
        help="versions, platform, ABI facts and which backends this process can use",
        description="Prints the package and core versions, the platform, ABI facts (struct sizes, field offsets, "
        "IIDs) and which backends are available in this process, and why not.",
    )
    info.add_argument("--json", action="store_true", help="print the same facts as one JSON object")


def _run_info(args: argparse.Namespace) -> int:
    from mapioffline._demo import print_info

    return print_info(as_json=args.json)


def _add_bench(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = _cli.add_command(
        commands, "bench", run=_run_bench, statuses=_LOCAL,
        help="a quick benchmark (< 60 s) of the headline figures against baselines",
        description="Measures delivery throughput, wake-up latency and Notify cost against baselines "
        "(a ctypes Python-callback sink, queue.SimpleQueue, a native condition variable) in one run and prints "
        "a table with ratios. Every delivery rate says how many records its run dropped.",
    )
    bench.add_argument("--json", metavar="FILE",
                       help="also write the results as JSON to FILE; '-' writes them to stdout and the table to stderr")
    bench.add_argument("--plot", metavar="FILE.png",
                       help="draw the results (needs matplotlib: pip install 'mapioffline[bench]')")
    bench.add_argument("--quick", action="store_true", help="a shorter, noisier run (for smoke tests)")


def _run_bench(args: argparse.Namespace) -> int:
    from mapioffline.bench.inprocess import run_bench

    return run_bench(json_path=args.json, plot_path=args.plot, quick=args.quick)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The Outlook Offline State API from Python, with an embedded offline object for any OS. "
        "A command-line process is never inside Outlook: demo, info and bench use the embedded object; bridge, "
        "state, watch and set-state reach a publisher in another process (the Outlook add-in, or `bridge publish`).",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version",
                        version=f"{PROG} {__version__} (core {_core.CORE_VERSION}, header {_core.HEADER_VERSION})",
                        help="print the package, core and header versions and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (_add_demo, _add_info, _add_bench):
        add(commands)
    from mapioffline._bridge_cli import add_commands

    add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status (see EXIT_STATUSES)."""
    return _cli.run(_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
