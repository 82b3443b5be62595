/*
 * mapioffline.h -- the Outlook Offline State API ABI and the mapioffline C API.
 *
 * Usable from C99 and C++17. On Windows (mingw-w64 included) it builds on the system's <windows.h> and
 * <unknwn.h>; elsewhere it defines the few COM types it needs itself, with Windows' sizes: ULONG is 32-bit
 * unsigned, HRESULT 32-bit signed, WCHAR a 16-bit code unit, and STDMETHODCALLTYPE is stdcall on i386 so that
 * 32-bit Linux reproduces the Win32 calling convention. On x86_64 Linux the native (SysV) ABI is used: there is
 * no Outlook to be compatible with there, and our own callers are compiled with the same header.
 *
 * This header holds declarations only. Spec references (section numbers) are to shared/spec/offline-state-api.md.
 */
#ifndef MAPIOFFLINE_MAPIOFFLINE_H
#define MAPIOFFLINE_MAPIOFFLINE_H

#define MAPIOFFLINE_VERSION_MAJOR 0
#define MAPIOFFLINE_VERSION_MINOR 1
#define MAPIOFFLINE_VERSION_PATCH 0
#define MAPIOFFLINE_VERSION_STRING "0.1.0"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------------------------------ */
/* Base COM types                                                                                                */
/* ------------------------------------------------------------------------------------------------------------ */
#if defined(_WIN32)
/* The whole <windows.h>, configured only by the client's own macros: defining WIN32_LEAN_AND_MEAN or NOMINMAX here
 * would turn a client's later #include <windows.h> into a no-op (include guards) that lacks shellapi, mmsystem,
 * min/max... A client that wants a lean windows.h defines those macros itself before including us. */
#include <windows.h>
#include <unknwn.h>
/* MAPI's own error values first (mingw-w64 and the Outlook MAPI headers ship mapicode.h), so that the fallbacks
 * below are skipped instead of becoming macro redefinitions when the client includes mapicode.h / mapix.h later. */
#if defined(__has_include)
#if __has_include(<mapicode.h>)
#include <mapicode.h>
#endif
#endif
#define MAPIOFFLINE_HAVE_SYSTEM_COM 1
#else
#define MAPIOFFLINE_HAVE_SYSTEM_COM 0
#include <string.h>

#if defined(__i386__)
#define STDMETHODCALLTYPE __attribute__((stdcall))
#else
#define STDMETHODCALLTYPE
#endif
#define STDAPICALLTYPE STDMETHODCALLTYPE

/* Windows' sizes, not the host's: LONG and ULONG are 32-bit on Windows (LLP64) but long is 64-bit on LP64 Linux. */
typedef uint32_t ULONG;
typedef int32_t LONG;
typedef int32_t HRESULT;
#ifdef __cplusplus
typedef char16_t WCHAR;
#else
typedef uint16_t WCHAR;
#endif
typedef WCHAR *LPWSTR;
typedef const WCHAR *LPCWSTR;
typedef void *LPVOID;

/* The spellings COM code is written with (Microsoft's samples define their methods with STDMETHODIMP). Each is
 * left alone when the client defined it first. */
#ifndef EXTERN_C
#ifdef __cplusplus
#define EXTERN_C extern "C"
#else
#define EXTERN_C extern
#endif
#endif
#ifndef STDMETHODIMP
#define STDMETHODIMP HRESULT STDMETHODCALLTYPE
#endif
#ifndef STDMETHODIMP_
#define STDMETHODIMP_(type) type STDMETHODCALLTYPE
#endif
#ifdef __cplusplus
#ifndef STDMETHOD
#define STDMETHOD(method) virtual HRESULT STDMETHODCALLTYPE method
#endif
#ifndef STDMETHOD_
#define STDMETHOD_(type, method) virtual type STDMETHODCALLTYPE method
#endif
#endif
/* selectany's ELF counterpart: identical definitions in several objects (a client's INITGUID translation units,
 * our library) merge instead of clashing. */
#ifndef DECLSPEC_SELECTANY
#define DECLSPEC_SELECTANY __attribute__((weak))
#endif

typedef struct _GUID {
  uint32_t Data1;
  uint16_t Data2;
  uint16_t Data3;
  uint8_t Data4[8];
} GUID;
typedef GUID IID;

#ifdef __cplusplus
typedef const IID &REFIID;
typedef const GUID &REFGUID;
inline bool operator==(const GUID &a, const GUID &b) { return memcmp(&a, &b, sizeof(GUID)) == 0; }
inline bool operator!=(const GUID &a, const GUID &b) { return !(a == b); }
inline int IsEqualGUID(REFGUID a, REFGUID b) { return a == b; }
#else
typedef const IID *REFIID;
typedef const GUID *REFGUID;
static inline int IsEqualGUID(REFGUID a, REFGUID b) { return memcmp(a, b, sizeof(GUID)) == 0; }
#endif

#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#define FAILED(hr) (((HRESULT)(hr)) < 0)
#define S_OK ((HRESULT)0x00000000)
#define S_FALSE ((HRESULT)0x00000001)
#define E_PENDING ((HRESULT)0x8000000A)
#define E_INVALIDARG ((HRESULT)0x80070057)
#define E_NOINTERFACE ((HRESULT)0x80004002)
#define E_POINTER ((HRESULT)0x80004003)
#define E_NOTIMPL ((HRESULT)0x80004001)
#define E_FAIL ((HRESULT)0x80004005)
#define E_OUTOFMEMORY ((HRESULT)0x8007000E)

#ifdef __cplusplus
/* IUnknown as COM lays it out: three pure virtual slots, no destructor in the vtable. */
struct IUnknown {
  virtual HRESULT STDMETHODCALLTYPE QueryInterface(REFIID riid, void **ppvObject) = 0;
  virtual ULONG STDMETHODCALLTYPE AddRef() = 0;
  virtual ULONG STDMETHODCALLTYPE Release() = 0;
};
#else
typedef struct IUnknown IUnknown;
typedef struct IUnknownVtbl {
  HRESULT(STDMETHODCALLTYPE *QueryInterface)(IUnknown *This, REFIID riid, void **ppvObject);
  ULONG(STDMETHODCALLTYPE *AddRef)(IUnknown *This);
  ULONG(STDMETHODCALLTYPE *Release)(IUnknown *This);
} IUnknownVtbl;
struct IUnknown {
  const IUnknownVtbl *lpVtbl;
};
#endif
#endif /* !_WIN32 */

