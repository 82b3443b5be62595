"""The ``demo`` and ``info`` commands."""

from __future__ import annotations

import asyncio
import json
import platform
import queue
import statistics
import sys
import threading
from typing import Any

import mapioffline
from mapioffline import Notification, State, _core, open_offline

_CHANGES = [(State.OFFLINE, True), (State.ONLINE, False), (State.OFFLINE, False), (State.ONLINE, True)]


def run_demo(profile: str, as_json: bool) -> int:
    """Prints every notification of four state changes as three consumers receive them, then a summary. With
    ``as_json``, one JSON object per line: ``{"event": "notification", "step": ..., "set_state": ..., "consumer":
    ..., <every Notification.to_dict() field>, "latency_us": ...}`` and a final ``{"event": "summary", ...}``.
    Returns 0, or 1 if a notification was missing."""
    events: queue.SimpleQueue[tuple[str, Notification, int]] = queue.SimpleQueue()
    with open_offline(profile, backend="embedded") as obj:
        blocking = obj.advise(token=1)
        callback = obj.advise(token=2, callback=lambda n: events.put(("callback", n, _core.now_ns())))
        asynchronous = obj.advise(token=3)

        def blocking_consumer() -> None:
            for n in blocking.sink:  # ends once unadvised and drained
                events.put(("blocking", n, _core.now_ns()))

        async def asyncio_consumer() -> None:
            async for n in asynchronous.sink:
                events.put(("asyncio", n, _core.now_ns()))

        threads = [
            threading.Thread(target=blocking_consumer, name="demo-blocking"),
            threading.Thread(target=asyncio.run, args=(asyncio_consumer(),), name="demo-asyncio"),
        ]
        for t in threads:
            t.start()
        expected = len(_CHANGES) * 3 * 3  # changes x (START, STATECHANGE, DONE) x consumers
        latencies: dict[str, list[int]] = {"blocking": [], "callback": [], "asyncio": []}
        received = 0
        try:
            if not as_json:
                print(f"mapioffline {mapioffline.__version__}: embedded offline object {profile!r}, "
                      f"state {obj.state}, capabilities {obj.capabilities}")
            for step, (state, block) in enumerate(_CHANGES, start=1):
                if not as_json:
                    print(f"-- set_state({state.name}, block={block})")
                # Every consumer has seen the previous change's DONE: the object accepts the next one at once.
                obj.set_state(state, block=block)
                target = received + 9
                while received < target:
                    consumer, n, at = events.get(timeout=10)
                    received += 1
                    latency_ns = at - n.timestamp_ns
                    latencies[consumer].append(latency_ns)
                    _print_event(consumer, n, latency_ns, as_json, step, state, block)
        finally:
            # Also on a closed output pipe or Ctrl-C: ending the subscriptions ends every consumer's stream, so the
            # consumer threads finish and the process can exit.
            for subscription in (blocking, callback, asynchronous):
                subscription.close()
            for t in threads:
                t.join()
        final_state = obj.state
    _print_summary(latencies, final_state, expected, received, as_json)
    return 0 if received == expected else 1


def _print_event(consumer: str, n: Notification, latency_ns: int, as_json: bool, step: int, state: State,
                 block: bool) -> None:
    if as_json:
        # Every field of the notification (names and numbers), and which set_state of the demo it belongs to:
        # each change waits until all consumers got the previous one's notifications, so the step is exact.
        print(json.dumps({"event": "notification", "step": step, "set_state": {"state": state.name, "block": block},
                          "consumer": consumer, **n.to_dict(), "latency_us": round(latency_ns / 1000, 3)}),
              flush=True)
    else:
        print(f"   {consumer:<9} {n.kind:<18} token={n.client_token} {n.old_state} -> {n.new_state}  "
              f"latency {latency_ns / 1000:8.1f} us", flush=True)


def _print_summary(latencies: dict[str, list[int]], state: State, expected: int, received: int, as_json: bool) -> None:
    summary = {
        consumer: {"count": len(values), "median_us": round(statistics.median(values) / 1000, 3) if values else None,
                   "max_us": round(max(values) / 1000, 3) if values else None}
        for consumer, values in latencies.items()
    }
    if as_json:
        print(json.dumps({"event": "summary", "expected": expected, "received": received,
                          "final_state": state.name, "final_state_value": int(state), "consumers": summary}))
        return
    print(f"summary: {received}/{expected} notifications, final state {state}")
    for consumer, s in summary.items():
        print(f"   {consumer:<9} {s['count']:3d} delivered, latency median {s['median_us']} us, max {s['max_us']} us")


def info_facts() -> dict[str, Any]:
    """What ``info --json`` prints: the same facts as the text, as one JSON object."""
    return {
        "mapioffline": mapioffline.__version__,
        "core": _core.CORE_VERSION,
        "header": _core.HEADER_VERSION,
        "python": {"implementation": platform.python_implementation(), "version": platform.python_version(),
                   "executable": sys.executable},
        "platform": {"platform": platform.platform(), "machine": platform.machine()},
        "abi": {**_core.abi_info(), "RECORD_FORMAT": mapioffline.RECORD_FORMAT, "RECORD_SIZE": mapioffline.RECORD_SIZE},
        "backends": mapioffline.available_backends(),
        # Which HrOpenOfflineObj spelling the loaded Outlook DLL exports (None when there is none), and why.
        "outlook_export": _core._outlook_export(),
        "outlook_export_status": _outlook_export_line(_core._outlook_export(), _core._outlook_loaded()),
    }


def print_info(as_json: bool = False) -> int:
    if as_json:
        print(json.dumps(info_facts(), indent=2))
        return 0
    info = _core.abi_info()
    print(f"mapioffline {mapioffline.__version__} (core {_core.CORE_VERSION})")
    print(f"python      {platform.python_implementation()} {platform.python_version()} ({sys.executable})")
    print(f"platform    {platform.platform()} {platform.machine()}, {info['pointer_bits']}-bit")
    print("abi")
    for key, value in info.items():
        if key != "pointer_bits":
            print(f"   {key:<30} {value}")
    print(f"   {'RECORD_FORMAT':<30} {mapioffline.RECORD_FORMAT!r}")
    print("backends")
    for name, status in mapioffline.available_backends().items():
        print(f"   {name:<9} {status}")
    print(f"outlook export {_outlook_export_line(_core._outlook_export(), _core._outlook_loaded())}")
    return 0


def _outlook_export_line(name: str | None, loaded: bool) -> str:
    """Which HrOpenOfflineObj spelling the loader resolves in the loaded Outlook DLL (x64 tries the plain name,
    then the decorated one; x86 the other way round), or why there is none."""
    if name is not None:
        return f"{name} (found in the loaded Outlook MAPI DLL)"
    if loaded:
        return "none: the loaded Outlook MAPI DLL exports neither HrOpenOfflineObj nor HrOpenOfflineObj@20"
    if sys.platform != "win32":
        return "n/a: no Outlook MAPI DLL off Windows"
    return "n/a: no Outlook MAPI DLL (olmapi32.dll/msmapi32.dll) is loaded in this process"
