"""What the two stateful machines (unit/test_stateful.py, unit/test_stateful_bursts.py) share: embedded objects of a
few profiles, opened and closed, the state the model expects of each, and the records an accepted state change
sends to the subscriptions. Each machine keeps its own rules and its own model of a subscription (with ``profile``,
``token``, ``active``, ``closed``, ``sub`` and a ``sink`` model that has ``push`` and ``feeds``)."""

from __future__ import annotations

from typing import Any

from hypothesis.stateful import RuleBasedStateMachine

from mapioffline import OfflineObject, State, open_offline


class ObjectsMachine(RuleBasedStateMachine):
    profiles: list[str]

    def __init__(self) -> None:
        super().__init__()
        self.state = {p: State.ONLINE for p in self.profiles}
        self.open_handles: dict[str, list[OfflineObject]] = {p: [] for p in self.profiles}
        self.all_subs: list[Any] = []
        self.next_token = 1

    def _alive(self, profile: str) -> bool:
        return bool(self.open_handles[profile]) or any(m.profile == profile and not m.closed for m in self.all_subs)

    def _new_token(self) -> int:
        self.next_token += 1
        return self.next_token - 1

    def _open(self, profile: str) -> OfflineObject:
        if not self._alive(profile):
            self.state[profile] = State.ONLINE  # every handle was closed: a fresh object starts ONLINE
        obj = open_offline(profile, backend="embedded")
        self.open_handles[profile].append(obj)
        assert obj.state is self.state[profile]
        return obj

    def _close_handle(self, obj: OfflineObject) -> None:
        obj.close()
        self.open_handles[obj.profile].remove(obj)

    def _apply(self, profile: str, target: State) -> None:
        """A change of ``profile`` to ``target`` was accepted: START, STATECHANGE and DONE go to every active
        subscription of the profile, in advise order (= delivery order). Setting the current state sends nothing,
        also when the request is queued after a DONE."""
        old = self.state[profile]
        if target == old:
            return
        for kind in (1, 2, 3):
            for m in self.all_subs:
                if m.profile == profile and m.active:
                    m.sink.push((kind, m.token, int(old), int(target)))
            self._sent(profile, kind, old, target)
        self.state[profile] = target

    def _sent(self, profile: str, kind: int, old: State, new: State) -> None:
        """Hook: a record of a change went to the subscriptions; a machine with other receivers adds theirs."""

    def _end(self, m: Any) -> bool:
        """The subscription stops feeding its sink; False when it had already."""
        if not m.active:
            return False
        m.active = False
        m.sink.feeds -= 1
        return True

    def _close_all(self) -> None:
        """Teardown: closes every subscription and handle (both idempotent), so the next example starts fresh."""
        for m in self.all_subs:
            m.sub.close()
        for handles in self.open_handles.values():
            for obj in handles:
                obj.close()