/* MAPI error values (spec §1); mapicode.h defines some of them on Windows. MAPI_E_x = 0x80040000 | code. */
#ifndef MAPI_E_CALL_FAILED
#define MAPI_E_CALL_FAILED E_FAIL
#endif
#ifndef MAPI_E_NOT_FOUND
#define MAPI_E_NOT_FOUND ((HRESULT)0x8004010F)
#endif
#ifndef MAPI_E_NO_SUPPORT
#define MAPI_E_NO_SUPPORT ((HRESULT)0x80040102)
#endif
#ifndef MAPI_E_UNKNOWN_FLAGS
#define MAPI_E_UNKNOWN_FLAGS ((HRESULT)0x80040106)
#endif
#ifndef MAPI_E_INVALID_PARAMETER
#define MAPI_E_INVALID_PARAMETER E_INVALIDARG
#endif
#ifndef MAPI_E_INTERFACE_NOT_SUPPORTED
#define MAPI_E_INTERFACE_NOT_SUPPORTED E_NOINTERFACE
#endif

/* C linkage for data and functions; `extern "C"` in C++, plain `extern` in C. */
#ifdef __cplusplus
#define MAPIOFFLINE_EXTERN_C extern "C"
#else
#define MAPIOFFLINE_EXTERN_C extern
#endif

/* ------------------------------------------------------------------------------------------------------------ */
/* Constants (spec §1)                                                                                           */
/* ------------------------------------------------------------------------------------------------------------ */
#define MAPIOFFLINE_ADVISE_DEFAULT ((ULONG)0)
#define MAPIOFFLINE_UNADVISE_DEFAULT ((ULONG)0)
#define MAPIOFFLINE_ADVISE_TYPE_STATECHANGE ((ULONG)1)
#define MAPIOFFLINE_CAPABILITY_OFFLINE ((ULONG)0x1)
#define MAPIOFFLINE_CAPABILITY_ONLINE ((ULONG)0x2)
#define MAPIOFFLINE_FLAG_BLOCK ((ULONG)0x00002000)
#define MAPIOFFLINE_FLAG_DEFAULT ((ULONG)0x00000000)
#define MAPIOFFLINE_STATE_ALL ((ULONG)0x003F037F)
#define MAPIOFFLINE_STATE_OFFLINE_MASK ((ULONG)0x00000003)
#define MAPIOFFLINE_STATE_OFFLINE ((ULONG)0x00000001)
#define MAPIOFFLINE_STATE_ONLINE ((ULONG)0x00000002)

/* In C++ the enums get int as their fixed underlying type (same size and alignment as the C enums, and int as MSVC
 * uses): that makes every value Outlook may send valid, where a plain C++ enum would make loading 99 undefined. */
#ifdef __cplusplus
#define MAPIOFFLINE_ENUM_BASE : int
#else
#define MAPIOFFLINE_ENUM_BASE
#endif
typedef enum MAPIOFFLINE_CALLBACK_TYPE MAPIOFFLINE_ENUM_BASE {
  MAPIOFFLINE_CALLBACK_TYPE_NOTIFY = 0
} MAPIOFFLINE_CALLBACK_TYPE;

/* Outlook may send other values; our sink delivers unknown values unchanged and leaves the decision to its
 * consumer (the Python layer reads them as NotifyKind.UNKNOWN and keeps the number as raw_kind). */
typedef enum MAPIOFFLINE_NOTIFY_TYPE MAPIOFFLINE_ENUM_BASE {
  MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_START = 1,
  MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE = 2,
  MAPIOFFLINE_NOTIFY_TYPE_STATECHANGE_DONE = 3
} MAPIOFFLINE_NOTIFY_TYPE;

/* ------------------------------------------------------------------------------------------------------------ */
/* GUIDs (spec §1). Declared here; the library defines each in its own translation unit and as selectany (weak
 * off Windows), so a client that defines them itself, as Microsoft's samples do (INITGUID + DEFINE_GUID), links
 * without "multiple definition": its definition wins, ours is either not pulled from the archive or merged.
 * IID_IUnknown comes from the system (-luuid) on Windows. The values are spelled once, as DEFINE_GUID's
 * argument list (MAPIOFFLINE_GUID_*), and as the string __declspec(uuid) needs (MAPIOFFLINE_UUID_*).         */
/* ------------------------------------------------------------------------------------------------------------ */
#define MAPIOFFLINE_GUID_IID_IUnknown 0x00000000, 0x0000, 0x0000, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46
#define MAPIOFFLINE_GUID_IID_IMAPIOffline 0x000672B5, 0x0000, 0x0000, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46
#define MAPIOFFLINE_GUID_IID_IMAPIOfflineMgr 0x42175607, 0xFF3E, 0x4790, 0xBC, 0x18, 0x66, 0xC8, 0x64, 0x3E, 0x64, 0x24
#define MAPIOFFLINE_GUID_IID_IMAPIOfflineNotify \
  0x0317BDE5, 0xFC29, 0x44CD, 0x8D, 0xCD, 0x36, 0x12, 0x5A, 0x3B, 0xE9, 0xEC
#define MAPIOFFLINE_GUID_GUID_GlobalState 0xFBEFFD93, 0xB11F, 0x4094, 0x84, 0x2B, 0x96, 0xDC, 0xD3, 0x1E, 0x63, 0xD1
#define MAPIOFFLINE_UUID_IID_IMAPIOffline "000672B5-0000-0000-C000-000000000046"
#define MAPIOFFLINE_UUID_IID_IMAPIOfflineMgr "42175607-FF3E-4790-BC18-66C8643E6424"
#define MAPIOFFLINE_UUID_IID_IMAPIOfflineNotify "0317BDE5-FC29-44CD-8DCD-36125A3BE9EC"

#if !MAPIOFFLINE_HAVE_SYSTEM_COM
MAPIOFFLINE_EXTERN_C const IID IID_IUnknown;
#endif
MAPIOFFLINE_EXTERN_C const IID IID_IMAPIOffline;
MAPIOFFLINE_EXTERN_C const IID IID_IMAPIOfflineMgr;
MAPIOFFLINE_EXTERN_C const IID IID_IMAPIOfflineNotify;
MAPIOFFLINE_EXTERN_C const GUID GUID_GlobalState;

/* ------------------------------------------------------------------------------------------------------------ */
/* Structures (spec §3)                                                                                          */
/* ------------------------------------------------------------------------------------------------------------ */
typedef struct MAPIOFFLINE_ADVISEINFO {
  ULONG ulSize;
  ULONG ulClientToken;
  MAPIOFFLINE_CALLBACK_TYPE CallbackType;
  IUnknown *pCallback;
  ULONG ulAdviseTypes;
  ULONG ulStateMask;
} MAPIOFFLINE_ADVISEINFO;

