"""The bridge's commands: ``bridge publish``, ``state``, ``watch``, ``set-state`` and ``addin`` (wired into
``python -m mapioffline``; errors and exit statuses go through ``_cli.run`` like every command's)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from mapioffline import State, _bridge, open_offline
from mapioffline._cli import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NO_PUBLISHER,
    EXIT_OK,
    EXIT_PUBLISHER_GONE,
    EXIT_USAGE,
    PROG,
    CommandError,
    CommandLineError,
    add_command,
)
from mapioffline._names import shown
from mapioffline._offline import OfflineObject
from mapioffline.errors import ClosedError, MapiError, NotFound

__all__ = ["add_commands"]

# HRESULTs of a bridge open that a new publisher of the profile clears (`watch --wait` waits through them): none runs
# (NotFound), it died meanwhile (PublisherGone), or a dead one left a region that fails validation, which the next
# publisher replaces.
_CHANNEL_CORRUPT = 0x80040A02

_PROFILE_HELP = "the profile's name (1 to 255 UTF-16 code units; compared case-insensitively)"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the bridge subcommands to the CLI's subparsers."""
    bridge = add_command(
        commands, "bridge", run=None, statuses=(EXIT_OK, EXIT_ERROR, EXIT_USAGE),
        help="publish an offline object to other processes of this user",
        description="The bridge: a per-profile shared-memory channel from a publisher (the Outlook add-in, or this "
        "command for the embedded object) to subscribers in any process of the same user.",
    )
    actions = bridge.add_subparsers(dest="bridge_command", metavar="ACTION", required=True)
    publish = add_command(
        actions, "publish", run=_publish, statuses=(EXIT_OK, EXIT_ERROR, EXIT_USAGE),
        extra={EXIT_OK: "publishing stopped by SIGINT (Ctrl-C) or SIGTERM",
               EXIT_ERROR: "e.g. another live publisher already publishes the profile"},
        help="publish the embedded object of a profile until SIGINT/SIGTERM",
        description="Publishes the embedded offline object of PROFILE until interrupted (SIGINT or SIGTERM). "
        "Prints one line when it is publishing (JSON with --json), so that scripts can wait for it.",
    )
    publish.add_argument("--profile", required=True, help=_PROFILE_HELP)
    publish.add_argument(
        "--allow-set-state", action="store_true",
        help="let subscribers change the state (`set-state`, OfflineObject.set_state; off by default)",
    )
    publish.add_argument(
        "--ring-capacity", type=int, default=0, metavar="N",
        help="notifications a subscriber may fall behind by before it loses some (a power of two; default 4096)",
    )
    publish.add_argument("--json", action="store_true", help="print the ready line as JSON")

    state = add_command(
        commands, "state", run=_state,
        statuses=(EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NO_PUBLISHER, EXIT_PUBLISHER_GONE, EXIT_INTERRUPTED),
        help="print the current state published for a profile",
        description="Prints the state the bridge publisher of PROFILE reports, once (ONLINE or OFFLINE, or a JSON "
        "object with --json).",
    )
    state.add_argument("--profile", required=True, help=_PROFILE_HELP)
    state.add_argument("--json", action="store_true", help="print a JSON object")

    watch = add_command(
        commands, "watch", run=_watch,
        statuses=(EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NO_PUBLISHER, EXIT_PUBLISHER_GONE, EXIT_INTERRUPTED),
        extra={EXIT_NO_PUBLISHER: "not with --wait",
               EXIT_PUBLISHER_GONE: "within a second of its death; not with --wait"},
        help="print every notification published for a profile as it arrives",
        description="Subscribes to the bridge publisher of PROFILE and prints every notification as it arrives "
        "(with --json: one JSON object a line, first {\"event\": \"subscribed\", ...}, then one {\"event\": "
        "\"notification\", \"profile\": ..., <every Notification.to_dict() field>} each, and {\"event\": "
        "\"publisher_gone\", ...} at the end). Exits within a second of the publisher's death unless --wait, which "
        "waits for a publisher (also for a first one) and says once on stderr what it waits for.",
    )
    watch.add_argument("--profile", required=True, help=_PROFILE_HELP)
    watch.add_argument("--json", action="store_true", help="one JSON object a line")
    watch.add_argument("--wait", action="store_true",
                       help="wait for a publisher, and for a new one when it stops or dies (until Ctrl-C)")

    set_state = add_command(
        commands, "set-state", run=_set_state,
        statuses=(EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NO_PUBLISHER, EXIT_PUBLISHER_GONE, EXIT_INTERRUPTED),
        extra={EXIT_OK: "the state changed (with --no-block: the publisher accepted the change)",
               EXIT_ERROR: "e.g. the publisher does not accept set_state requests (the message says how to allow "
               "them) or a change is still in flight",
               EXIT_PUBLISHER_GONE: "before it answered"},
        help="change the state through the bridge publisher of a profile (if it allows that)",
        description="Asks the bridge publisher of PROFILE to change the state to ONLINE or OFFLINE and, unless "
        "--no-block, waits until the change is done (its STATECHANGE_DONE has been published). The publisher must "
        "allow it: `bridge publish --allow-set-state`, or for Outlook's add-in `addin install --allow-set-state`. "
        "Prints the state asked for (a JSON object with --json).",
    )
    set_state.add_argument("state", choices=["ONLINE", "OFFLINE"], metavar="{ONLINE,OFFLINE}",
                           help="the state to change to")
    set_state.add_argument("--profile", required=True, help=_PROFILE_HELP)
    set_state.add_argument("--no-block", action="store_true",
                           help="return once the publisher accepted the change, without waiting for it to finish")
    set_state.add_argument("--json", action="store_true", help="print a JSON object")

    addin = add_command(
        commands, "addin", run=_addin, statuses=(EXIT_OK, EXIT_ERROR, EXIT_USAGE),
        extra={EXIT_ERROR: "e.g. not on Windows, or no add-in DLL in this installation"},
        help="register the Outlook add-in that publishes Outlook's state (Windows, per user)",
        description="Registers (install), removes (uninstall) or shows (status) the native Outlook add-in for "
        "this user (HKEY_CURRENT_USER, no elevation): the same keys as its DllRegisterServer. Restart Outlook "
        "after installing. Other processes' set_state requests are refused unless installed with "
        "--allow-set-state (the AllowSetState value under HKCU\\Software\\mapioffline\\Addin; install without it "
        "removes it). Elsewhere than Windows every action fails with a message.",
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


def _addin(args: argparse.Namespace) -> int:
    from mapioffline import _addin

    if args.allow_set_state and args.addin_command != "install":
        raise CommandLineError("--allow-set-state goes with install")
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
    except _addin.NotOnWindows as error:
        raise CommandError(str(error)) from None
    _print(result, args.json, text)
    return EXIT_OK


def _publish(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with _bridge.publish(args.profile, allow_set_state=args.allow_set_state,
                             ring_capacity=args.ring_capacity) as publisher:
            _print(
                {"event": "publishing", "profile": args.profile, "region": publisher.region_name,
                 "allow_set_state": args.allow_set_state},
                args.json,
                f"publishing profile {shown(args.profile)} (region {publisher.region_name}); Ctrl-C to stop",
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


def _set_state(args: argparse.Namespace) -> int:
    state = State[args.state]
    block = not args.no_block
    with open_offline(args.profile, backend="bridge") as offline:
        offline.set_state(state, block=block)
    _print({"profile": args.profile, "state": state.name, "block": block}, args.json, state.name)
    return EXIT_OK


def _can_clear(error: MapiError) -> bool:
    """Whether a new publisher of the profile makes this failure to open its bridge go away."""
    return isinstance(error, (NotFound, ClosedError)) or error.hresult == _CHANNEL_CORRUPT


class _Reasons:
    """What `watch --wait` said it waits for: each reason once, until a publisher is followed again."""

    def __init__(self, profile: str) -> None:
        self._profile = profile
        self._said = ""

    def say(self, error: MapiError) -> None:
        if error.message != self._said:
            print(f"{PROG}: waiting for a publisher of profile {shown(self._profile)}: {error.message}",
                  file=sys.stderr, flush=True)
            self._said = error.message

    def followed(self) -> None:
        self._said = ""


def _open_bridge(args: argparse.Namespace, reasons: _Reasons) -> OfflineObject:
    """The bridge object of the profile; with --wait, once a publisher can be followed, having said on stderr what it
    waits for (once per reason)."""
    if not args.wait:
        return open_offline(args.profile, backend="bridge")
    return _bridge.open_bridge_through(args.profile, _can_clear, reasons.say)


def _watch(args: argparse.Namespace) -> int:
    # One record of what was said for the whole watch: a publisher that stops between the open and the advise was
    # never followed, so the wait that goes on says nothing new.
    reasons = _Reasons(args.profile)
    while True:
        offline = _open_bridge(args, reasons)
        with offline:
            status = _follow(offline, args, reasons)
        if status != EXIT_PUBLISHER_GONE or not args.wait:
            return status


def _follow(offline: OfflineObject, args: argparse.Namespace, reasons: _Reasons) -> int:
    try:
        subscription = offline.advise()
    except ClosedError:  # the publisher went away between the open and the advise
        return EXIT_PUBLISHER_GONE
    reasons.followed()
    with subscription:
        try:
            state = _name(offline.state)
        except MapiError:
            state = None
        _print({"event": "subscribed", "profile": args.profile, "state": state}, args.json,
               f"watching profile {shown(args.profile)} (state {state})")
        sink = subscription.sink
        while True:
            try:
                n = sink.get()
            except ClosedError:  # StreamEnded / PublisherGone derive from it: the publisher stopped or died
                _print({"event": "publisher_gone", "profile": args.profile}, args.json,
                       f"the publisher of {shown(args.profile)} is gone")
                return EXIT_PUBLISHER_GONE
            _print(
                {"event": "notification", "profile": args.profile, **n.to_dict()},
                args.json,
                f"{_name(n.kind)} {_name(n.old_state)} -> {_name(n.new_state)}"
                + (f" (after {n.dropped_before} lost)" if n.dropped_before else ""),
            )
