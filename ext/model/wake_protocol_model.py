#!/usr/bin/env python3
"""Exhaustive model check of the bridge channel's cross-process wake protocol (writer.cpp, bridge_object.cpp).

What is modelled, one shared-memory access per step (local steps run together with the next shared one):
  Writer::Publish + WakeSubscribers   the head store (release), wake_word.fetch_add (release), the seq_cst fence,
                                      the load of `wanted`, and a futex wake of exactly one sleeper when `wanted`
                                      has reached the new value; else the heal: when the last wake woke someone
                                      (futex's count) and `forwarded` is behind it and `sleepers` is not 0, and the
                                      heal interval has passed (a nondeterministic choice, except at the last
                                      publication, which is late enough), a wake of one more. Mutant "armed-flag":
                                      the first design (a flag the publication takes, and a heal when its last wake
                                      was not passed on): the model finds its lost wake-up (a flag set for the value
                                      a publication had just made was taken by that publication; the next one found
                                      it down).
  BridgeObject::ReaderMain +          the reader loop (head load, consume), then SleepUntilPublished: wake_word
  SleepUntilPublished                 load, `wanted` raised to that value + 1 (compare-exchange), sleepers += 1,
                                      seq_cst fence, the head re-check, the futex wait on the value read,
                                      sleepers -= 1, and the fan-out: when `forwarded` is behind the value, wake
                                      every sleeper (if sleepers counts any), then move `forwarded` up to it
                                      (compare-exchange, never backwards).
  the kernel                          futex wait compares the word and queues the thread in one step; a wake of n
                                      dequeues the first n (FIFO). Both are system calls: the thread's store
                                      buffer is empty when they run (so the subscriber's fence is implied by the
                                      futex wait here; the publisher's is not, and its mutant is caught).
Memory model: as in sink_protocol_model.py, each thread has a FIFO store buffer (at most BUFFER_LIMIT
entries; stores and read-modify-writes whose result the code does not use drain to memory later, one
nondeterministic step at a time; loads see the thread's own buffer first); a fence waits for the buffer to drain.
The wake_word fetch_add is a release RMW: its store is buffered behind the head store (never visible before it)
and later loads may pass it (C++ gives no StoreLoad order there).

Properties: in every terminal state (no thread can move, buffers drained), every live subscriber has consumed every
publication and exited its loop (a subscriber asleep then is a lost wake-up); and, without a victim, in every state
where the publisher is between two publications and every subscriber is asleep or done with nothing buffered, no
subscriber sleeps behind the head (it would sleep until some later publication: a wake-up late, if not lost). The
"kill" scenarios add a subscriber that dies right after a futex wait returns, before it passes the wake on, unless
that was for the last publication (the documented limit: then the others learn of it at the next publication after
the heal interval); the heal must make that publication wake the others. "kill" has one other subscriber,
"kill-two" (--long) two. "close" adds a subscriber closing (BridgeObject::WakeReader: `wanted` raised past the
value it makes, then wake_word moved on by compare-exchange) that dies before its wake of everyone; with two
writers of wake_word the publisher's fetch_add is modelled as a locked RMW (x86) there.

Not modelled: Writer::Stop (it ends every stream: subscribers also see the status and the publisher's death);
Windows' semaphores (os_windows.cpp: tokens instead of a compare, and its known limit); a victim dying elsewhere
than right after its futex wait (before it, it is just gone; after its uncount, it has passed the wake on or is
one more subscriber that is awake). With two publications the heal's "interval not yet over" choice is never
taken (the first publication has no earlier wake to heal); a three-publication "kill" (Config(3, 1, True)) takes
it, and is minutes and gigabytes here.

Usage: wake_protocol_model.py [--scenario NAME] [--mutant NAME]. With no arguments: every scenario on the code
as written, then every mutant on its scenario, which must report a violation. Prints the states explored.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

ALL = -1
TRACE = False


@dataclass(frozen=True)
class Config:
    publications: int
    subscribers: int
    victim: bool
    mutants: frozenset
    closer: bool = False  # a subscriber closing (BridgeObject::WakeReader) that dies before its wake


# Instructions: (op, *args). Register operands are names; value operands are functions of the register dict.
def publisher(cfg: Config) -> list:
    p: list = []
    armed = "armed-flag" in cfg.mutants  # the protocol before 2026-12-01: a consumable flag, and a timed heal
    for i in range(1, cfg.publications + 1):
        p += [
            ("clear", ("a", "f", "s", "word", "n")),                   # dead registers (fewer states)
            ("store", "head", lambda r, i=i: i),                       # Publish: head.store(n + 1, release)
            ("rmw", "word", "wake_word", 1),                           # fetch_add(1, release) + 1
            *([] if "no-publisher-fence" in cfg.mutants else [("fence",)]),
        ]
        if armed:
            p += [
                ("load", "a", "armed"),
                ("jump_if", lambda r: r["a"] == 0, f"heal{i}"),
                ("xchg", "a", "armed", 0),
                ("jump_if", lambda r: r["a"] != 0, f"wake{i}"),
                ("label", f"heal{i}"),
                ("load", "f", "forwarded"),
                ("load", "s", "sleepers"),
                ("jump_if", lambda r: not (r["woken"] != 0 and r["f"] < r["woken"] and r["s"] != 0), f"next{i}"),
                ("label", f"wake{i}"),
                ("set", "woken", lambda r: r["word"]),
                ("wake", "wake_word", 1),
                ("label", f"next{i}"),
            ]
            continue
        fresh = (lambda r: r["a"] == r["word"]) if "arm-equal" in cfg.mutants else (lambda r: r["a"] >= r["word"])
        p += [
            ("load", "a", "wanted"),                                    # someone asleep waiting for this value?
            ("jump_if", fresh, f"wake{i}"),
        ]
        if "no-heal" in cfg.mutants:
            p += [("jump", f"next{i}")]
        else:
            p += [                                                      # the heal: our last wake not passed on
                ("jump_if", lambda r: r["pending"] == 0, f"next{i}"),
                ("load", "f", "forwarded"),
                ("jump_if", lambda r: r["f"] >= r["pending"], f"caught_up{i}"),
                ("load", "s", "sleepers"),
                ("jump_if", lambda r: r["s"] == 0, f"next{i}"),
                # ...and a heal interval has passed since it: any earlier publication may or may not be that late
                # (both explored); the last one is (the documented rule: a later publication heals).
                *([] if i == cfg.publications else [("choose", f"next{i}")]),
                ("jump", f"wake{i}"),
                ("label", f"caught_up{i}"),
                ("set", "pending", lambda r: 0),
                ("jump", f"next{i}"),
            ]
        p += [
            ("label", f"wake{i}"),
            ("wake", "wake_word", 1, "n"),                              # one thread, whatever their number
            ("set", "pending", lambda r: r["word"] if r["n"] > 0 else 0),  # it now owes the others a fan-out
            ("label", f"next{i}"),
        ]
    return p + [("end",)]


def subscriber(cfg: Config, victim: bool) -> list:
    last = cfg.publications
    return [
        ("label", "loop"),
        ("clear", ("h", "now", "f", "s", "seen")),                      # dead registers (fewer states)
        ("load", "h", "head"),                                          # Reader::Read
        ("jump_if", lambda r: r["h"] <= r["cursor"], "sleep"),
        ("set", "cursor", lambda r: r["h"]),                            # Deliver
        ("jump_if", lambda r: r["cursor"] == last, "done"),
        ("jump", "loop"),
        ("label", "sleep"),                                             # SleepUntilPublished
        ("load", "seen", "wake_word"),
        ("cas_max_value", "wanted", lambda r: r["seen"] + 1),           # wake me at the publication after `seen`
        ("add_buffered", "sleepers", 1),
        *([("store", "armed", lambda r: 1)] if "armed-flag" in cfg.mutants else []),
        ("fence",),  # (the futex wait's own full barrier would order this too: a mutant without it is not caught)
        ("load", "h", "head"),
        ("jump_if", lambda r: r["h"] != r["cursor"], "awake"),
        ("wait", "wake_word", "seen"),
        *([("die_unless_last", last)] if victim else []),
        ("label", "awake"),
        ("add_buffered", "sleepers", -1),
        ("load", "now", "wake_word"),
        ("load", "f", "forwarded"),
        # The fan-out: the value moved past what was last passed on.
        ("jump_if", lambda r: not r["f"] < r["now"], "loop"),
        ("load", "s", "sleepers"),
        ("jump_if", lambda r: r["s"] == 0 or "no-forward" in cfg.mutants, "mark"),
        ("wake", "wake_word", ALL),
        ("label", "mark"),
        ("cas_max", "forwarded", "now"),
        ("jump", "loop"),
        ("label", "done"),
        ("end",),
    ]


LOCATIONS = ("head", "wake_word", "armed", "sleepers", "forwarded", "wanted")
LOCAL = ("label", "jump", "jump_if", "set", "clear")
BUFFER_LIMIT = 3  # entries per store buffer: bounds the mutants' state spaces (without a fence one grows forever)


def print_trace(parents: dict, at: tuple) -> None:
    steps = []
    while parents[at] is not None:
        at, what = parents[at]
        steps.append(what)
    print("\n".join(reversed(steps)))


def closer(cfg: Config) -> list:
    """BridgeObject::WakeReader, killed right before its wake of everyone: `wanted` raised past the value it makes
    (mutant close-no-raise: not), then wake_word moved on by compare-exchange."""
    return [
        ("label", "retry"),
        ("load", "o", "wake_word"),
        *([] if "close-no-raise" in cfg.mutants else [("cas_max_value", "wanted", lambda r: r["o"] + 2)]),
        ("cas_eq", "ok", "wake_word", "o"),                             # wake_word: o -> o + 1, or fail
        ("jump_if", lambda r: r["ok"] == 0, "retry"),
        ("die",),
    ]


def check(cfg: Config) -> tuple[int, str | None]:
    progs = [publisher(cfg)] + [subscriber(cfg, False) for _ in range(cfg.subscribers)]
    if cfg.victim:
        progs.append(subscriber(cfg, True))
    if cfg.closer:
        progs.append(closer(cfg))
    labels = [{ins[1]: k for k, ins in enumerate(prog) if ins[0] == "label"} for prog in progs]
    regs0 = (("a", 0), ("cursor", 0), ("f", 0), ("h", 0), ("n", 0), ("now", 0), ("o", 0), ("ok", 0),
             ("pending", 0), ("s", 0), ("seen", 0), ("woken", 0), ("word", 0))
    # Thread state: (pc, regs, buffer, status) with status "run", "wait", "end", "dead".
    start = (tuple((0, regs0, (), "run") for _ in progs), tuple(0 for _ in LOCATIONS), ())  # canonical already
    parents: dict = {start: None}
    seen_states = parents
    stack = [start]
    index = {name: k for k, name in enumerate(LOCATIONS)}
    # Between two publications (the publisher about to store the next head, or done, its buffer drained), with
    # every subscriber asleep or finished and nothing buffered: a subscriber asleep behind the head would sleep
    # until some later publication. Without a victim that is a violation there and then (with one, it is the
    # documented limit, and only the end is checked).
    boundaries = {k for k, ins in enumerate(progs[0]) if ins[0] == "store" and ins[1] == "head"} - {
        next(k for k, ins in enumerate(progs[0]) if ins[0] == "store")} | {len(progs[0]) - 1}

    def behind_at_rest(threads, memory) -> str | None:
        pc, _, buffer, _ = threads[0]
        if cfg.victim or cfg.closer or pc not in boundaries or buffer:
            return None
        if any(status == "run" or buffer for _, _, buffer, status in threads[1:]):
            return None
        for t, (_, regs, _, status) in enumerate(threads[1:], 1):
            if status == "wait" and dict(regs)["cursor"] < memory[index["head"]]:
                return (f"subscriber {t} asleep through a publication: cursor {dict(regs)['cursor']}, head "
                        f"{memory[index['head']]}, the publisher between publications (memory "
                        f"{dict(zip(LOCATIONS, memory))})")
        return None

    # Symmetry: the subscribers that are not the victim run one program, so a state and the same state with two of
    # them swapped (their queue places too) behave alike; only one of each such set is explored. Traces then name
    # threads by their place in the canonical order.
    alike = range(1, 1 + cfg.subscribers)

    def canonical(state):
        threads, memory, queue = state
        order = sorted(alike, key=lambda t: threads[t])
        if order == list(alike):
            return state
        place = {old: new for new, old in zip(alike, order)}
        renamed = list(threads)
        for new, old in zip(alike, order):
            renamed[new] = threads[old]
        return tuple(renamed), memory, tuple(place.get(t, t) for t in queue)

    def read(memory, buffer, loc):
        for l, kind, v in reversed(buffer):
            if l == loc and kind == "store":
                return v
        value = memory[index[loc]]
        for l, kind, v in buffer:  # buffered additions on top of memory, or of the last buffered store
            if l == loc and kind == "add":
                value += v
        return value

    while stack:
        threads, memory, queue = stack.pop()
        behind = behind_at_rest(threads, memory)
        if behind:
            if TRACE:
                print_trace(parents, (threads, memory, queue))
            return len(seen_states), behind
        successors = []
        for t, (pc, regs, buffer, status) in enumerate(threads):
            if buffer:  # drain the oldest buffered store
                (loc, kind, v), rest = buffer[0], buffer[1:]
                mem = list(memory)
                mem[index[loc]] = v if kind == "store" else mem[index[loc]] + v
                state = list(threads)
                state[t] = (pc, regs, rest, status)
                successors.append(((tuple(state), tuple(mem), queue), f"T{t} drains {loc} {kind} {v}"))
            if status != "run":
                continue
            r = dict(regs)
            ins = progs[t][pc]
            op = ins[0]
            mem = list(memory)
            nxt, new_buffer, new_status, new_queue, woken = pc + 1, buffer, status, queue, ()
            if op == "label":
                pass
            elif op == "jump":
                nxt = labels[t][ins[1]]
            elif op == "jump_if":
                if ins[1](r):
                    nxt = labels[t][ins[2]]
            elif op == "clear":
                for name in ins[1]:
                    r[name] = 0
            elif op == "set":
                r[ins[1]] = ins[2](r)
            elif op == "load":
                r[ins[1]] = read(memory, buffer, ins[2])
            elif op in ("store", "add_buffered", "rmw") and len(buffer) >= BUFFER_LIMIT:
                continue  # a full store buffer stalls the thread until one drains (as a CPU's does)
            elif op == "store":
                new_buffer = buffer + ((ins[1], "store", ins[2](r)),)
            elif op == "add_buffered":
                new_buffer = buffer + ((ins[1], "add", ins[2]),)
            elif op == "rmw" and cfg.closer:
                # With a second writer of wake_word (the closer), a buffered RMW would read a stale value: a
                # locked RMW instead (x86's, a full barrier), exact for both writers.
                if buffer:
                    continue
                r[ins[1]] = mem[index[ins[2]]] + ins[3]
                mem[index[ins[2]]] = r[ins[1]]
            elif op == "rmw":
                # wake_word.fetch_add(1, release): its store enters the buffer behind the head store (release:
                # never visible before it), and later loads may still pass it (no StoreLoad order). Buffering an
                # RMW is exact here because the publisher is the only writer of wake_word in these scenarios.
                r[ins[1]] = read(memory, buffer, ins[2]) + ins[3]
                new_buffer = buffer + ((ins[2], "store", r[ins[1]]),)
            elif op == "cas_eq":  # compare-exchange ins[2]: r[ins[3]] -> r[ins[3]] + 1; r[ins[1]] says if it did
                if buffer:
                    continue
                r[ins[1]] = int(mem[index[ins[2]]] == r[ins[3]])
                if r[ins[1]]:
                    mem[index[ins[2]]] = r[ins[3]] + 1
            elif op == "die":
                new_status = "dead"
            elif op == "xchg":
                if any(l == ins[2] for l, _, _ in buffer):
                    continue
                r[ins[1]] = mem[index[ins[2]]]
                mem[index[ins[2]]] = ins[3]
            elif op in ("cas_max", "cas_max_value"):  # a compare-exchange loop: a locked RMW, buffer drained
                if buffer:
                    continue
                value = r[ins[2]] if op == "cas_max" else ins[2](r)
                if mem[index[ins[1]]] < value:
                    mem[index[ins[1]]] = value
            elif op == "choose":  # the other branch is added below
                pass
            elif op == "fence":
                if buffer:
                    continue
            elif op == "wait":  # futex wait: sleeps only while the word still has the value read
                if buffer:
                    continue
                if mem[index[ins[1]]] == r[ins[2]]:
                    new_status, new_queue = "wait", queue + (t,)
            elif op == "wake":
                if buffer:
                    continue
                n = len(queue) if ins[2] == ALL else min(ins[2], len(queue))
                woken, new_queue = queue[:n], queue[n:]
                if len(ins) > 3:
                    r[ins[3]] = n  # the number woken, as futex(FUTEX_WAKE) returns it
            elif op == "die_unless_last":
                if mem[index["wake_word"]] < ins[1]:
                    new_status = "dead"
            elif op == "end":
                new_status, nxt = "end", pc
            # Steps that touch no shared memory (labels, jumps, register moves) run at once with this one: their
            # interleavings with other threads are all equivalent, and exploring them only multiplies states.
            branches = [nxt] + ([labels[t][ins[1]]] if op == "choose" else [])
            for nxt in branches:
                rr = dict(r)
                while new_status == "run" and progs[t][nxt][0] in LOCAL:
                    local = progs[t][nxt]
                    nxt += 1
                    if local[0] == "jump":
                        nxt = labels[t][local[1]]
                    elif local[0] == "jump_if" and local[1](rr):
                        nxt = labels[t][local[2]]
                    elif local[0] == "set":
                        rr[local[1]] = local[2](rr)
                    elif local[0] == "clear":
                        for name in local[1]:
                            rr[name] = 0
                state = list(threads)
                state[t] = (nxt, tuple(sorted(rr.items())), new_buffer, new_status)
                for w in woken:  # a woken thread goes on after its wait instruction
                    wpc, wregs, wbuf, _ = state[w]
                    state[w] = (wpc, wregs, wbuf, "run")
                successors.append(((tuple(state), tuple(mem), new_queue),
                                   f"T{t} {op} {ins[1] if len(ins) > 1 and isinstance(ins[1], str) else ''} -> "
                                   f"regs {dict(state[t][1])} mem {dict(zip(LOCATIONS, mem))} queue {new_queue}"))
        if not successors:
            for t, (pc, regs, buffer, status) in enumerate(threads):
                if t > 0 and status == "wait":
                    if TRACE:
                        print_trace(parents, (threads, memory, queue))
                    return len(seen_states), (f"lost wake-up: subscriber {t} asleep with cursor "
                                              f"{dict(regs)['cursor']} of {cfg.publications} (memory "
                                              f"{dict(zip(LOCATIONS, memory))})")
            continue
        for new, what in successors:
            new = canonical(new)
            if new not in parents:
                parents[new] = ((threads, memory, queue), what)
                stack.append(new)
    return len(seen_states), None


SCENARIOS = {
    "two-subscribers": Config(2, 2, False, frozenset()),
    "kill": Config(2, 1, True, frozenset()),
    "kill-two": Config(2, 2, True, frozenset()),
    "close": Config(2, 1, False, frozenset(), closer=True),
}
LONG = {"kill-two"}  # minutes and gigabytes in this Python checker: run with --long
# Each mutant, and the scenario that must find it.
MUTANTS = {
    "no-publisher-fence": "two-subscribers",
    "no-forward": "two-subscribers",
    "armed-flag": "two-subscribers",                # the publisher's rule before 2026-12-01 (lost a wake-up)
    "arm-equal": "two-subscribers",                 # wake only for `wanted` == the new value, not >= it
    "no-heal": "kill",                              # no second wake when the last one was not passed on
    "close-no-raise": "close",                      # WakeReader moving wake_word without raising `wanted` first
}


def run(scenario: str, mutants: frozenset) -> tuple[int, str | None]:
    base = SCENARIOS[scenario]
    return check(Config(base.publications, base.subscribers, base.victim, mutants, base.closer))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--mutant", choices=sorted(MUTANTS))
    parser.add_argument("--trace", action="store_true", help="print the steps to the first violation")
    parser.add_argument("--long", action="store_true", help="also the scenarios in LONG")
    args = parser.parse_args()
    global TRACE
    TRACE = args.trace
    if args.scenario or args.mutant:
        scenario = args.scenario or MUTANTS[args.mutant]
        states, violation = run(scenario, frozenset([args.mutant] if args.mutant else []))
        print(f"{scenario}{' / ' + args.mutant if args.mutant else ''}: {states:,} states, "
              f"{violation or 'no violation'}")
        return 0
    failed = False
    for scenario in SCENARIOS:
        if scenario in LONG and not args.long:
            continue
        states, violation = run(scenario, frozenset())
        print(f"{scenario}: {states:,} states, {violation or 'no violation'}", flush=True)
        failed |= violation is not None
    for mutant, scenario in MUTANTS.items():
        states, violation = run(scenario, frozenset([mutant]))
        print(f"mutant {mutant} on {scenario}: {states:,} states, "
              f"{'caught: ' + violation if violation else 'NOT CAUGHT'}", flush=True)
        failed |= violation is None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