typedef struct MAPIOFFLINE_NOTIFY {
  ULONG ulSize;
  MAPIOFFLINE_NOTIFY_TYPE NotifyType;
  ULONG ulClientToken;
  union {
    struct {
      ULONG ulMask;
      ULONG ulStateOld;
      ULONG ulStateNew;
    } StateChange;
  } Info;
} MAPIOFFLINE_NOTIFY;

/* Compile-time layout checks, for 32- and 64-bit (C99 has no static_assert, hence the array trick). */
#ifdef __cplusplus
#define MAPIOFFLINE_STATIC_ASSERT(cond, name) static_assert(cond, #name)
#else
#define MAPIOFFLINE_STATIC_ASSERT(cond, name) typedef char mapioffline_assert_##name[(cond) ? 1 : -1]
#endif
#define MAPIOFFLINE_P64 (sizeof(void *) == 8)
#if defined(__cplusplus)
#define MAPIOFFLINE_ALIGNOF(t) alignof(t)
#elif defined(_MSC_VER)
#define MAPIOFFLINE_ALIGNOF(t) __alignof(t)
#else
#define MAPIOFFLINE_ALIGNOF(t) __alignof__(t)
#endif
MAPIOFFLINE_STATIC_ASSERT(sizeof(ULONG) == 4, ulong_is_32_bit);
MAPIOFFLINE_STATIC_ASSERT(sizeof(HRESULT) == 4, hresult_is_32_bit);
MAPIOFFLINE_STATIC_ASSERT(sizeof(WCHAR) == 2, wchar_is_16_bit);
MAPIOFFLINE_STATIC_ASSERT(sizeof(GUID) == 16, guid_is_16_bytes);
MAPIOFFLINE_STATIC_ASSERT(sizeof(MAPIOFFLINE_CALLBACK_TYPE) == 4, enum_is_4_bytes);
MAPIOFFLINE_STATIC_ASSERT(offsetof(MAPIOFFLINE_ADVISEINFO, ulSize) == 0, adviseinfo_ulSize);
MAPIOFFLINE_STATIC_ASSERT(offsetof(MAPIOFFLINE_ADVISEINFO, ulClientToken) == 4, adviseinfo_ulClientToken);
MAPIOFFLINE_STATIC_ASSERT(offsetof(MAPIOFFLINE_ADVISEINFO, CallbackType) == 8, adviseinfo_CallbackType);
MAPIOFFLINE_STATIC_ASSERT(offsetof(MAPIOFFLINE_ADVISEINFO, pCallback) == (MAPIOFFLINE_P64 ? 16 : 12),
                          adviseinfo_pCallback);
MAPIOFFLINE_STATIC_ASSERT(offsetof(MAPIOFFLINE_ADVISEINFO, ulAdviseTypes) == (MAPIOFFLINE_P64 ? 24 : 16),
                          adviseinfo_ulAdviseTypes);
MAPIOFFLINE_STATIC_ASSERT(offsetof(MAPIOFFLINE_ADVISEINFO, ulStateMask) == (MAPIOFFLINE_P64 ? 28 : 20),
                          adviseinfo_ulStateMask);
MAPIOFFLINE_STATIC_ASSERT(sizeof(MAPIOFFLINE_ADVISEINFO) == (MAPIOFFLINE_P64 ? 32 : 24), adviseinfo_size);
MAPIOFFLINE_STATIC_ASSERT(MAPIOFFLINE_ALIGNOF(MAPIOFFLINE_ADVISEINFO) == (MAPIOFFLINE_P64 ? 8 : 4), adviseinfo_align);
MAPIOFFLINE_STATIC_ASSERT(offsetof(MAPIOFFLINE_NOTIFY, ulSize) == 0, notify_ulSize);
MAPIOFFLINE_STATIC_ASSERT(offsetof(MAPIOFFLINE_NOTIFY, NotifyType) == 4, notify_NotifyType);
MAPIOFFLINE_STATIC_ASSERT(offsetof(MAPIOFFLINE_NOTIFY, ulClientToken) == 8, notify_ulClientToken);
MAPIOFFLINE_STATIC_ASSERT(offsetof(MAPIOFFLINE_NOTIFY, Info.StateChange.ulMask) == 12, notify_ulMask);
MAPIOFFLINE_STATIC_ASSERT(offsetof(MAPIOFFLINE_NOTIFY, Info.StateChange.ulStateOld) == 16, notify_ulStateOld);
MAPIOFFLINE_STATIC_ASSERT(offsetof(MAPIOFFLINE_NOTIFY, Info.StateChange.ulStateNew) == 20, notify_ulStateNew);
MAPIOFFLINE_STATIC_ASSERT(sizeof(MAPIOFFLINE_NOTIFY) == 24, notify_size);
MAPIOFFLINE_STATIC_ASSERT(MAPIOFFLINE_ALIGNOF(MAPIOFFLINE_NOTIFY) == 4, notify_align);

/* ------------------------------------------------------------------------------------------------------------ */
/* Interfaces (spec §2). C++: abstract classes, single inheritance, no destructor in the vtable.                  */
/* C: Windows' own pattern, a struct whose only member is lpVtbl.                                               */
/* Placeholder slots take only `this`: their real signatures are unknown, and they must never be called.       */
/* ------------------------------------------------------------------------------------------------------------ */
#ifdef __cplusplus
struct IMAPIOffline : public IUnknown {
  virtual HRESULT STDMETHODCALLTYPE SetCurrentState(ULONG ulFlags, ULONG ulMask, ULONG ulState,
                                                    void *pReserved) = 0;                 /* slot 3 */
  virtual HRESULT STDMETHODCALLTYPE GetCapabilities(ULONG *pulCapabilities) = 0;         /* slot 4 */
  virtual HRESULT STDMETHODCALLTYPE GetCurrentState(ULONG *pulState) = 0;                /* slot 5 */
  virtual HRESULT STDMETHODCALLTYPE Placeholder1() = 0;                                  /* slot 6 */
};
struct IMAPIOfflineMgr : public IMAPIOffline {
  virtual HRESULT STDMETHODCALLTYPE Advise(ULONG ulFlags, MAPIOFFLINE_ADVISEINFO *pAdviseInfo,
                                           ULONG *pulAdviseToken) = 0;                   /* slot 7 */
  virtual HRESULT STDMETHODCALLTYPE Unadvise(ULONG ulFlags, ULONG ulAdviseToken) = 0;    /* slot 8 */
  virtual HRESULT STDMETHODCALLTYPE Placeholder2() = 0;                                  /* slots 9-15 */
  virtual HRESULT STDMETHODCALLTYPE Placeholder3() = 0;
  virtual HRESULT STDMETHODCALLTYPE Placeholder4() = 0;
  virtual HRESULT STDMETHODCALLTYPE Placeholder5() = 0;
  virtual HRESULT STDMETHODCALLTYPE Placeholder6() = 0;
  virtual HRESULT STDMETHODCALLTYPE Placeholder7() = 0;
  virtual HRESULT STDMETHODCALLTYPE Placeholder8() = 0;
};
struct IMAPIOfflineNotify : public IUnknown {
  /* Documented return type is void (spec §7.3): the manager ignores the return register either way. */
  virtual void STDMETHODCALLTYPE Notify(const MAPIOFFLINE_NOTIFY *pNotifyInfo) = 0;     /* slot 3 */
};
#else
typedef struct IMAPIOffline IMAPIOffline;
typedef struct IMAPIOfflineMgr IMAPIOfflineMgr;
typedef struct IMAPIOfflineNotify IMAPIOfflineNotify;

