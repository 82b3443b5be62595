// A recording IMAPIOfflineNotify for tests: stores every record, runs an optional hook inside Notify.
#pragma once
#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

#include "mapioffline/mapioffline.h"

class RecordingSink final : public IMAPIOfflineNotify {
 public:
  static std::atomic<long> live;
  RecordingSink() { live.fetch_add(1); }

  HRESULT STDMETHODCALLTYPE QueryInterface(REFIID iid, void **out) noexcept override {
    if (!out) return E_POINTER;
    *out = nullptr;
    if (!refuse_notify_interface && (IsEqualGUID(iid, IID_IUnknown) || IsEqualGUID(iid, IID_IMAPIOfflineNotify))) {
      *out = static_cast<IMAPIOfflineNotify *>(this);
      AddRef();
      return S_OK;
    }
    if (refuse_notify_interface && IsEqualGUID(iid, IID_IUnknown)) {
      *out = static_cast<IUnknown *>(this);
      AddRef();
      return S_OK;
    }
    return E_NOINTERFACE;
  }
  ULONG STDMETHODCALLTYPE AddRef() noexcept override { return refs.fetch_add(1) + 1; }
  ULONG STDMETHODCALLTYPE Release() noexcept override {
    const ULONG n = refs.fetch_sub(1) - 1;
    if (n == 0) delete this;
    return n;
  }
  void STDMETHODCALLTYPE Notify(const MAPIOFFLINE_NOTIFY *n) noexcept override {
    {
      std::lock_guard<std::mutex> lock(mutex);
      records.push_back(*n);
    }
    if (hook) hook(*n);
  }
  ULONG Refs() { AddRef(); return Release(); }
  std::vector<MAPIOFFLINE_NOTIFY> Records() {
    std::lock_guard<std::mutex> lock(mutex);
    return records;
  }

  std::atomic<ULONG> refs{1};
  bool refuse_notify_interface = false;
  std::function<void(const MAPIOFFLINE_NOTIFY &)> hook;
  std::mutex mutex;
  std::vector<MAPIOFFLINE_NOTIFY> records;

 private:
  ~RecordingSink() { live.fetch_sub(1); }
};

inline std::atomic<long> RecordingSink::live{0};
