// What the native tests share: a base for their own IMAPIOfflineNotify sinks, a recording sink, and opening and
// advising the embedded object.
#pragma once
#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "check.h"
#include "mapioffline/mapioffline.h"

// IUnknown of a test's own sink, written once: answers IUnknown and IMAPIOfflineNotify (IUnknown alone while
// refuse_notify_interface is set), counts references from 1, deletes itself at 0.
class TestSink : public IMAPIOfflineNotify {
 public:
  HRESULT STDMETHODCALLTYPE QueryInterface(REFIID iid, void **out) noexcept override {
    if (!out) return E_POINTER;
    *out = nullptr;
    if (!IsEqualGUID(iid, IID_IUnknown) && (refuse_notify_interface || !IsEqualGUID(iid, IID_IMAPIOfflineNotify))) {
      return E_NOINTERFACE;
    }
    *out = static_cast<IMAPIOfflineNotify *>(this);
    AddRef();
    return S_OK;
  }
  ULONG STDMETHODCALLTYPE AddRef() noexcept override { return refs_.fetch_add(1) + 1; }
  ULONG STDMETHODCALLTYPE Release() noexcept override {
    const ULONG n = refs_.fetch_sub(1) - 1;
    if (n == 0) delete this;
    return n;
  }
  ULONG refs() const { return refs_.load(); }

  bool refuse_notify_interface = false;

 protected:
  TestSink() = default;
  virtual ~TestSink() = default;

 private:
  std::atomic<ULONG> refs_{1};
};

// A recording IMAPIOfflineNotify: stores every record, runs an optional hook inside Notify.
class RecordingSink final : public TestSink {
 public:
  static std::atomic<long> live;
  RecordingSink() { live.fetch_add(1); }

  void STDMETHODCALLTYPE Notify(const MAPIOFFLINE_NOTIFY *n) noexcept override {
    {
      std::lock_guard<std::mutex> lock(mutex);
      records.push_back(*n);
    }
    if (hook) hook(*n);
  }
  std::vector<MAPIOFFLINE_NOTIFY> Records() {
    std::lock_guard<std::mutex> lock(mutex);
    return records;
  }

  std::function<void(const MAPIOFFLINE_NOTIFY &)> hook;
  std::mutex mutex;
  std::vector<MAPIOFFLINE_NOTIFY> records;

 private:
  ~RecordingSink() override { live.fetch_sub(1); }
};

inline std::atomic<long> RecordingSink::live{0};

inline IMAPIOfflineMgr *OpenEmbedded(const std::u16string &profile) {
  IMAPIOfflineMgr *mgr = nullptr;
  CHECK_HR(mapioffline_open_embedded(0, reinterpret_cast<const WCHAR *>(profile.c_str()), &GUID_GlobalState, nullptr,
                                     &mgr),
           S_OK);
  return mgr;
}

inline MAPIOFFLINE_ADVISEINFO AdviseInfo(IUnknown *sink, ULONG client_token) {
  MAPIOFFLINE_ADVISEINFO info;
  std::memset(&info, 0, sizeof info);
  info.ulSize = sizeof info;
  info.ulClientToken = client_token;
  info.CallbackType = MAPIOFFLINE_CALLBACK_TYPE_NOTIFY;
  info.pCallback = sink;
  info.ulAdviseTypes = MAPIOFFLINE_ADVISE_TYPE_STATECHANGE;
  info.ulStateMask = MAPIOFFLINE_STATE_ALL;
  return info;
}

// Advises `sink` for every state change; the advise token (never 0).
inline ULONG Advise(IMAPIOfflineMgr *mgr, IUnknown *sink, ULONG client_token) {
  MAPIOFFLINE_ADVISEINFO info = AdviseInfo(sink, client_token);
  ULONG token = 0;
  CHECK_HR(mgr->Advise(0, &info, &token), S_OK);
  CHECK(token != 0);
  return token;
}
