"""The bridge's commands: ``bridge publish``, ``state`` and ``watch`` (wired into ``python -m mapioffline``)."""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
from typing import Any

from mapioffline import _bridge, open_offline
from mapioffline.errors import ClosedError, MapiError, NotFound

__all__ = ["add_commands", "run", "EXIT_CODES"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NO_PUBLISHER = 3
EXIT_PUBLISHER_GONE = 4
EXIT_INTERRUPTED = 130

EXIT_CODES = f"""exit codes:
  {EXIT_OK}    success (publish: stopped by SIGINT/SIGTERM)
  {EXIT_ERROR}    error (e.g. another live publisher already publishes the profile)
  {EXIT_USAGE}    bad command line
  {EXIT_NO_PUBLISHER}    no publisher runs for the profile (state, watch)
  {EXIT_PUBLISHER_GONE}    the publisher stopped or died while watching (watch without --wait), within a second
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C) while waiting (state, watch)"""


def add_commands(commands: Any) -> None:
    """Adds the bridge subcommands to the CLI's subparsers."""
    formatter = argparse.RawDescriptionHelpFormatter
    bridge = commands.add_parser(
        "bridge",
        help="publish an offline object to other processes of this user",
        description="The bridge: a per-profile shared-memory channel from a publisher (the Outlook add-in, or this "
        "command for the embedded object) to subscribers in any process of the same user.",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    actions = bridge.add_subparsers(dest="bridge_command", metavar="ACTION", required=True)
    publish = actions.add_parser(
        "publish",
        help="publish the embedded object of a profile until SIGINT/SIGTERM",
        description="Publishes the embedded offline object of PROFILE until interrupted (SIGINT or SIGTERM). "
        "Prints one line when it is publishing (JSON with --json), so that scripts can wait for it.",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    publish.add_argument("--profile", required=True, help="profile name (compared case-insensitively)")
    publish.add_argument(
        "--allow-set-state", action="store_true", help="let subscribers change the state (off by default)"
    )
    publish.add_argument(
        "--ring-capacity", type=int, default=0, metavar="N",
        help="notifications a subscriber may fall behind by before it loses some (a power of two; default 4096)",
    )
    publish.add_argument("--json", action="store_true", help="print the ready line as JSON")

    state = commands.add_parser(
        "state",
        help="print the current state published for a profile",
        description="Prints the state the bridge publisher of PROFILE reports, once (ONLINE or OFFLINE, or a JSON "
        "object with --json).",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    state.add_argument("--profile", required=True)
    state.add_argument("--json", action="store_true", help="print a JSON object")

    watch = commands.add_parser(
        "watch",
        help="print every notification published for a profile as it arrives",
        description="Subscribes to the bridge publisher of PROFILE and prints every notification as it arrives "
        "(with --json: one JSON object a line, first {\"event\": \"subscribed\", ...}, then one \"notification\" "
        "object each, and \"publisher_gone\" at the end). Exits within a second of the publisher's death "
        f"(status {EXIT_PUBLISHER_GONE}) unless --wait, which keeps waiting for a publisher (also for a first one).",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    watch.add_argument("--profile", required=True)
    watch.add_argument("--json", action="store_true", help="one JSON object a line")
    watch.add_argument("--wait", action="store_true", help="wait for a publisher, and for a new one when it dies")

    addin = commands.add_parser(
        "addin",
        help="register the Outlook add-in that publishes Outlook's state (Windows, per user)",
        description="Registers (install), removes (uninstall) or shows (status) the native Outlook add-in for "
        "this user (HKEY_CURRENT_USER, no elevation): the same keys as its DllRegisterServer. Restart Outlook "
        "after installing. Other processes' set_state requests are refused unless installed with "
        "--allow-set-state (the AllowSetState value under HKCU\\Software\\mapioffline\\Addin; install without it "
        "removes it). Elsewhere than Windows every action fails with a message (status 1).",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    addin.add_argument("addin_command", choices=["install", "uninstall", "status"], metavar="ACTION",
                       help="install, uninstall or status")
    addin.add_argument("--json", action="store_true", help="print a JSON object")
    addin.add_argument("--allow-set-state", action="store_true",
                       help="install: let other processes of this user ask Outlook for set_state (off by default)")


def _print(obj: dict[str, Any], as_json: bool, text: str) -> None:
    print(json.dumps(obj) if as_json else text, flush=True)


def _name(value: Any) -> Any:
    return getattr(value, "name", value)


def run(args: argparse.Namespace) -> int:
    """Runs one bridge command; returns the exit status."""
    try:
        if args.command == "addin":
            return _addin(args)
        if args.command == "bridge":
            return _publish(args)
        if args.command == "state":
            return _state(args)
        return _watch(args)
    except NotFound as error:
        print(f"mapioffline: {error}", file=sys.stderr)
        return EXIT_NO_PUBLISHER
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _addin(args: argparse.Namespace) -> int:
    from mapioffline import _addin

    if args.allow_set_state and args.addin_command != "install":
        print("mapioffline: --allow-set-state goes with install", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.addin_command == "install":
            written = _addin.install(allow_set_state=args.allow_set_state)
            result: dict[str, Any] = {"installed": sorted({e.view for e in written} - {"shared"}),
                                      "allow_set_state": args.allow_set_state}
            allowed = "set_state requests allowed" if args.allow_set_state else "set_state requests refused"
            text = f"installed for this user ({allowed}); restart Outlook to load it"
        elif args.addin_command == "uninstall":
            _addin.uninstall()
            result, text = {"uninstalled": True}, "uninstalled"
        else:
            result = _addin.status()
            text = "\n".join(f"{k}: {v}" for k, v in result.items())
    except (_addin.NotOnWindows, FileNotFoundError, OSError) as error:
        print(f"mapioffline: {error}", file=sys.stderr)
        return EXIT_ERROR
    _print(result, args.json, text)
    return EXIT_OK


def _publish(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            publisher = _bridge.publish(
                args.profile, allow_set_state=args.allow_set_state, ring_capacity=args.ring_capacity
            )
        except MapiError as error:
            print(f"mapioffline: cannot publish {args.profile!r}: {error}", file=sys.stderr)
            return EXIT_ERROR
        with publisher:
            _print(
                {"event": "publishing", "profile": args.profile, "region": publisher.region_name,
                 "allow_set_state": args.allow_set_state},
                args.json,
                f"publishing profile {args.profile!r} (region {publisher.region_name}); Ctrl-C to stop",
            )
            stop.wait()  # signal handlers run between the Event's timed waits on every platform
        return EXIT_OK
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _state(args: argparse.Namespace) -> int:
    with open_offline(args.profile, backend="bridge") as offline:
        state = offline.state
        stats = _bridge.stats(offline)
        _print(
            {"profile": args.profile, "state": _name(state), "value": int(state),
             "capabilities": int(offline.capabilities), "publisher_pid": stats.publisher_pid,
             "allow_set_state": stats.allow_set_state},
            args.json,
            str(_name(state)),
        )
    return EXIT_OK


def _watch(args: argparse.Namespace) -> int:
    while True:
        offline = open_offline(args.profile, backend="bridge", wait=math.inf if args.wait else None)
        with offline:
            status = _follow(offline, args)
        if status != EXIT_PUBLISHER_GONE or not args.wait:
            return status


def _follow(offline: Any, args: argparse.Namespace) -> int:
    with offline.advise() as subscription:
        try:
            state = _name(offline.state)
        except MapiError:
            state = None
        _print({"event": "subscribed", "profile": args.profile, "state": state}, args.json,
               f"watching profile {args.profile!r} (state {state})")
        sink = subscription.sink
        while True:
            try:
                n = sink.get()
            except ClosedError:  # StreamEnded / PublisherGone derive from it: the publisher stopped or died
                _print({"event": "publisher_gone", "profile": args.profile}, args.json,
                       f"the publisher of {args.profile!r} is gone")
                return EXIT_PUBLISHER_GONE
            _print(
                {"event": "notification", "kind": _name(n.kind), "mask": n.mask, "old_state": _name(n.old_state),
                 "new_state": _name(n.new_state), "timestamp_ns": n.timestamp_ns,
                 "dropped_before": n.dropped_before},
                args.json,
                f"{_name(n.kind)} {_name(n.old_state)} -> {_name(n.new_state)}"
                + (f" (after {n.dropped_before} lost)" if n.dropped_before else ""),
            )