typedef struct IMAPIOfflineVtbl {
  HRESULT(STDMETHODCALLTYPE *QueryInterface)(IMAPIOffline *This, REFIID riid, void **ppvObject);
  ULONG(STDMETHODCALLTYPE *AddRef)(IMAPIOffline *This);
  ULONG(STDMETHODCALLTYPE *Release)(IMAPIOffline *This);
  HRESULT(STDMETHODCALLTYPE *SetCurrentState)(IMAPIOffline *This, ULONG ulFlags, ULONG ulMask, ULONG ulState,
                                              void *pReserved);
  HRESULT(STDMETHODCALLTYPE *GetCapabilities)(IMAPIOffline *This, ULONG *pulCapabilities);
  HRESULT(STDMETHODCALLTYPE *GetCurrentState)(IMAPIOffline *This, ULONG *pulState);
  HRESULT(STDMETHODCALLTYPE *Placeholder1)(IMAPIOffline *This);
} IMAPIOfflineVtbl;
struct IMAPIOffline {
  const IMAPIOfflineVtbl *lpVtbl;
};

typedef struct IMAPIOfflineMgrVtbl {
  HRESULT(STDMETHODCALLTYPE *QueryInterface)(IMAPIOfflineMgr *This, REFIID riid, void **ppvObject);
  ULONG(STDMETHODCALLTYPE *AddRef)(IMAPIOfflineMgr *This);
  ULONG(STDMETHODCALLTYPE *Release)(IMAPIOfflineMgr *This);
  HRESULT(STDMETHODCALLTYPE *SetCurrentState)(IMAPIOfflineMgr *This, ULONG ulFlags, ULONG ulMask, ULONG ulState,
                                              void *pReserved);
  HRESULT(STDMETHODCALLTYPE *GetCapabilities)(IMAPIOfflineMgr *This, ULONG *pulCapabilities);
  HRESULT(STDMETHODCALLTYPE *GetCurrentState)(IMAPIOfflineMgr *This, ULONG *pulState);
  HRESULT(STDMETHODCALLTYPE *Placeholder1)(IMAPIOfflineMgr *This);
  HRESULT(STDMETHODCALLTYPE *Advise)(IMAPIOfflineMgr *This, ULONG ulFlags, MAPIOFFLINE_ADVISEINFO *pAdviseInfo,
                                     ULONG *pulAdviseToken);
  HRESULT(STDMETHODCALLTYPE *Unadvise)(IMAPIOfflineMgr *This, ULONG ulFlags, ULONG ulAdviseToken);
  HRESULT(STDMETHODCALLTYPE *Placeholder2)(IMAPIOfflineMgr *This);
  HRESULT(STDMETHODCALLTYPE *Placeholder3)(IMAPIOfflineMgr *This);
  HRESULT(STDMETHODCALLTYPE *Placeholder4)(IMAPIOfflineMgr *This);
  HRESULT(STDMETHODCALLTYPE *Placeholder5)(IMAPIOfflineMgr *This);
  HRESULT(STDMETHODCALLTYPE *Placeholder6)(IMAPIOfflineMgr *This);
  HRESULT(STDMETHODCALLTYPE *Placeholder7)(IMAPIOfflineMgr *This);
  HRESULT(STDMETHODCALLTYPE *Placeholder8)(IMAPIOfflineMgr *This);
} IMAPIOfflineMgrVtbl;
struct IMAPIOfflineMgr {
  const IMAPIOfflineMgrVtbl *lpVtbl;
};

typedef struct IMAPIOfflineNotifyVtbl {
  HRESULT(STDMETHODCALLTYPE *QueryInterface)(IMAPIOfflineNotify *This, REFIID riid, void **ppvObject);
  ULONG(STDMETHODCALLTYPE *AddRef)(IMAPIOfflineNotify *This);
  ULONG(STDMETHODCALLTYPE *Release)(IMAPIOfflineNotify *This);
  void(STDMETHODCALLTYPE *Notify)(IMAPIOfflineNotify *This, const MAPIOFFLINE_NOTIFY *pNotifyInfo);
} IMAPIOfflineNotifyVtbl;
struct IMAPIOfflineNotify {
  const IMAPIOfflineNotifyVtbl *lpVtbl;
};

MAPIOFFLINE_STATIC_ASSERT(offsetof(IMAPIOfflineVtbl, GetCurrentState) == 5 * sizeof(void *), vtbl_getstate);
MAPIOFFLINE_STATIC_ASSERT(sizeof(IMAPIOfflineVtbl) == 7 * sizeof(void *), vtbl_offline_slots);
MAPIOFFLINE_STATIC_ASSERT(offsetof(IMAPIOfflineMgrVtbl, Advise) == 7 * sizeof(void *), vtbl_advise);
MAPIOFFLINE_STATIC_ASSERT(offsetof(IMAPIOfflineMgrVtbl, Unadvise) == 8 * sizeof(void *), vtbl_unadvise);
MAPIOFFLINE_STATIC_ASSERT(sizeof(IMAPIOfflineMgrVtbl) == 16 * sizeof(void *), vtbl_mgr_slots);
MAPIOFFLINE_STATIC_ASSERT(offsetof(IMAPIOfflineNotifyVtbl, Notify) == 3 * sizeof(void *), vtbl_notify);
#endif

/* __uuidof(IMAPIOfflineMgr) and IID_PPV_ARGS(&p): MSVC (and clang in MSVC mode) read __declspec(uuid) from a
 * redeclaration; mingw-w64's g++ emulates __uuidof with a template that __CRT_UUID_DECL specialises. */
