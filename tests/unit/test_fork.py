"""fork(): a child gets embedded objects of its own, inherited native handles stay inert, and no lock of ours can
deadlock the child (issue 8 item 10).

Each test runs a script in a fresh interpreter (forking the multi-threaded pytest process itself would be unsafe).
The script forks and waits for each child with a deadline, so a child that hangs fails the test instead of hanging
it; the script itself runs under a timeout too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() does not exist on this platform")

CHILD_DEADLINE_S = 10.0

PRELUDE = textwrap.dedent(f"""
    import ctypes, os, sys, threading, time, traceback
    import mapioffline
    from mapioffline import NotifyKind, State

    def wait_child(pid):
        # The child's exit status, or "hung" (after killing it) if it has not exited within the deadline.
        deadline = time.monotonic() + {CHILD_DEADLINE_S}
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.005)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        return "hung"

    def fork_and_wait(child):
        # Runs child() in a fork child; its return value is the exit status (an exception: 99, traceback shown).
        pid = os.fork()
        if pid == 0:
            code = 99
            try:
                code = child()
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)
        return wait_child(pid)

    def change_completes(profile):
        # In a child: the profile's object is a fresh one (ONLINE), a non-blocking change on it runs, and its
        # notifications arrive. 0 when all of that holds.
        with mapioffline.open_offline(profile, backend="embedded") as obj:
            if obj.state is not State.ONLINE:
                print(f"child: the object is {{obj.state!r}}, not a fresh one", file=sys.stderr)
                return 2
            with obj.advise() as sub:
                obj.set_state(State.OFFLINE, block=False)
                kinds = [sub.sink.get(timeout=5).kind for _ in range(3)]
            if kinds != [NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE, NotifyKind.STATECHANGE_DONE]:
                print(f"child: got {{kinds}}", file=sys.stderr)
                return 3
            return 0

    def vtable_method(address, slot, restype, *argtypes):
        vtable = ctypes.cast(ctypes.c_void_p(address), ctypes.POINTER(ctypes.POINTER(ctypes.c_void_p)))[0]
        method = ctypes.CFUNCTYPE(restype, ctypes.c_void_p, *argtypes)(vtable[slot])
        return lambda *args: method(address, *args)
