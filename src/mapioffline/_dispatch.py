"""Callback delivery: one dispatcher thread per callback subscription hands each notification to the callback.

Rules (README, "Callbacks"):
- The dispatcher consumes its sink; a sink has at most one active callback subscription at a time. Advising the
  sink again after its callback subscription was unadvised, with or without a callback, first lets that dispatcher
  hand over what is left and stop (``hand_over``): nothing of the new feed reaches the old callback.
- Closing the subscription (``close()``, leaving ``with``) lets the dispatcher hand over every notification already
  in the sink, then stop; ``close(timeout=...)`` bounds that wait, and what is left stays counted in
  ``sink.stats.pending``. Closing from inside the callback works the same way, after the callback returns.
- Whatever a callback raises (SystemExit and KeyboardInterrupt included) is logged and delivery goes on.
- At interpreter exit, open callback subscriptions are closed with a shared bound (``set_exit_timeout``, 5 s by
  default): their pending notifications are delivered, and a callback stuck beyond the bound does not hold up exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from mapioffline.errors import ClosedError

if TYPE_CHECKING:
    from mapioffline._core import Notification, Sink  # the binding's Sink: the dispatcher needs no asyncio

__all__ = ["Dispatcher", "hand_over", "set_exit_timeout", "exit_timeout"]

logger = logging.getLogger("mapioffline")

_DEFAULT_EXIT_TIMEOUT = 5.0


def _exit_timeout_from_environment() -> float:
    text = os.environ.get("MAPIOFFLINE_EXIT_TIMEOUT")
    if not text:
        return _DEFAULT_EXIT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        logger.warning("mapioffline: MAPIOFFLINE_EXIT_TIMEOUT=%r is not a number; using %s s", text,
                       _DEFAULT_EXIT_TIMEOUT)
        return _DEFAULT_EXIT_TIMEOUT
    return max(0.0, value)


_exit_timeout = _exit_timeout_from_environment()


def set_exit_timeout(seconds: float) -> None:
    """How long interpreter exit may spend delivering what open callback subscriptions still hold, in all
    (default 5 s, or the environment variable MAPIOFFLINE_EXIT_TIMEOUT). 0 delivers nothing more at exit."""
    global _exit_timeout
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"seconds must be a number, not {type(seconds).__name__}")
    if not 0 <= seconds < float("inf"):
        raise ValueError(f"seconds must be >= 0 and finite, not {seconds!r}")
    _exit_timeout = float(seconds)


def exit_timeout() -> float:
    """The current bound of set_exit_timeout()."""
    return _exit_timeout


# Sinks consumed by a dispatcher now: a second callback subscription on one of them is refused.
_busy_sinks: weakref.WeakKeyDictionary[Sink, Dispatcher] = weakref.WeakKeyDictionary()
# Dispatchers still running, for the exit hook (weak: a collected subscription's dispatcher has finished).
_running: weakref.WeakSet[Dispatcher] = weakref.WeakSet()
_lock = threading.Lock()


def hand_over(sink: Sink) -> None:
    """A plain subscription is about to feed ``sink``: the dispatcher of an unadvised callback subscription still
    consuming it hands over what is left and stops first (from inside that dispatcher's own callback it cannot be
    waited for: it stops once the callback returns)."""
    with _lock:
        owner = _busy_sinks.get(sink)
    if owner is not None and owner.retired and not owner._finished:
        owner.finish(None)


class Dispatcher:
    """The thread that consumes one sink for one callback."""

    retired: bool
    _finished: bool

    def __init__(self, sink: Sink, callback: Callable[[Notification], object], when_done: Callable[[], None]) -> None:
        """Claims ``sink`` for ``callback`` (the thread starts with start()). Raises ValueError when another
        callback subscription on the sink is still active; waits for an unadvised one to hand over what is left."""
        while True:
            with _lock:
                owner = _busy_sinks.get(sink)
                if owner is None or owner._finished:
                    _busy_sinks[sink] = self
                    break
                if not owner.retired:
                    raise ValueError("this sink already has a callback subscription; give each callback its own "
                                     "sink")
                if owner.is_current_thread():
                    raise ValueError("a sink cannot be given to a new callback subscription from inside the "
                                     "previous one's callback (it would wait for itself)")
            # The previous callback subscription was unadvised and its dispatcher is still handing over what is
            # left: let it finish first, so that two callbacks never take turns on one stream.
            owner.finish(None)
        self._sink = sink
        self._callback = callback
        self._when_done = when_done  # runs on the dispatcher thread as it finishes (closes an owned sink)
        self.retired = False         # its subscription was unadvised: a new callback subscription may take over
        self._closing = False        # hand over what is pending, then stop
        self._abandoned = False      # stop after the running callback, leave the rest in the sink
        self._finished = False       # the claim is over (the thread ended, or it never started)
        self._busy_since: float | None = None
        self.delivered = 0
        self._thread: threading.Thread | None = None

    def start(self, name: str) -> None:
        with _lock:
            _running.add(self)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def release_claim(self) -> None:
        """The subscription could not be made: the sink is free again."""
        with _lock:
            self._finished = True
            if _busy_sinks.get(self._sink) is self:
                del _busy_sinks[self._sink]

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def is_current_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    @property
    def callback_running_for(self) -> float | None:
        """Seconds the current callback has been running, or None between callbacks."""
        since = self._busy_since
        return None if since is None else time.monotonic() - since

    def _deliver(self, notification: Notification) -> None:
        self._busy_since = time.monotonic()
        try:
            self._callback(notification)
        except BaseException:  # noqa: BLE001 - SystemExit/KeyboardInterrupt too: the dispatcher must go on
            logger.exception("mapioffline: a subscription callback raised; delivery goes on")
        finally:
            self._busy_since = None
            self.delivered += 1

    def _run(self) -> None:
        sink = self._sink
        try:
            while not self._abandoned:
                # The count is read before the flags: a finish() after this read moves it, and the wait returns.
                seen = sink._interrupts()
                if self._closing:
                    self._flush()
                    return
                notification = sink._next_since(seen)
                if notification is not None:
                    self._deliver(notification)
        except ClosedError:  # the stream ended (StreamEnded) or the sink was closed: nothing more will come
            pass
        except BaseException:  # pragma: no cover - a defect of ours; never die silently
            logger.exception("mapioffline: the callback dispatcher failed")
        finally:
            with _lock:
                self._finished = True
                if _busy_sinks.get(sink) is self:
                    del _busy_sinks[sink]
                _running.discard(self)
            self._when_done()

    def _flush(self) -> None:
        while not self._abandoned:
            notification = self._sink._try_get()
            if notification is None:
                return
            self._deliver(notification)

    def finish(self, timeout: float | None) -> bool:
        """Asks the dispatcher to hand over what is pending and stop; waits for that up to ``timeout`` (None:
        no limit) unless called from the dispatcher itself. True when it finished; False when it is still busy
        (then it stops after its current callback and leaves the rest in the sink)."""
        self._closing = True
        thread = self._thread
        if thread is None:
            return True  # never started
        try:
            self._sink.interrupt()
        except ClosedError:
            pass  # closed meanwhile: the dispatcher ends by itself
        if threading.current_thread() is thread:
            return True  # close() from inside the callback: the loop flushes once the callback returns
        thread.join(timeout)
        if not thread.is_alive():
            return True
        self._abandoned = True
        logger.warning("mapioffline: a callback did not finish within %s s; %s notification(s) left undelivered "
                       "(counted in sink.stats.pending)", _seconds(timeout), _pending(self._sink))
        return False


def _seconds(value: float | None) -> str:
    """A duration for a message: at most three decimals ("5", not "4.999952081000174")."""
    return "no limit" if value is None else f"{round(value, 3):g}"


def _pending(sink: Sink) -> int:
    try:
        pending: int = sink.stats.pending
    except ClosedError:  # a fork child
        return 0
    return pending


@atexit.register
def _flush_at_exit() -> None:
    """Delivers what open callback subscriptions hold, within one bound for all of them, before the interpreter
    stops its daemon threads."""
    deadline = time.monotonic() + _exit_timeout
    for dispatcher in list(_running):
        dispatcher.finish(max(0.0, deadline - time.monotonic()))