#ifdef __cplusplus
#if defined(_MSC_VER) || (defined(_WIN32) && defined(__clang__) && defined(USE___UUIDOF) && USE___UUIDOF)
struct __declspec(uuid(MAPIOFFLINE_UUID_IID_IMAPIOffline)) IMAPIOffline;
struct __declspec(uuid(MAPIOFFLINE_UUID_IID_IMAPIOfflineMgr)) IMAPIOfflineMgr;
struct __declspec(uuid(MAPIOFFLINE_UUID_IID_IMAPIOfflineNotify)) IMAPIOfflineNotify;
#elif defined(__CRT_UUID_DECL)
#define MAPIOFFLINE_CRT_UUID_DECL(type, value) __CRT_UUID_DECL(type, value)  /* one more expansion splits value */
MAPIOFFLINE_CRT_UUID_DECL(IMAPIOffline, MAPIOFFLINE_GUID_IID_IMAPIOffline)
MAPIOFFLINE_CRT_UUID_DECL(IMAPIOfflineMgr, MAPIOFFLINE_GUID_IID_IMAPIOfflineMgr)
MAPIOFFLINE_CRT_UUID_DECL(IMAPIOfflineNotify, MAPIOFFLINE_GUID_IID_IMAPIOfflineNotify)
#undef MAPIOFFLINE_CRT_UUID_DECL
#endif
#endif

/* HrOpenOfflineObj's type, exactly as Microsoft declares it (hropenofflineobj page): a client resolves the export
 * with GetProcAddress into a HROPENOFFLINEOBJ*, and mapioffline_open_embedded is assignable to one. */
typedef HRESULT(STDMETHODCALLTYPE HROPENOFFLINEOBJ)(ULONG ulReserved, LPCWSTR pwszProfileNameIn, const GUID *pGUID,
                                                    const GUID *pReserved, IMAPIOfflineMgr **ppOfflineObj);

/* ------------------------------------------------------------------------------------------------------------ */
/* mapioffline C API                                                                                             */
/* ------------------------------------------------------------------------------------------------------------ */

/* One delivered notification as the sink stores it, and the raw record format of drain-into-buffer:
 * the 24-byte MAPIOFFLINE_NOTIFY, then the 64-bit timestamp (32 bytes, no padding; Python struct "<6IQ"). */
typedef struct MAPIOFFLINE_RECORD {
  MAPIOFFLINE_NOTIFY notify;
  uint64_t timestamp_ns;
} MAPIOFFLINE_RECORD;
MAPIOFFLINE_STATIC_ASSERT(sizeof(MAPIOFFLINE_RECORD) == 32, record_size);
MAPIOFFLINE_STATIC_ASSERT(offsetof(MAPIOFFLINE_RECORD, timestamp_ns) == 24, record_timestamp);

/* Counters of a sink. received = every well-formed Notify (dropped ones included); delivered = records handed to
 * a consumer; dropped = records the full ring (or a closed sink) refused; invalid = NULL or short records. */
typedef struct MAPIOFFLINE_SINK_STATS {
  uint64_t received;
  uint64_t delivered;
  uint64_t dropped;
  uint64_t invalid;
  uint64_t dropped_reported; /* drops already reported in some record's dropped_before (the rest: still to come) */
} MAPIOFFLINE_SINK_STATS;

/* Results of mapioffline_sink_wait. */
#define MAPIOFFLINE_WAIT_READY 1   /* a notification is pending (or it was a spurious wake: pop to find out) */
#define MAPIOFFLINE_WAIT_TIMEOUT 0 /* the timeout passed with nothing pending */
#define MAPIOFFLINE_WAIT_CLOSED (-1) /* the sink was closed and nothing is pending */
#define MAPIOFFLINE_WAIT_ENDED (-2)  /* the sink's stream ended (see mapioffline_sink_end_reason), nothing pending */
#define MAPIOFFLINE_WAIT_INTERRUPTED 2 /* the interrupt count moved past the one the caller had seen */

/* Why a sink's stream ended (mapioffline_sink_end_reason). */
#define MAPIOFFLINE_END_NONE 0           /* still streaming, or no feed ever attached */
#define MAPIOFFLINE_END_UNADVISED 1      /* every feed that attached has detached */
#define MAPIOFFLINE_END_PUBLISHER_GONE 2 /* a feed's publisher (another process) died */
#define MAPIOFFLINE_END_FAILED 3         /* a feed failed for another reason */

/* Capacity limits of a sink's ring; the capacity is rounded up to a power of two, at least 2. */
#define MAPIOFFLINE_SINK_MIN_CAPACITY 1u
#define MAPIOFFLINE_SINK_MAX_CAPACITY (1u << 24)

/* The longest profile name, in UTF-16 code units: a MAPI profile is a registry key, whose names have at most 255
 * characters. Every function here that takes a profile name refuses, with E_INVALIDARG, an empty one, a longer one
 * and one with an unpaired surrogate (mapioffline_profile_name_error says which). */
#define MAPIOFFLINE_MAX_PROFILE_NAME 255u

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string (MAPIOFFLINE_VERSION_STRING of the build that made it). */
const char *mapioffline_version(void);

/* Why `name` is not a valid profile name (see MAPIOFFLINE_MAX_PROFILE_NAME), as a static string that quotes no
 * part of it, or NULL when it is valid. */
const char *mapioffline_profile_name_error(const WCHAR *name);

/* Opens the embedded offline object for a profile: the exact signature and argument rules of HrOpenOfflineObj
 * (spec §5, §7.13). One object per profile name (compared case-insensitively); every valid profile name
 * (mapioffline_profile_name_error) names one. Returns S_OK and a new reference, E_INVALIDARG or MAPI_E_NOT_FOUND.
 * The object starts ONLINE. */
HRESULT STDMETHODCALLTYPE mapioffline_open_embedded(ULONG ulReserved, const WCHAR *pwszProfileNameIn,
                                                    const GUID *pGUID, const GUID *pReserved,
                                                    IMAPIOfflineMgr **ppOfflineObj);

/* Opens Outlook's own offline object through HrOpenOfflineObj, found as spec §5 describes: an already loaded
 * olmapi32.dll / msmapi32.dll first; if allow_search is non-zero, then the registry (DllPathEx) and
 * FGetComponentPath. Windows only: elsewhere MAPI_E_NO_SUPPORT. On failure, *detail (if not NULL) names the
 * step that failed as a static string. E_FAIL = MAPI_E_CALL_FAILED: DLL or export missing. */
