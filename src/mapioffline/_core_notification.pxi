# Notification records: SinkStats and Notification, made from the ring's 32-byte records.
# Part of _core.pyx (included there): one extension module, so the native globals exist once per process.

class SinkStats(NamedTuple):
    """Counters of a Sink. received: every well-formed Notify (dropped ones included, and for a bridge the
    notifications lost upstream); delivered: handed to a
    consumer; dropped: refused by the full ring or a closed sink (and, for a bridge, lost upstream); invalid: NULL
    or short records; dropped_reported: the drops already reported in some record's ``dropped_before`` (the rest
    belong to records still to come). ``pending`` (derived): records in the ring no consumer has taken."""

    received: int
    delivered: int
    dropped: int
    invalid: int
    dropped_reported: int = 0

    @property
    def pending(self) -> int:
        return self.received - self.delivered - self.dropped


@cython.freelist(512)
@cython.final
cdef class Notification:
    """Notification(kind, client_token=0, mask=0x3, old_state=0, new_state=0, timestamp_ns=0, dropped_before=0)
--

One notification, immutable. ``kind`` is always a NotifyKind and ``old_state``/``new_state`` always a State:
    a value a foreign manager may send outside the known ones reads as ``NotifyKind.UNKNOWN``/``State.UNKNOWN``,
    and the number as it arrived is ``raw_kind``/``raw_old_state``/``raw_new_state`` (plain ints, always set).
    ``timestamp_ns`` is on the clock of time.perf_counter_ns(); ``dropped_before`` counts notifications the full
    ring dropped just before this one."""

    cdef uint32_t _kind
    cdef readonly uint32_t client_token
    cdef readonly uint32_t mask
    cdef uint32_t _old
    cdef uint32_t _new
    cdef readonly uint64_t timestamp_ns
    cdef readonly uint64_t dropped_before

    def __init__(self, kind, client_token=0, mask=0x3, old_state=0, new_state=0, timestamp_ns=0,
                 dropped_before=0):
        # No int() coercion: a float or str is a TypeError (enum members are ints already).
        self._kind = _ulong(kind, "kind")
        self.client_token = _ulong(client_token, "client_token")
        self.mask = _ulong(mask, "mask")
        self._old = _ulong(old_state, "old_state")
        self._new = _ulong(new_state, "new_state")
        self.timestamp_ns = _u64(timestamp_ns, "timestamp_ns")
        self.dropped_before = _u64(dropped_before, "dropped_before")

    @property
    def kind(self):
        """The NotifyKind (NotifyKind.UNKNOWN for a value outside MAPIOFFLINE_NOTIFY_TYPE_*; see raw_kind)."""
        return _kind_of(self._kind)

    @property
    def old_state(self):
        """The State before the change (State.UNKNOWN for a value other than OFFLINE/ONLINE; see raw_old_state)."""
        return _state_of(self._old)

    @property
    def new_state(self):
        """The State after the change (State.UNKNOWN for a value other than OFFLINE/ONLINE; see raw_new_state)."""
        return _state_of(self._new)

    @property
    def raw_kind(self):
        """NotifyType exactly as the manager sent it (an int)."""
        return self._kind

    @property
    def raw_old_state(self):
        """ulStateOld exactly as the manager sent it (an int)."""
        return self._old

    @property
    def raw_new_state(self):
        """ulStateNew exactly as the manager sent it (an int)."""
        return self._new

    @property
    def is_state_change(self):
        """True when the docs let a client trust the states: a known kind and mask == OFFLINE_MASK."""
        return 1 <= self._kind <= 3 and self.mask == MAPIOFFLINE_STATE_OFFLINE_MASK

    def _key(self):
        return (self._kind, self.client_token, self.mask, self._old, self._new, self.timestamp_ns,
                self.dropped_before)

    def __eq__(self, other):
        if not isinstance(other, Notification):
            return NotImplemented
        return self._key() == (<Notification>other)._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return (f"Notification(kind={_show(self.kind, self._kind)}, client_token={self.client_token}, "
                f"mask=0x{self.mask:X}, old_state={_show(self.old_state, self._old)}, "
                f"new_state={_show(self.new_state, self._new)}, timestamp_ns={self.timestamp_ns}, "
                f"dropped_before={self.dropped_before})")

    def to_dict(self):
        """Every field as a JSON-serialisable dict: ``kind``/``old_state``/``new_state`` by name ("UNKNOWN" for
        a value outside the known ones), the numbers as they arrived beside them (``kind_value``,
        ``old_state_value``, ``new_state_value``), then client_token, mask, timestamp_ns, dropped_before."""
        return {
            "kind": self.kind.name,
            "kind_value": self._kind,
            "client_token": self.client_token,
            "mask": self.mask,
            "old_state": self.old_state.name,
            "old_state_value": self._old,
            "new_state": self.new_state.name,
            "new_state_value": self._new,
            "timestamp_ns": self.timestamp_ns,
            "dropped_before": self.dropped_before,
        }

    def __reduce__(self):
        return (Notification, (self._kind, self.client_token, self.mask, self._old, self._new, self.timestamp_ns,
                               self.dropped_before))


cdef inline Notification _make(const MAPIOFFLINE_RECORD *r, uint64_t dropped_before):
    cdef Notification n = Notification.__new__(Notification)
    n._kind = <uint32_t>r.notify.NotifyType
    n.client_token = r.notify.ulClientToken
    n.mask = r.notify.Info.StateChange.ulMask
    n._old = r.notify.Info.StateChange.ulStateOld
    n._new = r.notify.Info.StateChange.ulStateNew
    n.timestamp_ns = r.timestamp_ns
    n.dropped_before = dropped_before
    return n
