"""A peer process for the bridge tests: a publisher driven by commands on stdin, or a subscriber that prints what
it receives as JSON lines. Every step prints a line, so the test waits on the pipe, never on a clock.

    python bridge_peer.py publisher PROFILE [--allow-set-state] [--ring N] [--non-dumpable]
        stdin: "set ONLINE|OFFLINE", "burst N" (N blocking toggles), "stop"; answers "ok" / "stopped"
        (--non-dumpable: prctl(PR_SET_DUMPABLE, 0) first, so other processes cannot open its /proc/<pid>/fd)
    python bridge_peer.py subscriber PROFILE get|drain|raw|callback|asyncio|iterate
        prints "subscribed", then one JSON object a notification, then {"end": "<exception class>"}
    python bridge_peer.py subscriber PROFILE commands
        prints "subscribed", then answers commands on stdin: "state" ({"state": n}), "next N" (the next N
        notifications, one JSON object each), "advise" (a new subscription replaces the first: "subscribed")
    python bridge_peer.py request PROFILE ONLINE|OFFLINE
        prints {"ok": state} or {"error": class, "message": text}
    python bridge_peer.py open PROFILE
        without CAP_SYS_PTRACE (which lets root read any process's /proc/<pid>/fd): opens the bridge object once,
        prints {"ok": backend} or {"error": HRESULT symbol, "message": text}
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import select
import struct
import sys

import mapioffline
from mapioffline import _bridge


def say(obj: object) -> None:
    print(obj if isinstance(obj, str) else json.dumps(obj), flush=True)


def as_dict(n: mapioffline.Notification) -> dict[str, object]:
    return {"kind": int(n.kind), "old": int(n.old_state), "new": int(n.new_state),
            "dropped_before": n.dropped_before, "token": n.client_token, "timestamp_ns": n.timestamp_ns}


def publisher(profile: str, options: list[str]) -> None:
    allow = "--allow-set-state" in options
    ring = int(options[options.index("--ring") + 1]) if "--ring" in options else 0
    if "--non-dumpable" in options:
        pr_set_dumpable = 4  # <linux/prctl.h>
        if ctypes.CDLL(None, use_errno=True).prctl(pr_set_dumpable, 0, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0)")
    source = mapioffline.open_offline(profile, backend="embedded")
    pub = _bridge.publish(profile, source, allow_set_state=allow, ring_capacity=ring)
    say(f"ready {pub.region_name}")
    for line in sys.stdin:
        command = line.split()
        if command[0] == "set":
            source.set_state(mapioffline.State[command[1]])
        elif command[0] == "burst":
            for _ in range(int(command[1])):
                current = source.state
                source.set_state(mapioffline.State.ONLINE if current == mapioffline.State.OFFLINE
                                 else mapioffline.State.OFFLINE)
        elif command[0] == "stop":
            pub.stop()
            say("stopped")
            continue
        say("ok")
    pub.stop()
    source.close()


def commands(offline: mapioffline.OfflineObject) -> None:
    """One subscription, and the object's state, on request: a test decides when the subscriber touches the channel."""
    sub = offline.advise(token=5)
    say("subscribed")
    for line in sys.stdin:
        command = line.split()
        if command[0] == "state":
            say({"state": int(offline.state)})
        elif command[0] == "next":
            for _ in range(int(command[1])):
                say(as_dict(sub.sink.get()))
        elif command[0] == "advise":
            sub.close()
            sub = offline.advise(token=6)
            say("subscribed")
    sub.close()
    offline.close()


def subscriber(profile: str, mode: str) -> None:
    offline = mapioffline.open_offline(profile, backend="bridge")
    assert offline.backend == "bridge", offline.backend
    if mode == "commands":
        commands(offline)
        return
    if mode == "callback":
        # Notifications arrive on the dispatcher thread; the main thread waits for "quit" (or EOF) on stdin.
        with offline.advise(token=5, callback=lambda n: say(as_dict(n))):
            say("subscribed")
            sys.stdin.readline()
        say({"end": "quit"})
        offline.close()
        return
    with offline.advise(token=5) as sub:
        sink = sub.sink
        say("subscribed")
        try:
            if mode == "get":
                while True:
                    say(as_dict(sink.get()))
            elif mode == "drain":
                fd = sink.fileno()
                while True:
                    select.select([fd], [], [])  # readable: records pending, or the stream ended
                    batch = sink.drain()
                    for n in batch:
                        say(as_dict(n))
                    if not batch:
                        try:
                            say(as_dict(sink.get(timeout=0)))  # raises PublisherGone once the stream ended
                        except TimeoutError:
                            pass
            elif mode == "raw":
                buffer = bytearray(mapioffline.RECORD_SIZE * 64)
                fd = sink.fileno()
                while True:
                    select.select([fd], [], [])
                    count = sink.drain_into(buffer)
                    for i in range(count):
                        size, kind, token, mask, old, new, stamp = struct.unpack_from(
                            mapioffline.RECORD_FORMAT, buffer, i * mapioffline.RECORD_SIZE)
                        say({"kind": kind, "old": old, "new": new, "dropped_before": 0, "token": token,
                             "timestamp_ns": stamp})
                    if count == 0:
                        try:
                            say(as_dict(sink.get(timeout=0)))  # raises PublisherGone once the stream ended
                        except TimeoutError:
                            pass
            elif mode == "iterate":
                for n in sink:
                    say(as_dict(n))
                say({"end": "iteration", "publisher_gone": _bridge.stats(offline).publisher_gone})
            elif mode == "asyncio":
                async def follow() -> None:
                    async for n in sink:
                        say(as_dict(n))

                asyncio.run(follow())
                say({"end": "iteration", "publisher_gone": _bridge.stats(offline).publisher_gone})
        except mapioffline.ClosedError as error:
            say({"end": type(error).__name__})
    offline.close()


def request(profile: str, state: str) -> None:
    with mapioffline.open_offline(profile, backend="bridge") as offline:
        try:
            offline.set_state(mapioffline.State[state])
            say({"ok": int(offline.state)})
        except mapioffline.MapiError as error:
            say({"error": type(error).__name__, "message": str(error)})


def drop_cap_sys_ptrace() -> None:
    """capset(2) without CAP_SYS_PTRACE in the effective and permitted sets (nothing to drop for a normal user)."""
    libc = ctypes.CDLL(None, use_errno=True)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # two {effective, permitted, inheritable} words
    if libc.capget(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    cap_sys_ptrace = 19
    data[0] &= ~(1 << cap_sys_ptrace)
    data[1] &= ~(1 << cap_sys_ptrace)
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def open_once(profile: str) -> None:
    drop_cap_sys_ptrace()
    try:
        with mapioffline.open_offline(profile, backend="bridge") as offline:
            say({"ok": offline.backend})
    except mapioffline.MapiError as error:
        say({"error": error.name, "message": str(error)})


if __name__ == "__main__":
    role, profile_name, *rest = sys.argv[1:]
    if role == "publisher":
        publisher(profile_name, rest)
    elif role == "subscriber":
        subscriber(profile_name, rest[0])
    elif role == "open":
        open_once(profile_name)
    else:
        request(profile_name, rest[0])