HRESULT mapioffline_open_outlook(const WCHAR *pwszProfileNameIn, int allow_search, IMAPIOfflineMgr **ppOfflineObj,
                                 const char **detail);
/* 1 when an Outlook MAPI DLL (olmapi32.dll or msmapi32.dll) is loaded in this process. Always 0 off Windows. */
int mapioffline_outlook_loaded(void);
/* The export name mapioffline_open_outlook uses in the loaded Outlook MAPI DLL: "HrOpenOfflineObj" or
 * "HrOpenOfflineObj@20" (x64 tries the plain name first, x86 the decorated one). NULL when no such DLL is loaded,
 * when it exports neither spelling, and off Windows. Static storage. */
const char *mapioffline_outlook_export(void);

/* Creates a native sink with a ring of `capacity` (1..MAPIOFFLINE_SINK_MAX_CAPACITY, rounded up to a power of two >= 2)
 * records, refcount 1. E_INVALIDARG for a bad capacity or NULL ppSink, E_OUTOFMEMORY. Only sinks made here may be
 * passed to the mapioffline_sink_* functions below. */
HRESULT mapioffline_sink_create(ULONG capacity, IMAPIOfflineNotify **ppSink);

/* Consumer side. Any number of threads may call these; the sink serialises its consumers internally. */

/* 1 when a notification was taken (and *timestamp_ns set if not NULL), 0 when empty. */
int mapioffline_sink_try_pop(IMAPIOfflineNotify *sink, MAPIOFFLINE_NOTIFY *out, uint64_t *timestamp_ns);
/* Takes up to max_records records; returns how many. dropped_before (NULL, or an array of max_records) receives,
 * per record, how many notifications the sink dropped just before that record arrived (drops are stamped when a
 * record is pushed; a record pushed after drops reports them, also across batches). */
size_t mapioffline_sink_pop_records(IMAPIOfflineNotify *sink, MAPIOFFLINE_RECORD *out, size_t max_records,
                                    uint64_t *dropped_before);
/* As pop_records, but *dropped_total (if not NULL) receives the sum of the batch's dropped_before values. */
size_t mapioffline_sink_pop_batch(IMAPIOfflineNotify *sink, MAPIOFFLINE_RECORD *out, size_t max_records,
                                  uint64_t *dropped_total);
/* Waits until a notification is pending, the sink is closed, its stream ended, or timeout_ns passes (negative: no
 * limit), using no CPU while idle (futex / WaitOnAddress / condition variable). Spins up to spin_ns first (0: no
 * spin; never beyond timeout_ns). Returns a MAPIOFFLINE_WAIT_* value; spurious READY results are possible (a
 * signal interrupting the wait returns READY, so a caller can check for Ctrl-C), missed wake-ups are not. */
int mapioffline_sink_wait(IMAPIOfflineNotify *sink, int64_t timeout_ns, uint64_t spin_ns);
/* As mapioffline_sink_wait, and also returns MAPIOFFLINE_WAIT_INTERRUPTED as soon as the sink's interrupt count
 * differs from `seen_interrupts` (read it with mapioffline_sink_interrupts before checking a condition of your
 * own): an interrupt that lands between that check and the wait is never lost. */
int mapioffline_sink_wait_since(IMAPIOfflineNotify *sink, int64_t timeout_ns, uint64_t spin_ns,
                                uint32_t seen_interrupts);
uint32_t mapioffline_sink_interrupts(IMAPIOfflineNotify *sink);
/* POSIX: a descriptor that is readable while notifications are pending (level-triggered) or after close; made on
 * first call, owned by the sink. -1 on Windows or if it cannot be made. */
int mapioffline_sink_fileno(IMAPIOfflineNotify *sink);
/* Closes the consumer side: wakes every waiter, and later Notify calls are counted as dropped and discarded.
 * The memory lives until the last Release. Idempotent. */
void mapioffline_sink_close(IMAPIOfflineNotify *sink);
int mapioffline_sink_is_closed(IMAPIOfflineNotify *sink);
/* Adds one to the interrupt count and wakes every waiter (mapioffline_sink_wait returns READY, spuriously;
 * wait_since returns INTERRUPTED), and makes the descriptor readable until the next pop finds the ring empty, so
 * that a consumer notices a condition of its own. */
void mapioffline_sink_interrupt(IMAPIOfflineNotify *sink);
/* The stream. A feed (e.g. a subscription) attaches when it starts delivering into the sink and detaches when it
 * stops; once every attached feed has detached, the stream has ended: consumers take what is pending, then their
 * waits return MAPIOFFLINE_WAIT_ENDED. Attaching again reopens the stream (and forgets an earlier failure).
 * fail() ends the stream at once with a reason (MAPIOFFLINE_END_*). Any thread. */
void mapioffline_sink_attach(IMAPIOfflineNotify *sink);
void mapioffline_sink_detach(IMAPIOfflineNotify *sink);
void mapioffline_sink_fail(IMAPIOfflineNotify *sink, ULONG reason);
ULONG mapioffline_sink_end_reason(IMAPIOfflineNotify *sink);
/* A feed lost n notifications before they reached the sink (e.g. a reader that fell behind its publisher): they
 * count as dropped and are reported in dropped_before of the next record pushed. */
void mapioffline_sink_note_dropped(IMAPIOfflineNotify *sink, uint64_t n);
void mapioffline_sink_stats(IMAPIOfflineNotify *sink, MAPIOFFLINE_SINK_STATS *out);
/* New state of the latest STATECHANGE_DONE with ulMask == OFFLINE_MASK that reached the sink (dropped or not);
 * 0 before any. */
ULONG mapioffline_sink_last_state(IMAPIOfflineNotify *sink);
/* 1 (and *state set) once such a DONE reached the sink, 0 before: tells an invalid state 0 from "none yet". */
int mapioffline_sink_get_last_state(IMAPIOfflineNotify *sink, ULONG *state);
/* The ring's capacity after rounding. */
ULONG mapioffline_sink_capacity(IMAPIOfflineNotify *sink);
/* 1 when p is a sink made by mapioffline_sink_create (checked by its vtable), 0 otherwise. */
int mapioffline_is_native_sink(IUnknown *p);

/* Live-object counters (relaxed atomics, always on), for leak tests. */
long mapioffline_live_sinks(void);
long mapioffline_live_offline_objects(void);

/* Monotonic time in ns, the clock of the sink's timestamps and of Python's time.perf_counter_ns(). */
uint64_t mapioffline_now_ns(void);

