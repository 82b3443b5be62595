// The IUnknown every COM class of ours shares (the sink, the embedded and bridge objects, the publisher, the
// add-in), written once: QueryInterface over a list of IIDs, the reference count with its memory orders, an
// optional live-object counter, and the hook that runs when the count reaches zero.
//
//   class OfflineObject final : public ComObject<OfflineObject, ReservedSlots, &LiveOfflineObjects, &IID_IMAPIOffline,
//                                                &IID_IMAPIOfflineMgr> { ... };
//
// Derived calls RememberVtable() at the end of its constructor (only there is the object's vtable Derived's) if it
// wants FromInterface, which recognises its objects behind any interface pointer.
// Derived may define `void LastRelease() noexcept` (called once, by the Release that reached zero) to do more
// than `delete this` (join its threads, leak in a fork child); it must befriend the base for the default, which
// deletes through Derived's private destructor.
#pragma once
#include <atomic>

#include "mapioffline/mapioffline.h"

namespace mapioffline {

using LiveCounter = std::atomic<long> &(*)() noexcept;

// The counter of the classes nobody counts (no test reads it): one relaxed add at creation and at deletion, which
// keeps the base free of a compile-time branch on a function's address (GCC's -fsanitize=undefined does not take
// `Live != nullptr` as a constant expression).
inline std::atomic<long> &Uncounted() noexcept {
  static std::atomic<long> count{0};
  return count;
}

template <class Derived, class Interface, LiveCounter Live, const IID *... Iids>
class ComObject : public Interface {
 public:
  HRESULT STDMETHODCALLTYPE QueryInterface(REFIID iid, void **out) noexcept override {
    if (!out) return E_POINTER;
    *out = nullptr;  // defined on every failure path
    if (!Answers(iid)) return E_NOINTERFACE;
    *out = static_cast<Interface *>(this);  // single inheritance: one identity for every interface answered
    AddRef();
    return S_OK;
  }

  // relaxed: taking a reference needs a reference already held, which orders everything before it.
  ULONG STDMETHODCALLTYPE AddRef() noexcept override { return refs_.fetch_add(1, std::memory_order_relaxed) + 1; }

  ULONG STDMETHODCALLTYPE Release() noexcept override {
    // acq_rel: the thread that reaches zero must see every other thread's last use of the object.
    const ULONG n = refs_.fetch_sub(1, std::memory_order_acq_rel) - 1;
    if (n == 0) static_cast<Derived *>(this)->LastRelease();
    return n;
  }

  // The object behind p when it is a Derived (every Derived shares one vtable), else nullptr. Any thread.
  static Derived *FromInterface(const void *p) noexcept {
    const void *known = vtable_.load(std::memory_order_relaxed);
    if (!p || !known || *static_cast<const void *const *>(p) != known) return nullptr;
    return static_cast<Derived *>(static_cast<Interface *>(const_cast<void *>(p)));
  }

 protected:
  ComObject() noexcept { Live().fetch_add(1, std::memory_order_relaxed); }
  ~ComObject() { Live().fetch_sub(1, std::memory_order_relaxed); }
  ComObject(const ComObject &) = delete;
  ComObject &operator=(const ComObject &) = delete;

  void LastRelease() noexcept { delete static_cast<Derived *>(this); }

  void RememberVtable() noexcept {
    vtable_.store(*reinterpret_cast<const void *const *>(this), std::memory_order_relaxed);
  }

  // A new reference unless the count already reached zero (an object found in a registry while it is going away).
  bool TryAddRef() noexcept {
    ULONG n = refs_.load(std::memory_order_relaxed);
    while (n != 0) {
      if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }

 private:
  static bool Answers(REFIID iid) noexcept { return IsEqualGUID(iid, IID_IUnknown) || (IsEqualGUID(iid, *Iids) || ...); }

  std::atomic<ULONG> refs_{1};  // objects start with one reference, the creator's
  static inline std::atomic<const void *> vtable_{nullptr};
};

}  // namespace mapioffline
