"""Ctrl-C: blocking calls (get, iteration, the callback-less consumers) raise KeyboardInterrupt promptly."""

from __future__ import annotations

import _thread
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable

import pytest

from mapioffline import OfflineObject, Sink

# Generous: the point is "promptly" (the wait is sliced), not a speed measurement.
PROMPT_S = 2.0


def _interrupt_soon(how: str) -> tuple[threading.Timer, list[float]]:
    sent: list[float] = []
    main_id = threading.main_thread().ident
    assert main_id is not None

    def fire() -> None:
        sent.append(time.monotonic())
        if how == "signal":
            signal.pthread_kill(main_id, signal.SIGINT)  # a real signal: interrupts the native wait
        else:
            _thread.interrupt_main()  # only sets the flag: the sliced wait must notice it

    timer = threading.Timer(0.2, fire)
    timer.start()
    return timer, sent


HOWS = [
    pytest.param("signal", marks=pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")),
    "interrupt_main",
]


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("blocking", ["get", "get_timeout", "iterate"])
def test_keyboard_interrupt_reaches_a_blocked_consumer(how: str, blocking: str) -> None:
    assert threading.current_thread() is threading.main_thread()
    calls: dict[str, Callable[[Sink], object]] = {
        "get": lambda sink: sink.get(),
        "get_timeout": lambda sink: sink.get(timeout=30),
        "iterate": lambda sink: next(iter(sink)),
    }
    with Sink(4) as sink:
        timer, sent = _interrupt_soon(how)
        try:
            with pytest.raises(KeyboardInterrupt):
                calls[blocking](sink)
            raised = time.monotonic()
        finally:
            timer.cancel()
            timer.join()
        assert sent and raised - sent[0] < PROMPT_S
        # The sink is still usable afterwards.
        with pytest.raises(TimeoutError):
            sink.get(timeout=0)


def test_keyboard_interrupt_in_a_subscription_iteration(offline: OfflineObject) -> None:
    with offline.advise() as sub:
        timer, sent = _interrupt_soon("interrupt_main")
        try:
            with pytest.raises(KeyboardInterrupt):
                for _ in sub.sink:
                    pass
        finally:
            timer.cancel()
            timer.join()


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT with os.kill")
def test_ctrl_c_in_a_script_blocked_in_get_exits_cleanly() -> None:
    """As a user sees it: a script blocked in get() gets Ctrl-C, the default handler raises KeyboardInterrupt."""
    code = textwrap.dedent("""
        import os, signal, threading, time
        import mapioffline
        obj = mapioffline.open_offline("ctrl-c", backend="embedded")
        sub = obj.advise()
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        start = time.monotonic()
        try:
            sub.sink.get()
        except KeyboardInterrupt:
            print("interrupted", time.monotonic() - start < 3, flush=True)
        finally:
            sub.close()
            obj.close()
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "interrupted True\n"
    assert result.stderr == ""