/* Test pump: calls Notify through the vtable of any IMAPIOfflineNotify from native threads. */
#define MAPIOFFLINE_PUMP_SEQUENCE 0x1u /* ulClientToken = producer index, ulStateOld = per-producer sequence */
#define MAPIOFFLINE_PUMP_NULL 0x2u     /* pass a NULL record pointer */
typedef struct MAPIOFFLINE_PUMP_SPEC {
  ULONG threads;          /* producer threads, >= 1 */
  uint64_t per_thread;    /* Notify calls per thread */
  ULONG flags;            /* MAPIOFFLINE_PUMP_* */
  MAPIOFFLINE_NOTIFY record; /* template record, sent as is (a ulSize below 24 makes a short record) */
} MAPIOFFLINE_PUMP_SPEC;
typedef struct mapioffline_pump mapioffline_pump;
/* Starts the producers (they hold a reference on the sink until they finish). E_INVALIDARG, E_OUTOFMEMORY. */
HRESULT mapioffline_pump_start(IMAPIOfflineNotify *sink, const MAPIOFFLINE_PUMP_SPEC *spec, mapioffline_pump **out);
/* Waits for the producers and frees the pump; *elapsed_ns (if not NULL) = wall time from start to last finish. */
void mapioffline_pump_join(mapioffline_pump *pump, uint64_t *elapsed_ns);

/* Benchmark baseline: a native thread that wakes a waiter through a std::condition_variable, `samples` times, each
 * time once the waiter sleeps. The waiter (e.g. a Python thread with the GIL released) calls
 * mapioffline_condvar_probe_wait, which returns the signaller's mapioffline_now_ns() stamp; join frees the probe. */
typedef struct mapioffline_condvar_probe mapioffline_condvar_probe;
mapioffline_condvar_probe *mapioffline_condvar_probe_start(size_t samples);
uint64_t mapioffline_condvar_probe_wait(mapioffline_condvar_probe *probe);
void mapioffline_condvar_probe_join(mapioffline_condvar_probe *probe);

/* Embedded offline object: what the Offline State API has no call for.
 *
 * Waits until no state change is in flight or queued on an embedded object (one from mapioffline_open_embedded,
 * recognised by its vtable), without spinning: S_OK when idle (at once if it already is); E_PENDING (the HRESULT
 * SetCurrentState gives while a change is in flight) if a change still is when timeout_ns has passed (negative: no
 * limit; 0: just check); MAPI_E_CALL_FAILED at once when called from inside one of the object's own Notify calls
 * (the change cannot end before that Notify returns: the wait would never end); MAPI_E_NO_SUPPORT for any other
 * object; E_INVALIDARG for NULL.
 * A change requested while another one is handing out DONE is queued and carried out right after that phase (spec
 * §7.4, refinement 0.2; a FLAG_BLOCK caller waits for it and runs it on its own thread); only one can be queued,
 * a second request meanwhile gets E_PENDING. Such a queued change counts as in flight here. The caller must hold
 * a reference on the object.
 *
 * fork(): a child has a fresh registry of embedded objects, so opening a profile there gives a new object with a
 * thread of its own. Objects and test pumps made before the fork are inert in the child: their threads do not
 * exist there, so Release leaks instead of joining, mapioffline_pump_join returns at once (*elapsed_ns = 0) and
 * leaks, SetCurrentState, Advise and this function return MAPI_E_CALL_FAILED, Unadvise S_OK. */
HRESULT mapioffline_offline_wait_idle(IMAPIOfflineMgr *obj, int64_t timeout_ns);

/* ------------------------------------------------------------------------------------------------------------ */
/* Bridge: Outlook's state for every process of the user, through a per-profile shared-memory channel          */
/* (ext/src/channel/). A publisher forwards a source object's notifications into the channel; a subscriber in   */
/* any process of the same user opens a "bridge object", an IMAPIOfflineMgr over the channel.                   */
/* ------------------------------------------------------------------------------------------------------------ */

/* HRESULTs of the bridge (FACILITY_ITF, codes of our own). */
#define MAPIOFFLINE_E_PUBLISHER_GONE ((HRESULT)0x80040A01)  /* the channel's publisher stopped or died */
#define MAPIOFFLINE_E_CHANNEL_CORRUPT ((HRESULT)0x80040A02) /* the region failed validation: refused, not followed */
#define MAPIOFFLINE_E_ACCESS_DENIED ((HRESULT)0x80070005)   /* E_ACCESSDENIED: the channel is not this user's own */

/* Flags of mapioffline_bridge_publish_start. */
#define MAPIOFFLINE_BRIDGE_ALLOW_SET_STATE 0x1u /* subscribers may ask the publisher to SetCurrentState */

/* Counters of a bridge object (mapioffline_bridge_stats). */
typedef struct MAPIOFFLINE_BRIDGE_STATS {
  uint64_t received;       /* records read from the channel */
  uint64_t dropped;        /* records the publisher overwrote before this subscriber read them (sequence gaps) */
  uint32_t publisher_pid;
  uint32_t ring_capacity;
  uint32_t end_reason;      /* MAPIOFFLINE_END_* once the streams were ended, else 0 */
  uint32_t publisher_gone;  /* 1 once the publisher is known to have stopped or died */
  uint32_t allow_set_state; /* 1 when the publisher accepts set_state requests */
  uint32_t reserved;
} MAPIOFFLINE_BRIDGE_STATS;

typedef struct mapioffline_bridge_publisher mapioffline_bridge_publisher;

/* Publishes `source` (which the publisher AddRefs and advises its own sink on) as the channel of `profile`,
 * replacing a dead publisher's channel. flags: MAPIOFFLINE_BRIDGE_*; ring_capacity: records in the broadcast ring,
 * a power of two in [2, 2^20], or 0 for the default (4096). MAPI_E_CALL_FAILED when a live publisher already
 * publishes the profile; *detail (if not NULL) names the failing step as a static string. Linux and Windows;
 * elsewhere MAPI_E_NO_SUPPORT. */
HRESULT mapioffline_bridge_publish_start(IMAPIOfflineMgr *source, const WCHAR *profile, ULONG flags,
                                         ULONG ring_capacity, mapioffline_bridge_publisher **out,
                                         const char **detail);