""")


def run_script(body: str, timeout: float = 180) -> list[str]:
    script = PRELUDE + textwrap.dedent(body)
    result = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c", script],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def test_a_child_gets_a_working_object_of_its_own_and_inherited_ones_are_inert() -> None:
    lines = run_script("""
        obj = mapioffline.open_offline("fork-own", backend="embedded")
        sub = obj.advise()
        obj.set_state(State.OFFLINE, block=False)  # starts the object's thread, which the child will not have
        assert [sub.sink.get(timeout=5).kind for _ in range(3)][-1] is NotifyKind.STATECHANGE_DONE
        address = obj.com_pointer

        def child():
            code = change_completes("fork-own")
            # The parent's object, released natively down to zero references: it must leak, not join a thread
            # that does not exist here (that hangs or aborts).
            release = vtable_method(address, 2, ctypes.c_uint32)
            for _ in range(10):
                if release() == 0:
                    break
            # Its other methods answer without touching the parent's threads or locks.
            state = ctypes.c_uint32(0)
            get_state = vtable_method(address, 5, ctypes.c_int32, ctypes.POINTER(ctypes.c_uint32))
            set_state = vtable_method(address, 3, ctypes.c_int32, ctypes.c_uint32, ctypes.c_uint32,
                                      ctypes.c_uint32, ctypes.c_void_p)
            unadvise = vtable_method(address, 8, ctypes.c_int32, ctypes.c_uint32, ctypes.c_uint32)
            print("child:", get_state(ctypes.byref(state)), state.value,
                  set_state(0, 3, 2, None) & 0xFFFFFFFF, unadvise(0, 1), flush=True)
            # The Python handles from before the fork close without touching anything.
            sub.close()
            obj.close()
            return code

        print("child exit", fork_and_wait(child), flush=True)
        # The parent's object is untouched and still works.
        obj.set_state(State.ONLINE)
        print("parent got", len(sub.sink.drain()), flush=True)
        sub.close()
        obj.close()
    """)
    # GetCurrentState still answers (OFFLINE, as at the fork); SetCurrentState: MAPI_E_CALL_FAILED; Unadvise: S_OK.
    assert lines == ["child: 0 1 2147500037 0", "child exit 0", "parent got 3"]


def test_a_pump_inherited_by_a_child_neither_aborts_nor_hangs_it() -> None:
    lines = run_script("""
        from mapioffline.testing import start_pump

        # A COM sink whose Notify blocks until released: the pump's thread is inside it when we fork.
        entered, gate = threading.Event(), threading.Event()
        QI = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p))
        REF = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_void_p)
        NOTIFY = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
        def notify(this, record):
            entered.set()
            gate.wait(30)
        callbacks = (QI(lambda this, iid, out: 0x80004002 - 2**32), REF(lambda this: 2), REF(lambda this: 1),
                     NOTIFY(notify))
        vtable = (ctypes.c_void_p * 4)(*(ctypes.cast(cb, ctypes.c_void_p) for cb in callbacks))
        com_object = (ctypes.c_void_p * 1)(ctypes.addressof(vtable))

        # Several pumps of several threads: with one thread glibc's join happened to survive in the child.
        pumps = [start_pump(ctypes.addressof(com_object), 1, threads=4) for _ in range(4)]
        assert entered.wait(10)

        def child():
            # The parent's threads do not exist here: join returns at once (0 ns), leaking the pump.
            print("child joined", [pump.join() for pump in pumps], pumps[0].running, flush=True)
            del pumps[:]  # dealloc of a joined handle: nothing left to do
            # The child's own threads work afterwards (a corrupted thread-stack cache would show here).
            return change_completes("fork-pump")

        print("child exit", fork_and_wait(child), flush=True)
        gate.set()
        print("parent joined", all(pump.join() > 0 for pump in pumps), flush=True)
    """)
    assert lines == ["child joined [0, 0, 0, 0] False", "child exit 0", "parent joined True"]


def test_forking_while_another_thread_opens_and_closes_objects() -> None:
    """No lock of ours is inherited held: the registry mutex is taken across fork(), and the child's registry is
    fresh, so the child opens the same profile and gets a working object, fork after fork."""
    forks = 60
    lines = run_script(f"""
        # Everything the child runs, once before any other thread exists: Python's own per-module import locks
        # (first use of the UTF-16 codec, for example) are not reset in a fork child, and are not ours to test.
        assert change_completes("fork-warm-up") == 0
        sys.setswitchinterval(1e-5)  # the churning threads run (and release the GIL) between any two lines here
        stop = threading.Event()
        rounds = [0]

        def churn():
            while not stop.is_set():
                with mapioffline.open_offline("fork-churn", backend="embedded") as obj:
                    try:
                        obj.set_state(State.OFFLINE, block=False)
                    except mapioffline.Pending:  # another churning thread's change on the same object
                        pass
                rounds[0] += 1

        threads = [threading.Thread(target=churn) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            for i in range({forks}):
                code = fork_and_wait(lambda: change_completes("fork-churn"))
                print("child exit", code, flush=True)
                if code != 0:
                    break
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        print("churned", rounds[0] > {forks}, flush=True)
    """)
    assert lines == ["child exit 0"] * forks + ["churned True"]


LIBC_FORK_SCRIPT = """
import ctypes, os, sys
import mapioffline
from mapioffline import ClosedError, State
from mapioffline.testing import start_pump

obj = mapioffline.open_offline("one-lifecycle-fork", backend="embedded")
sink = mapioffline.Sink(8)
pump = start_pump(sink.com_pointer, 0)
pump.join()
publisher = mapioffline.bridge.publish("one-lifecycle-fork") if sys.platform == "linux" else None
live_pump = start_pump(sink.com_pointer, 0)

def report():
    print("closed", obj.closed, sink.closed, not live_pump.running,
          publisher is None or publisher.closed, flush=True)
    for what, call in (("state", lambda: obj.state), ("drain", sink.drain),
                       ("region", lambda: publisher.region_name if publisher else obj.state)):
        try:
            call()
            print(what, "worked", flush=True)
        except ClosedError as error:
            print(what, "forked" if "before fork()" in str(error) else str(error), flush=True)

# libc's fork() itself, not os.fork(): Python's own at-fork hooks do not run, the native core's (pthread_atfork)
# do. The GIL is held across the call (PyDLL), so the child goes on as this one thread.
pid = ctypes.PyDLL(None).fork()
if pid == 0:
    report()
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("child exit", os.waitstatus_to_exitcode(status), flush=True)
print("parent", obj.state.name, obj.closed, sink.closed, live_pump.running, flush=True)
live_pump.join()
for handle in (obj, sink) + ((publisher,) if publisher else ()):
    handle.close()
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() does not exist on this platform")
def test_the_fork_generation_is_the_native_one() -> None:
    """Every handle kind is inert in a child made by libc's fork(), which runs none of Python's at-fork hooks: the
    binding reads the native core's fork counter. In a fresh interpreter: forking the multi-threaded pytest process
    itself would be unsafe."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(LIBC_FORK_SCRIPT)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "closed True True True True",
        "state forked",
        "drain forked",
        "region forked",
        "child exit 0",
        "parent ONLINE False False True",
    ], result.stdout + result.stderr
    assert result.stderr == ""
