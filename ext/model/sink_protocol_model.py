#!/usr/bin/env python3
"""Exhaustive model check of the sink's concurrency protocols (ring.h, sink_impl.h, wake_word.cpp, poll_handle.cpp).

What is modelled, instruction by instruction (each shared-memory access is one atomic step; the model's
programs below name the C++ function and the statement each block stands for):

  ring.h      MpscRing::try_push (tail load, cell sequence acquire load, CAS on the tail, cell write, publishing
              release store), MpscRing::pop_many (acquire load of the sequence, read, recycling release store,
              head store), MpscRing::has_pending.
  sink_impl.h Sink::Notify (closed check, push, drop stamp read inside the fill, the seq_cst fence, need_wake_
              load), WakeConsumers (exchange of the bits, wake_all, poll_handle_.signal), PopBatch (under
              consumer_mutex_, the drop-gap bookkeeping, RearmPollHandle on a short pop), RearmPollHandle (the
              bit test, clear, fetch_or, seq_cst fence, the pending/closed/ended re-check, fetch_and, signal),
              ConsumerShouldReturn (pending, closed, ended, interrupts != seen, in that order), Wait (epoch read,
              fetch_or of kWakeWaiter, seq_cst fence, re-check, futex wait on the epoch read), Interrupt
              (interrupts_ += 1, then WakeEveryone), Close (exchange, then WakeEveryone), Detach (CAS on stream_,
              WakeEveryone when the count reaches 0), Fail (CAS on stream_, WakeEveryone), WakeEveryone
              (wake_all, then under the mutex: fetch_and ~kWakeFd and signal when the descriptor exists),
              FileNo (fd_enabled_ = true and RearmPollHandle under the mutex).
  wake_word   wake_all = epoch fetch_add (release) + futex wake; wait(epoch) sleeps only while the word still
              equals the epoch read (the kernel compares atomically), and any wake_all after that wakes it.
  poll_handle signal/clear/poll of the eventfd: one kernel object, each operation atomic and immediately visible.

Memory model. Sequential consistency would make the fences irrelevant, so each thread has a FIFO store buffer
(x86-TSO, extended): plain and relaxed/release stores, and relaxed read-modify-writes whose result the code does
not use (`need_wake_.fetch_or(...)`, `dropped_.fetch_add(1)`), enter the buffer and reach memory later, in order,
one nondeterministic step at a time (a buffered RMW is applied to memory atomically when it drains, which is
exact because nothing reads its result). A thread's loads see its own buffer first (store forwarding). A seq_cst
fence, and every RMW whose result is used with acq_rel/seq_cst order (exchange, fetch_and, CAS in
Attach/Detach/Fail, the epoch fetch_add), waits until the thread's buffer is empty; a relaxed CAS (the ring's
tail) only waits for buffered operations on its own location. This is exactly the store->load reordering the
Dekker-style handshakes (Notify's fence vs Wait's and RearmPollHandle's fences) exist to forbid, and the model
finds the lost wake-up when either fence is removed (the negative tests below).
NOT covered: load->load and store->store reordering (TSO keeps program order there; the code relies on
acquire/release pairs for those: the cell sequence publishes the value, the epoch read is an acquire), POWER-style
non-multi-copy-atomic stores, spurious failure of compare_exchange_weak (it only retries), the futex's spurious
wake-ups and timeouts (they return READY and the caller looks again: more behaviours, none lost), the spin phase of
Wait (it only polls ConsumerShouldReturn), and livelock (only terminal states are judged; a state with no enabled
step is terminal).

Properties, checked in every terminal state (no thread can move, every store buffer drained):
  - no lost item: every record whose push succeeded was popped exactly once, in push order per producer
    (a scenario in which the consumer has exited because the sink was closed or failed may leave records
    pushed after that in the ring: those are counted, not required);
  - exact counts: per producer, pushed + dropped == attempts; the drops reported through the per-record stamps
    sum to dropped_reported, never exceed the drops counted, and a record reports (cumulatively) at least the
    drops its own producer counted before pushing it;
  - no lost wake-up: no consumer is asleep (futex or poll) while a record is pending, the sink is closed, its
    stream has ended, or (for the interrupt scenario) the condition it was interrupted for holds; in scenarios
    that end the stream, the consumer must have exited.

Usage: sink_protocol_model.py [--long] [--scenario NAME] [--mutant NAME] [--trace]
With no arguments, runs the quick scenarios (1-2 producers) on the code as written and every mutant (each on
the scenario named beside it, which must then report a violation), and fails unless all scenarios pass and every
mutant is caught; --long adds the 3-producer scenarios and the other multi-minute ones (LONG). Prints the number
of states explored per run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque

W, FD = 1, 2  # Sink::kWakeWaiter, Sink::kWakeFd
FEED_ONE = 1
EVER = 1 << 32  # Sink::kEverAttached
FAIL_SHIFT = 40


def ended(stream: int) -> bool:  # Sink::EndReason() != MAPIOFFLINE_END_NONE
    return bool((stream >> FAIL_SHIFT) & 0xFF) or (bool(stream & EVER) and (stream & 0xFFFFFFFF) == 0)


# ----------------------------------------------------------------------------------------------------------------
# A tiny assembly for thread programs. Operands that depend on registers are functions of the register dict.
# ----------------------------------------------------------------------------------------------------------------
class Prog:
    def __init__(self, name: str):
        self.name = name
        self.code: list[tuple] = []
        self.labels: dict[str, int] = {}
        self._n = 0

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def fresh(self, hint: str) -> str:
        self._n += 1
        return f"{hint}.{self._n}"

    def op(self, *ins) -> None:
        self.code.append(ins)

    def resolve(self) -> "Prog":
        out = []
        for ins in self.code:
            if ins[0] in ("br", "jmp"):
                ins = ins[:-1] + (self.labels[ins[-1]],)
            out.append(ins)
        self.code = out
        return self


def L(x):  # a location operand: constant, or computed from registers
    return x if callable(x) else (lambda r, x=x: x)


# Instruction forms:
#   ("load", reg, loc)                  relaxed/acquire load (forwarding from the own buffer)
#   ("store", loc, fn)                  buffered store of fn(regs)
#   ("rmw_buf", loc, kind, fn)          relaxed RMW whose result is unused: buffered ("or" | "and" | "add")
#   ("rmw", reg, loc, fn, full)         atomic RMW on memory; reg gets the old value; fn(old, regs) -> new.
#                                       full: waits for an empty buffer (acq_rel/seq_cst); else only for own loc
#   ("cas", reg_ok, reg_expected, loc, fn_new, full)   compare_exchange: on failure reg_expected = current value
#   ("fence",)                          seq_cst fence: waits for an empty buffer
#   ("set", reg, fn) ("br", fn, label) ("jmp", label)   local
#   ("kill", names)                     local: the named temporaries are dead from here (not part of the state)
#   ("emit", fn)                        the consumer hands fn(regs) to its caller (appended to the log)
#   ("futex_wait", loc, reg)            sleeps until memory[loc] != regs[reg]
#   ("fd_signal",) ("fd_clear",) ("fd_poll",)           eventfd; poll blocks until readable
#   ("lock",) ("unlock",)               consumer_mutex_ (unlock waits for an empty buffer: release)
#   ("wait_done", names)                blocks until the named threads have ended and their stores are visible
#                                       (a join, or Unadvise waiting for in-flight Notify calls)
#   ("end",)


def apply(kind: str, old: int, x: int) -> int:
    if kind == "store":
        return x
    if kind == "or":
        return old | x
    if kind == "and":
        return old & x
    if kind == "add":
        return old + x
    raise ValueError(kind)


# ----------------------------------------------------------------------------------------------------------------
# The sink's code, as thread programs.
# ----------------------------------------------------------------------------------------------------------------
class Config:
    def __init__(self, cap: int, mutants: set[str]):
        self.cap = cap
        self.mutants = mutants


def cell(name: str, cap: int, reg: str):
    return lambda r: (name, r[reg] % cap)


TEMPS = ("endc", "ends", "c", "pos", "seq", "ok", "d", "nw", "bits", "_", "old", "hh", "hs", "st", "ic", "e", "rep", "h", "s", "v", "sp", "gap", "fe", "n", "flag", "seen", "was")


def emit_notify(p: Prog, cfg: Config, item_fn, own_drops_reg: str) -> None:
    """Sink::Notify for one record (sink_impl.h), producer side."""
    cap = cfg.cap
    p.op("kill", TEMPS)
    drop, done, retry, claim, full = (p.fresh(x) for x in ("drop", "done", "retry", "claim", "full"))
    p.op("load", "c", "closed")                                     # if (closed_.load(relaxed)) ...
    p.op("br", lambda r: r["c"], drop)
    p.op("load", "pos", "tail")                                     # try_push: pos = tail_.load(relaxed)
    p.label(retry)
    p.op("load", "seq", cell("seq", cap, "pos"))                    # cell.sequence.load(acquire)
    p.op("br", lambda r: r["seq"] == r["pos"], claim)
    p.op("br", lambda r: r["seq"] < r["pos"], full)                 # diff < 0: full
    p.op("load", "pos", "tail")                                     # another producer took pos
    p.op("jmp", retry)
    p.label(claim)
    p.op("cas", "ok", "pos", "tail", lambda r: r["pos"] + 1, False)  # compare_exchange_weak(relaxed)
    p.op("br", lambda r: not r["ok"], retry)
    p.op("store", cell("val", cap, "pos"), item_fn)                 # fill: memcpy of the record
    p.op("load", "d", "dropped")                                    # fill: dropped_at_push = dropped_.load()
    p.op("store", cell("stamp", cap, "pos"), lambda r: r["d"])
    p.op("store", cell("seq", cap, "pos"), lambda r: r["pos"] + 1)  # publish: sequence.store(pos+1, release)
    p.op("set", "pushed", lambda r: r["pushed"] + 1)
    if "no-notify-fence" not in cfg.mutants:
        p.op("fence",)                                              # atomic_thread_fence(seq_cst)
    p.op("load", "nw", "need_wake")                                 # need_wake_.load(relaxed) != 0
    p.op("br", lambda r: r["nw"] == 0, done)
    # WakeConsumers: bits = need_wake_.exchange(0, acq_rel)
    p.op("rmw", "bits", "need_wake", lambda old, r: 0, True)
    skip = p.fresh("skipw")
    p.op("br", lambda r: not (r["bits"] & W), skip)
    p.op("rmw", "_", "word", lambda old, r: old + 1, True)          # wake_.wake_all(): epoch += 1 (release)
    p.label(skip)
    p.op("br", lambda r: not (r["bits"] & FD), done)
    p.op("fd_signal",)                                              # poll_handle_.signal()
    p.op("jmp", done)
    p.label(full)
    p.label(drop)
    p.op("rmw_buf", "dropped", "add", lambda r: 1)                  # dropped_.fetch_add(1, relaxed)
    p.op("set", own_drops_reg, lambda r: r[own_drops_reg] + 1)
    p.label(done)
    p.op("kill", TEMPS)


def emit_has_pending(p: Prog, cfg: Config, target: str) -> None:
    """MpscRing::has_pending(): jumps to target when the next cell is published."""
    p.op("load", "hh", "head")
    p.op("load", "hs", cell("seq", cfg.cap, "hh"))
    p.op("br", lambda r: r["hs"] == r["hh"] + 1, target)


def emit_rearm(p: Prog, cfg: Config) -> None:
    """Sink::RearmPollHandle() (under consumer_mutex_)."""
    out, sig = p.fresh("rearm_out"), p.fresh("rearm_sig")
    p.op("load", "nw", "need_wake")                                 # if (need_wake_ & kWakeFd) return
    p.op("br", lambda r: r["nw"] & FD, out)
    p.op("fd_clear",)                                               # poll_handle_.clear()
    p.op("rmw_buf", "need_wake", "or", lambda r: FD)                # need_wake_.fetch_or(kWakeFd, relaxed)
    if "no-rearm-fence" not in cfg.mutants:
        p.op("fence",)                                              # atomic_thread_fence(seq_cst)
    emit_has_pending(p, cfg, sig)                                   # ring_.has_pending() ||
    p.op("load", "c", "closed")                                     # closed() ||
    p.op("br", lambda r: r["c"], sig)
    if "rearm-ignores-end" not in cfg.mutants:
        p.op("load", "st", "stream")                                # EndReason() != NONE
        p.op("br", lambda r: ended(r["st"]), sig)
    p.op("jmp", out)
    p.label(sig)
    p.op("rmw", "old", "need_wake", lambda old, r: old & ~FD, True)  # fetch_and(~kWakeFd, acq_rel) & kWakeFd
    p.op("br", lambda r: not (r["old"] & FD), out)
    p.op("fd_signal",)
    p.label(out)


def emit_pop_batch(p: Prog, cfg: Config, max_records: int) -> None:
    """Sink::PopBatch(out, max_records, dropped_before) with MpscRing::pop_many inside; leaves n in r['n']."""
    cap = cfg.cap
    loop, stop, no_rep, out = (p.fresh(x) for x in ("pop", "popped", "norep", "popout"))
    p.op("kill", tuple(t for t in TEMPS if t not in ("endc", "ends", "seen")))
    p.op("lock",)
    p.op("load", "rep", "reported")                                 # reported = dropped_reported_.load()
    p.op("load", "h", "head")                                       # pos = head_.load(relaxed)
    p.op("set", "n", lambda r: 0)
    p.label(loop)
    p.op("br", lambda r: r["n"] == max_records, stop)
    p.op("load", "s", cell("seq", cap, "h"))                        # sequence.load(acquire) != pos + 1: stop
    p.op("br", lambda r: r["s"] != r["h"] + 1, stop)
    p.op("load", "v", cell("val", cap, "h"))                        # take(cell.value)
    p.op("load", "sp", cell("stamp", cap, "h"))
    # gap = stamp > reported ? stamp - reported : 0; reported = max
    p.op("set", "gap", lambda r: r["sp"] - r["rep"] if r["sp"] > r["rep"] else 0)
    p.op("set", "rep", lambda r: max(r["sp"], r["rep"]))
    p.op("emit", lambda r: (r["v"], r["gap"], r["rep"]))
    p.op("store", cell("seq", cap, "h"), lambda r: r["h"] + cap)    # hand the cell to the next lap (release)
    p.op("set", "h", lambda r: r["h"] + 1)
    p.op("set", "n", lambda r: r["n"] + 1)
    p.op("jmp", loop)
    p.label(stop)
    p.op("store", "head", lambda r: r["h"])                         # head_.store(pos, relaxed)
    p.op("br", lambda r: r["n"] == 0, no_rep)
    p.op("store", "reported", lambda r: r["rep"])
    p.label(no_rep)
    p.op("br", lambda r: r["n"] >= max_records, out)                # n < max && fd_enabled_: RearmPollHandle
    p.op("load", "fe", "fd_enabled")
    p.op("br", lambda r: not r["fe"], out)
    emit_rearm(p, cfg)
    p.label(out)
    p.op("kill", tuple(t for t in TEMPS if t not in ("n", "endc", "ends", "seen")))
    p.op("unlock",)


def emit_should_return(p: Prog, cfg: Config, ready: str, closed: str, ended_: str, interrupted: str) -> None:
    """Sink::ConsumerShouldReturn(seen_interrupts): jumps to the label of the first condition that holds.

    The end conditions are read before the ring: each is stored after the records that precede it were published
    (a feed detaches only after its Notify calls returned), so seeing the end implies seeing those records. The
    mutant "wait-checks-ring-first" is the order before that fix: ring first, then closed/ended, which can report
    ENDED while a record is pending."""
    if "wait-checks-ring-first" in cfg.mutants:
        emit_has_pending(p, cfg, ready)
        p.op("load", "c", "closed")
        p.op("load", "st", "stream")
        p.op("load", "ic", "interrupts")
    else:
        p.op("load", "c", "closed")                                 # closed()
        p.op("load", "st", "stream")                                # EndReason()
        p.op("load", "ic", "interrupts")                            # interrupts()
        emit_has_pending(p, cfg, ready)                             # then ring_.has_pending()
    p.op("br", lambda r: r["c"], closed)
    p.op("br", lambda r: ended(r["st"]), ended_)
    p.op("br", lambda r: r["ic"] != r["seen"], interrupted)


def emit_wait(p: Prog, cfg: Config, ready: str, closed: str, ended_: str, interrupted: str) -> None:
    """Sink::Wait(-1, 0, seen) with no timeout and no spin: returns by jumping to a label."""
    emit_should_return(p, cfg, ready, closed, ended_, interrupted)
    p.op("load", "e", "word")                                       # epoch = wake_.epoch() (acquire)
    p.op("rmw_buf", "need_wake", "or", lambda r: W)                 # need_wake_.fetch_or(kWakeWaiter, relaxed)
    if "no-wait-fence" not in cfg.mutants:
        p.op("fence",)                                              # atomic_thread_fence(seq_cst)
    emit_should_return(p, cfg, ready, closed, ended_, interrupted)
    p.op("futex_wait", "word", "e")                                 # wake_.wait(epoch, -1)
    emit_should_return(p, cfg, ready, closed, ended_, interrupted)
    p.op("jmp", ready)                                              # woken: READY, the caller looks again


def emit_wake_everyone(p: Prog, cfg: Config) -> None:
    """Sink::WakeEveryone(): after the state change was stored."""
    skip = p.fresh("nofd")
    if "no-wake-all" not in cfg.mutants:
        p.op("rmw", "_", "word", lambda old, r: old + 1, True)      # wake_.wake_all()
    p.op("lock",)
    p.op("load", "fe", "fd_enabled")
    p.op("br", lambda r: not r["fe"], skip)
    p.op("rmw", "_", "need_wake", lambda old, r: old & ~FD, True)   # need_wake_.fetch_and(~kWakeFd, acq_rel)
    p.op("fd_signal",)
    p.label(skip)
    p.op("unlock",)


# ----------------------------------------------------------------------------------------------------------------
# Scenarios: the threads around the sink.
# ----------------------------------------------------------------------------------------------------------------
def producer(cfg: Config, index: int, items: int) -> Prog:
    """A manager thread calling Notify `items` times (pump.cpp's Produce)."""
    p = Prog(f"producer{index}")
    p.op("set", "k", lambda r: 0)
    p.op("set", "pushed", lambda r: 0)
    p.op("set", "own_drops", lambda r: 0)
    top, out = p.fresh("top"), p.fresh("out")
    p.label(top)
    p.op("br", lambda r: r["k"] == items, out)
    emit_notify(p, cfg, lambda r, i=index: (i, r["k"], r["own_drops"]), "own_drops")
    p.op("set", "k", lambda r: r["k"] + 1)
    p.op("jmp", top)
    p.label(out)
    p.op("end",)
    return p.resolve()


def emit_end_state(p: Prog) -> None:
    """_core.pyx _end_error(p): mapioffline_sink_is_closed, then mapioffline_sink_end_reason."""
    p.op("load", "endc", "closed")
    p.op("load", "ends", "stream")


def emit_take(p: Prog, cfg: Config, batch: int, again: str, over: str) -> None:
    """One look at the sink as the Python layer takes it (_core.pyx Sink._next / _try_get): pop; if nothing came
    and the stream is over, the end-of-stream error. The end state is read before the pop (records published
    before the end are then seen by the pop); the mutant "end-checked-after-pop" is the order before that fix."""
    late = "end-checked-after-pop" in cfg.mutants
    if not late:
        emit_end_state(p)
    emit_pop_batch(p, cfg, batch)
    p.op("br", lambda r: r["n"] > 0, again)
    if late:
        emit_end_state(p)
    p.op("br", lambda r: r["endc"] or ended(r["ends"]), over)


def waiting_consumer(cfg: Config, own_flag: bool, batch: int, seen_inside: bool = False) -> Prog:
    """A consumer in Sink.get() / iteration / a callback dispatcher (_core.pyx Sink._next): pop, end check,
    wait_since, and round again until the end-of-stream error.

    With own_flag it also has a condition of its own (a stop request) set by another thread that then calls
    Interrupt(): it reads the interrupt count before checking its flag (Sink._interrupts(), then _next_since).
    seen_inside ("interrupt-count-read-late") reads the count after checking the flag, as a caller of the older
    mapioffline_sink_wait would: the negative test showing why wait_since takes the count from the caller."""
    p = Prog("consumer")
    look, top, ready, closed, ended_, interrupted, out = (p.fresh(x) for x in (
        "look", "top", "ready", "closed", "ended", "interrupted", "out"))
    p.label(look)
    if own_flag and not seen_inside:
        p.op("load", "seen", "interrupts")                          # seen = sink._interrupts()
    if own_flag:
        p.op("load", "flag", "stop_flag")                           # the caller's own condition
        p.op("br", lambda r: r["flag"], out)
    p.label(top)
    emit_take(p, cfg, batch, look, out)
    if not own_flag or seen_inside:
        p.op("load", "seen", "interrupts")                          # seen = mapioffline_sink_interrupts(p)
    emit_wait(p, cfg, ready, closed, ended_, interrupted)
    p.label(interrupted)
    if own_flag:
        p.op("br", lambda r: r["ic"] != r["seen"], look)            # _next_since returns None: look again
    p.label(ready)
    p.label(closed)
    p.label(ended_)
    p.op("jmp", top)                                                # any other result: round again
    p.label(out)
    p.op("set", "exited", lambda r: 1)
    p.op("end",)
    return p.resolve()


def fd_consumer(cfg: Config, batch: int) -> Prog:
    """An asyncio consumer (aio.py): FileNo(), then on each readable event take what is there (_try_get), and
    watch again; done at the end-of-stream error."""
    p = Prog("consumer")
    top, out = p.fresh("top"), p.fresh("out")
    p.op("lock",)                                                   # FileNo(): under consumer_mutex_
    p.op("store", "fd_enabled", lambda r: 1)                        # fd_enabled_.store(true, relaxed)
    emit_rearm(p, cfg)                                              # start clear and armed
    p.op("unlock",)
    p.label(top)
    p.op("fd_poll",)                                                # add_reader's callback fires
    emit_take(p, cfg, batch, top, out)
    p.op("jmp", top)
    p.label(out)
    p.op("set", "exited", lambda r: 1)
    p.op("end",)
    return p.resolve()


def detacher(cfg: Config, after: list[str]) -> Prog:
    """Unadvise of the last feed: the offline object waits for in-flight Notify calls, then Sink::Detach()."""
    p = Prog("detacher")
    p.op("wait_done", tuple(after))
    p.op("load", "s", "stream")
    retry, wake = p.fresh("retry"), p.fresh("wake")
    p.label(retry)
    p.op("cas", "ok", "s", "stream", lambda r: r["s"] - 1, True)    # compare_exchange_weak(s, s - 1, acq_rel)
    p.op("br", lambda r: not r["ok"], retry)
    p.op("br", lambda r: (r["s"] & 0xFFFFFFFF) == 1, wake)          # the last feed ended: WakeEveryone
    p.op("end",)
    p.label(wake)
    emit_wake_everyone(p, cfg)
    p.op("end",)
    return p.resolve()


def failer(cfg: Config) -> Prog:
    """Sink::Fail(PUBLISHER_GONE) at any moment (the publisher process died)."""
    p = Prog("failer")
    p.op("load", "s", "stream")
    retry = p.fresh("retry")
    p.label(retry)
    p.op("cas", "ok", "s", "stream", lambda r: (r["s"] & ~(0xFF << FAIL_SHIFT)) | (2 << FAIL_SHIFT) | EVER, True)
    p.op("br", lambda r: not r["ok"], retry)
    emit_wake_everyone(p, cfg)
    p.op("end",)
    return p.resolve()


def closer(cfg: Config) -> Prog:
    """Sink::Close() at any moment."""
    p = Prog("closer")
    out = p.fresh("out")
    p.op("rmw", "was", "closed", lambda old, r: 1, True)            # closed_.exchange(true, acq_rel)
    p.op("br", lambda r: r["was"], out)
    emit_wake_everyone(p, cfg)
    p.label(out)
    p.op("end",)
    return p.resolve()


def interrupter(cfg: Config) -> Prog:
    """Another thread asks the consumer to stop: sets the consumer's own flag, then Sink::Interrupt()."""
    p = Prog("interrupter")
    p.op("store", "stop_flag", lambda r: 1)
    p.op("fence",)  # the flag is published before the interrupt (Python: under the GIL, a full barrier)
    p.op("rmw", "_", "interrupts", lambda old, r: old + 1, True)    # interrupts_.fetch_add(1, acq_rel)
    emit_wake_everyone(p, cfg)
    p.op("end",)
    return p.resolve()


def native_consumer(cfg: Config, batch: int) -> Prog:
    """A C caller of the API (mapioffline_sink_pop_batch, then mapioffline_sink_wait), trusting the header's
    contract: WAIT_ENDED and WAIT_CLOSED mean "nothing pending", so it stops there."""
    p = Prog("consumer")
    top, ready, closed, ended_, interrupted, out = (p.fresh(x) for x in (
        "top", "ready", "closed", "ended", "interrupted", "out"))
    p.label(top)
    emit_pop_batch(p, cfg, batch)
    p.op("br", lambda r: r["n"] > 0, top)
    p.op("load", "seen", "interrupts")                              # mapioffline_sink_wait: s->interrupts()
    emit_wait(p, cfg, ready, closed, ended_, interrupted)
    p.label(ready)
    p.label(interrupted)
    p.op("jmp", top)
    p.label(closed)
    p.label(ended_)
    p.label(out)
    p.op("set", "exited", lambda r: 1)
    p.op("end",)
    return p.resolve()


# name: (producer record counts, consumer kind, batch, the thread that changes the stream or None)
SCENARIOS = {
    "wait-1p": ((1,), "wait", 1, None),
    "wait-2p": ((1, 1), "wait", 2, None),
    "wait-3p": ((1, 1, 1), "wait", 1, None),
    "wait-lap": ((3,), "wait", 1, None),
    "fd-1p": ((1,), "fd", 1, None),
    "fd-2p": ((1, 1), "fd", 2, None),
    "fd-3p": ((1, 1, 1), "fd", 1, None),
    "fd-lap": ((3,), "fd", 1, None),
    "detach-wait": ((1, 1), "wait", 2, "detach"),
    "detach-native": ((1, 1), "native", 2, "detach"),
    "detach-fd": ((1, 1), "fd", 2, "detach"),
    "fail-wait": ((1, 1), "wait", 2, "fail"),
    "close-fd": ((1, 1), "fd", 2, "close"),
    "close-native": ((1, 1), "native", 2, "close"),
    "interrupt-1p": ((1,), "interrupt", 1, "interrupt"),
    "interrupt-wait": ((1, 1), "interrupt", 2, "interrupt"),
}
# Minutes each in CPython: run with --long (the figures in the reliability report come from such a run).
LONG = {"wait-3p", "fd-3p", "fail-wait", "close-native", "interrupt-wait"}


def describe(name: str) -> str:
    counts, consumer, batch, changer = SCENARIOS[name]
    who = {"wait": "get() consumer (pop, end check, wait_since)", "fd": "descriptor (asyncio) consumer",
           "native": "C API consumer (pop_batch, wait)", "interrupt": "get() consumer with its own stop flag"}
    what = {None: "", "detach": ", then the last feed detaches", "fail": ", the feed fails at any moment",
            "close": ", the sink is closed at any moment", "interrupt": ", stop request + Interrupt at any moment"}
    return (f"{len(counts)} producer(s) x {'/'.join(map(str, counts))} record(s), ring of 2, {who[consumer]}, "
            f"batch {batch}{what[changer]}")


def build(name: str, cfg: Config):
    counts, consumer, batch, changer = SCENARIOS[name]
    threads = [producer(cfg, i, k) for i, k in enumerate(counts)]
    names = [t.name for t in threads]
    if consumer == "wait":
        threads.append(waiting_consumer(cfg, False, batch))
    elif consumer == "fd":
        threads.append(fd_consumer(cfg, batch))
    elif consumer == "native":
        threads.append(native_consumer(cfg, batch))
    else:
        threads.append(waiting_consumer(cfg, True, batch, "interrupt-count-read-late" in cfg.mutants))
    if changer == "detach":
        threads.append(detacher(cfg, names))
    elif changer == "fail":
        threads.append(failer(cfg))
    elif changer == "close":
        threads.append(closer(cfg))
    elif changer == "interrupt":
        threads.append(interrupter(cfg))
    return threads, changer is not None


# Mutants: (description, scenario that must catch it)
MUTANTS = {
    "no-notify-fence": ("Notify without its seq_cst fence", "wait-1p"),
    "no-wait-fence": ("Wait without its seq_cst fence", "wait-1p"),
    "no-rearm-fence": ("RearmPollHandle without its seq_cst fence", "fd-1p"),
    "rearm-ignores-end": ("RearmPollHandle re-checks pending/closed but not the stream's end", "detach-fd"),
    "no-wake-all": ("WakeEveryone without wake_all (descriptor only)", "detach-wait"),
    "interrupt-count-read-late": ("the interrupt count read inside the wait, after the caller's own check "
                                  "(the old mapioffline_sink_wait)", "interrupt-1p"),
    "wait-checks-ring-first": ("ConsumerShouldReturn reads the ring before closed/ended (sink.cpp before the "
                               "fix): ENDED while a record is pending", "detach-native"),
    "end-checked-after-pop": ("Sink._next/_try_get read the end after an empty pop (_core.pyx before the fix): "
                              "StreamEnded while a record is pending", "detach-fd"),
}


# ----------------------------------------------------------------------------------------------------------------
# The explorer.
# ----------------------------------------------------------------------------------------------------------------
class Violation(Exception):
    pass


def initial_memory(cfg: Config, stream_attached: bool) -> dict:
    mem = {"tail": 0, "head": 0, "need_wake": 0, "closed": 0, "word": 0, "dropped": 0, "reported": 0,
           "interrupts": 0, "stop_flag": 0, "fd_enabled": 0,
           "stream": (FEED_ONE | EVER) if stream_attached else 0}
    for i in range(cfg.cap):
        mem[("seq", i)] = i
        mem[("val", i)] = None
        mem[("stamp", i)] = 0
    return mem


def check(name: str, mutants: set[str], cap: int = 2, verbose: bool = False):
    cfg = Config(cap, mutants)
    threads, stream_ends = build(name, cfg)
    names = [t.name for t in threads]
    index = {n: i for i, n in enumerate(names)}
    progs = [t.code for t in threads]
    mem0 = initial_memory(cfg, True)
    locs = sorted(mem0, key=repr)
    loc_index = {l: i for i, l in enumerate(locs)}
    nthreads = len(threads)

    # state: (pcs, regs, mem, bufs, fd, lock, log)
    def freeze(pcs, regs, mem, bufs, fd, lock, log):
        return (tuple(pcs), tuple(tuple(sorted(r.items())) for r in regs), tuple(mem), tuple(bufs), fd, lock,
                tuple(log))

    def read(mem, buf, loc):
        v = mem[loc_index[loc]]
        for (l, kind, x) in buf:
            if l == loc:
                v = apply(kind, v, x)
        return v

    def run_local(t, pc, regs, log):
        """Runs local instructions (set/br/jmp/emit) until a visible one; returns the new pc and log."""
        code = progs[t]
        while True:
            ins = code[pc]
            kind = ins[0]
            if kind == "set":
                regs[ins[1]] = ins[2](regs)
                pc += 1
            elif kind == "br":
                pc = ins[2] if ins[1](regs) else pc + 1
            elif kind == "jmp":
                pc = ins[1]
            elif kind == "emit":
                log = log + ((t, ins[1](regs)),)
                pc += 1
            elif kind == "kill":  # dead temporaries leave the state (fewer, equivalent states)
                for name in ins[1]:
                    regs.pop(name, None)
                pc += 1
            else:
                return pc, log

    start_pcs, start_regs = [], []
    for t in range(nthreads):
        regs = {}
        pc, _ = run_local(t, 0, regs, ())
        start_pcs.append(pc)
        start_regs.append(regs)
    start = freeze(start_pcs, start_regs, [mem0[l] for l in locs], [() for _ in range(nthreads)], 0, -1, ())

    def successors(state):
        pcs, regs_t, mem_t, bufs, fd, lock, log = state
        out = []
        for t in range(nthreads):
            # A store buffer drains one entry at a time, whenever (also while its thread sleeps).
            if bufs[t]:
                (l, kind, x), rest = bufs[t][0], bufs[t][1:]
                mem = list(mem_t)
                mem[loc_index[l]] = apply(kind, mem[loc_index[l]], x)
                nb = list(bufs)
                nb[t] = rest
                out.append((pcs, regs_t, tuple(mem), tuple(nb), fd, lock, log))
            pc = pcs[t]
            ins = progs[t][pc]
            kind = ins[0]
            if kind == "end":
                continue
            regs = dict(regs_t[t])
            buf = bufs[t]
            mem = list(mem_t)
            nfd, nlock, nlog = fd, lock, log
            nbuf = buf
            if kind == "load":
                regs[ins[1]] = read(mem, buf, L(ins[2])(regs))
            elif kind == "store":
                nbuf = buf + ((L(ins[1])(regs), "store", ins[2](regs)),)
            elif kind == "rmw_buf":
                nbuf = buf + ((L(ins[1])(regs), ins[2], ins[3](regs)),)
            elif kind in ("rmw", "cas"):
                loc = L(ins[2] if kind == "rmw" else ins[3])(regs)
                full = ins[4] if kind == "rmw" else ins[5]
                if full and buf:
                    continue
                if not full and any(l == loc for (l, _, _) in buf):
                    continue
                old = mem[loc_index[loc]]
                if kind == "rmw":
                    regs[ins[1]] = old
                    mem[loc_index[loc]] = ins[3](old, regs)
                else:
                    if old == regs[ins[2]]:
                        mem[loc_index[loc]] = ins[4](regs)
                        regs[ins[1]] = True
                    else:
                        regs[ins[1]] = False
                        regs[ins[2]] = old
            elif kind == "fence":
                if buf:
                    continue
            elif kind == "futex_wait":
                if mem[loc_index[ins[1]]] == regs[ins[2]]:
                    continue  # asleep until the word moves on
            elif kind == "fd_signal":
                nfd = 1
            elif kind == "fd_clear":
                nfd = 0
            elif kind == "fd_poll":
                if not fd:
                    continue
            elif kind == "lock":
                if lock != -1:
                    continue
                nlock = t
            elif kind == "unlock":
                if buf:
                    continue  # release: earlier stores first
                nlock = -1
            elif kind == "wait_done":
                # Unadvise's gate (a release decrement by the delivering thread, an acquire load in Unadvise)
                # orders the producers' stores before the detach: joined threads' buffers must have drained.
                if any(progs[index[n]][pcs[index[n]]][0] != "end" or bufs[index[n]] for n in ins[1]):
                    continue
            else:
                raise ValueError(kind)
            npc, nlog = run_local(t, pc + 1, regs, nlog)
            np_ = list(pcs)
            np_[t] = npc
            nr = list(regs_t)
            nr[t] = tuple(sorted(regs.items()))
            nb = list(bufs)
            nb[t] = nbuf
            out.append((tuple(np_), tuple(nr), tuple(mem), tuple(nb), nfd, nlock, nlog))
        return out

    def judge(state):
        pcs, regs_t, mem_t, bufs, fd, lock, log = state
        mem = {l: mem_t[i] for i, l in enumerate(locs)}
        regs = [dict(r) for r in regs_t]
        ci = index["consumer"]
        consumer_exited = regs[ci].get("exited") == 1
        pending = mem[("seq", mem["head"] % cap)] == mem["head"] + 1
        problems = []
        if not consumer_exited:
            asleep = progs[ci][pcs[ci]][0]
            if pending:
                problems.append(f"consumer asleep ({asleep}) while a record is pending")
            if mem["closed"] or ended(mem["stream"]):
                problems.append(f"consumer asleep ({asleep}) although the sink is closed or its stream ended")
            if mem["stop_flag"]:
                problems.append(f"consumer asleep ({asleep}) although it was interrupted to stop")
            if stream_ends:
                problems.append("the stream ended but the consumer never returned")
        # Counts and order.
        got = [v for (_, v) in log]
        items = [v[0] for v in got]
        if len(set(items)) != len(items):
            problems.append(f"a record was delivered twice: {items}")
        for t, name in enumerate(names):
            if not name.startswith("producer"):
                continue
            p = int(name[len("producer"):])
            r = regs[t]
            mine = [it for it in items if it[0] == p]
            if [it[1] for it in mine] != sorted(it[1] for it in mine):
                problems.append(f"producer {p}'s records out of order: {mine}")
            if r.get("pushed", 0) + r.get("own_drops", 0) != r.get("k"):
                problems.append(f"producer {p}: pushed + dropped != attempts")
        total_pushed = sum(regs[index[n]].get("pushed", 0) for n in names if n.startswith("producer"))
        total_drops = sum(regs[index[n]].get("own_drops", 0) for n in names if n.startswith("producer"))
        if mem["dropped"] != total_drops:
            problems.append(f"dropped counter {mem['dropped']} != drops {total_drops}")
        if mem["tail"] != total_pushed:
            problems.append("ring tail != records pushed")
        left = mem["tail"] - mem["head"]
        stopped_early = mem["closed"] or (mem["stream"] >> FAIL_SHIFT) & 0xFF or mem["stop_flag"]
        if not stopped_early and len(items) != total_pushed:
            problems.append(f"lost record: pushed {total_pushed}, delivered {len(items)}, left in ring {left}")
        if len(items) + left != total_pushed:
            problems.append("delivered + pending != pushed")
        gaps = sum(v[1] for v in got)
        if gaps != mem["reported"] or gaps > mem["dropped"]:
            problems.append(f"drop gaps {gaps}, reported {mem['reported']}, dropped {mem['dropped']}")
        for (item, _gap, rep_after) in got:
            if rep_after < item[2]:
                problems.append(f"record {item} reports {rep_after} drops, its producer had dropped {item[2]}")
        return problems

    seen = {start}
    frontier = deque([start])
    parent = {start: None}
    terminals = 0
    t0 = time.time()
    while frontier:
        state = frontier.popleft()
        succ = successors(state)
        if not succ:
            terminals += 1
            problems = judge(state)
            if problems:
                trace = []
                s = state
                while s is not None:
                    trace.append(s)
                    s = parent[s]
                return len(seen), terminals, problems, list(reversed(trace)), names, progs, locs
        for s in succ:
            if s not in seen:
                seen.add(s)
                parent[s] = state
                frontier.append(s)
    if verbose:
        print(f"  ({time.time() - t0:.1f}s)")
    return len(seen), terminals, [], None, names, progs, locs


def describe_trace(trace, names, progs, locs, limit=60):
    lines = []
    for s in trace[-limit:]:
        pcs, regs_t, mem_t, bufs, fd, lock, log = s
        mem = {l: mem_t[i] for i, l in enumerate(locs)}
        where = ", ".join(f"{n}@{progs[i][pcs[i]][0]}" for i, n in enumerate(names))
        lines.append(f"  {where} | need_wake={mem['need_wake']} word={mem['word']} head={mem['head']} "
                     f"tail={mem['tail']} fd={fd} stream={mem['stream']:#x} closed={mem['closed']} "
                     f"bufs={[len(b) for b in bufs]}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--mutant", choices=sorted(MUTANTS))
    ap.add_argument("--trace", action="store_true", help="print the counterexample's last states")
    ap.add_argument("--long", action="store_true", help="also the 3-producer and other multi-minute scenarios")
    args = ap.parse_args()

    failures = 0
    total = 0
    runs = []
    if args.scenario or args.mutant:
        scenario = args.scenario or MUTANTS[args.mutant][1]
        runs.append((scenario, args.mutant))
    else:
        runs += [(s, None) for s in SCENARIOS if args.long or s not in LONG]
        runs += [(MUTANTS[m][1], m) for m in MUTANTS]
    for scenario, mutant in runs:
        t0 = time.time()
        states, terminals, problems, trace, names, progs, locs = check(scenario, {mutant} if mutant else set())
        total += states
        took = time.time() - t0
        if mutant is None:
            status = "ok" if not problems else "VIOLATION"
            print(f"{scenario:16} {states:9d} states {terminals:7d} terminal  {took:5.1f}s  {status}"
                  f"  -- {describe(scenario)}")
            if problems:
                failures += 1
                print("   " + "; ".join(problems))
                print(describe_trace(trace, names, progs, locs))
        else:
            caught = bool(problems)
            print(f"mutant {mutant:26} on {scenario:14} {states:8d} states  {took:5.1f}s  "
                  f"{'caught: ' + problems[0] if caught else 'NOT CAUGHT'}")
            if args.trace and trace:
                print(describe_trace(trace, names, progs, locs))
            if not caught:
                failures += 1
    print(f"total states explored: {total}")
    if failures:
        print(f"FAILED: {failures} run(s) (a violation on the real code, or a mutant the model cannot see)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