/* A host's executor for subscribers' set_state requests (MAPIOFFLINE_BRIDGE_PUBLISH_OPTIONS::run_set_state), for a
 * source that must be called on a thread of the host's choosing (Outlook's objects belong to Outlook's STA thread).
 * Called on the publisher's request thread, one request at a time; it runs source->SetCurrentState(flags,
 * MAPIOFFLINE_STATE_OFFLINE_MASK, state, NULL) where the host wants and returns its HRESULT (or its own error, e.g.
 * when the host is shutting down). `flags` never contains MAPIOFFLINE_FLAG_BLOCK: for a blocking request the
 * request thread itself waits, once run_set_state returned S_OK, until the publisher has published the state
 * `state` (the change's DONE, or at once for a no-op), at most 15 s (then the answer is E_PENDING: still in
 * progress), so the host's thread is never held for the change. `flags` and `state` come from a subscriber: the
 * source checks them as any caller's arguments. run_set_state may block the request thread, but bounded: the
 * subscriber gives up after 30 s in all, and mapioffline_bridge_publish_stop waits for a call in progress. */
typedef HRESULT (*mapioffline_bridge_run_set_state)(void *context, ULONG flags, ULONG state);

/* Options of mapioffline_bridge_publish_start_ex. Zero-fill, then set ulSize = sizeof(struct); a larger ulSize
 * (a newer header's struct) is accepted and its extra fields ignored, a smaller one is E_INVALIDARG. */
typedef struct MAPIOFFLINE_BRIDGE_PUBLISH_OPTIONS {
  ULONG ulSize;
  ULONG ulFlags;        /* MAPIOFFLINE_BRIDGE_* */
  ULONG ulRingCapacity; /* as ring_capacity of mapioffline_bridge_publish_start; 0: the default */
  ULONG ulReserved;     /* 0 */
  /* NULL: the request thread calls the source's SetCurrentState itself (what mapioffline_bridge_publish_start
   * does). Used only with MAPIOFFLINE_BRIDGE_ALLOW_SET_STATE. */
  mapioffline_bridge_run_set_state run_set_state;
  void *run_set_state_context; /* passed to run_set_state as is */
} MAPIOFFLINE_BRIDGE_PUBLISH_OPTIONS;

/* mapioffline_bridge_publish_start with options (above): E_INVALIDARG for a NULL `options`, a short ulSize or a
 * non-zero ulReserved; otherwise the same results. */
HRESULT mapioffline_bridge_publish_start_ex(IMAPIOfflineMgr *source, const WCHAR *profile,
                                            const MAPIOFFLINE_BRIDGE_PUBLISH_OPTIONS *options,
                                            mapioffline_bridge_publisher **out, const char **detail);
/* Unadvises, marks the channel stopped (every subscriber's stream ends), removes its name and frees `publisher`.
 * Not from inside the source's Notify. Waits for a request in progress: a blocking one waiting for its DONE is
 * answered MAPIOFFLINE_E_PUBLISHER_GONE at once, but a run_set_state call in progress must return first (a host
 * whose executor needs the thread calling stop must make it refuse, and let it through, before stopping). */
void mapioffline_bridge_publish_stop(mapioffline_bridge_publisher *publisher);
/* The publisher's own IMAPIOfflineNotify (borrowed, valid until stop): what it advised on the source. A record
 * Notify'd to it is published as if the source had sent it (benchmarks drive it with the test pump). */
IMAPIOfflineNotify *mapioffline_bridge_publisher_notify(mapioffline_bridge_publisher *publisher);
/* Notifications published so far, and the total time spent publishing them (ns, measured inside Notify): the
 * publisher's cost as the source's thread pays it. Either pointer may be NULL. */
void mapioffline_bridge_publisher_counters(mapioffline_bridge_publisher *publisher, uint64_t *published,
                                           uint64_t *notify_ns);
/* Wake system calls the publisher made so far: at most one per publication, and only for one that a subscriber
 * went to sleep waiting for (or that heals a wake not passed on), whatever the number of subscribers (they pass
 * the wake on among themselves). */
uint64_t mapioffline_bridge_publisher_wake_calls(mapioffline_bridge_publisher *publisher);
/* The OS name of the publisher's region (e.g. "/mapioffline-u1000-<hash>"), valid until stop. */
const char *mapioffline_bridge_publisher_region(mapioffline_bridge_publisher *publisher);
/* Opens a bridge object for `profile`: an IMAPIOfflineMgr over the channel. MAPI_E_NOT_FOUND when no live
 * publisher publishes it; MAPIOFFLINE_E_CHANNEL_CORRUPT / MAPIOFFLINE_E_ACCESS_DENIED for a region that fails the
 * checks. GetCurrentState returns MAPIOFFLINE_E_PUBLISHER_GONE once the publisher stopped or died; native sinks'
 * streams then end with MAPIOFFLINE_END_PUBLISHER_GONE. */
HRESULT mapioffline_open_bridge(const WCHAR *profile, IMAPIOfflineMgr **out, const char **detail);
/* 1 when p is a bridge object made by mapioffline_open_bridge. */
int mapioffline_is_bridge(IUnknown *p);
/* E_INVALIDARG unless bridge is a bridge object. */
HRESULT mapioffline_bridge_stats(IMAPIOfflineMgr *bridge, MAPIOFFLINE_BRIDGE_STATS *out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#ifdef __cplusplus
/* Fails to compile if mapioffline_open_embedded ever stops matching Microsoft's HROPENOFFLINEOBJ. */
static_assert(sizeof(static_cast<HROPENOFFLINEOBJ *>(&mapioffline_open_embedded)) == sizeof(void (*)()),
              "mapioffline_open_embedded must be a HROPENOFFLINEOBJ");
#endif

#endif /* MAPIOFFLINE_MAPIOFFLINE_H */

/* DEFINE_GUID off Windows, outside the include guard on purpose, like Windows' guiddef.h: it defines the GUID when
 * INITGUID is defined where this header is included (again), and declares it otherwise. So both of Windows'
 * patterns work: #define INITGUID before the first include, or #define INITGUID and include this header once
 * more (in place of <initguid.h>). A DEFINE_GUID the client made itself is left alone. */
#if !defined(_WIN32) && (!defined(DEFINE_GUID) || defined(MAPIOFFLINE_OWNS_DEFINE_GUID))
#undef DEFINE_GUID
#define MAPIOFFLINE_OWNS_DEFINE_GUID 1
#ifdef INITGUID
#ifdef __cplusplus /* extern "C" without braces: external linkage for a const object, and no "extern" warning */
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) \
  extern "C" const GUID DECLSPEC_SELECTANY name = {l, w1, w2, {b1, b2, b3, b4, b5, b6, b7, b8}}
#else /* C: a file-scope const has external linkage already; `extern` with an initializer would warn */
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) \
  const GUID DECLSPEC_SELECTANY name = {l, w1, w2, {b1, b2, b3, b4, b5, b6, b7, b8}}
#endif
#else
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) EXTERN_C const GUID name
#endif
#endif
