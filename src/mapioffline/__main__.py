"""Command line: ``python -m mapioffline {demo,info,bench,bridge,state,watch,addin}`` (also installed as
``mapioffline``).

demo, info and bench each have two functions here: ``_add_<command>`` declares its arguments, ``_run_<command>``
carries it out and returns the exit status; ``main`` maps the errors they share to one line and an exit status.
The bridge's commands (bridge, state, watch, addin) live in ``_bridge_cli``, with their own exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from mapioffline import MapiError, __version__, _core

PROG = "mapioffline"

#: The exit statuses of every command (shown by --help and in the README's "Command line" section).
EXIT_STATUSES = """\
exit status:
  0    success (also when the reader of the output went away, as in `... | head -1`)
  1    a runtime error, reported on one line of stderr ("mapioffline: error: ..."): a MAPI error, a bad value,
       an I/O error, a missing optional extra; or `demo` missed a notification
  2    a command-line mistake (unknown command or option, bad argument), reported by argparse
  130  interrupted (Ctrl-C)"""

# The top-level --help also points at the bridge commands' own codes.
_ALL_EXIT_STATUSES = (EXIT_STATUSES + "\n  3, 4 bridge, state, watch: no publisher runs, the publisher went away "
                      "(see `bridge --help`)")

_Run = Callable[[argparse.Namespace], int]


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="toggle the embedded object's state and show every notification as each consumer gets it",
        description="Opens the embedded offline object, advises a blocking, a callback and an asyncio consumer, "
        "toggles the state (blocking and non-blocking), prints every notification with its delivery latency, "
        "then a summary.",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--json", action="store_true",
                      help="print JSON lines instead of text: one per notification (every field, the step and "
                      "set_state it belongs to, the consumer, the latency), then a summary")
    demo.add_argument("--profile", default="mapioffline-demo", help="embedded profile name (default: %(default)s)")
    demo.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from mapioffline._demo import run_demo

    return run_demo(profile=args.profile, as_json=args.json)


def _add_info(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    info = commands.add_parser(
        "info",
        help="versions, platform, ABI facts and which backends this process can use",
        description="Prints the package and core versions, the platform, ABI facts (struct sizes, field offsets, "
        "IIDs) and which backends are available in this process, and why not.",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    info.add_argument("--json", action="store_true", help="print the same facts as one JSON object")
    info.set_defaults(run=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    from mapioffline._demo import print_info

    return print_info(as_json=args.json)


def _add_bench(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = commands.add_parser(
        "bench",
        help="a quick benchmark (< 60 s) of the headline figures against baselines",
        description="Measures delivery throughput, wake-up latency and Notify cost against baselines "
        "(a ctypes Python-callback sink, queue.SimpleQueue, a native condition variable) in one run and prints "
        "a table with ratios. Every delivery rate says how many records its run dropped.",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("--json", metavar="FILE",
                       help="also write the results as JSON to FILE; '-' writes them to stdout and the table to stderr")
    bench.add_argument("--plot", metavar="FILE.png",
                       help="draw the results (needs matplotlib: pip install 'mapioffline[bench]')")
    bench.add_argument("--quick", action="store_true", help="a shorter, noisier run (for smoke tests)")
    bench.set_defaults(run=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    from mapioffline.bench.inprocess import run_bench

    return run_bench(json_path=args.json, plot_path=args.plot, quick=args.quick)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The Outlook Offline State API from Python, with an embedded offline object for any OS. "
        "A command-line process is never inside Outlook: demo, info and bench use the embedded object; bridge, "
        "state and watch reach a publisher in another process (the Outlook add-in, or `bridge publish`).",
        epilog=_ALL_EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version",
                        version=f"{PROG} {__version__} (core {_core.CORE_VERSION}, header {_core.HEADER_VERSION})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (_add_demo, _add_info, _add_bench):
        add(commands)
    from mapioffline._bridge_cli import add_commands

    add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status (see EXIT_STATUSES)."""
    args = _parser().parse_args(argv)
    run: _Run | None = getattr(args, "run", None)
    if run is None:  # a bridge command: _bridge_cli maps its own errors to its exit codes
        from mapioffline._bridge_cli import run as run_bridge_command

        return run_bridge_command(args)
    try:
        return run(args)
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
