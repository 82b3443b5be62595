/*
 * mapioffline/abi.h -- the Outlook Offline State API ABI: COM types, constants, GUIDs, structures, interfaces.
 *
 * Usable from C99 and C++17. On Windows (mingw-w64 included) it builds on the system's <windows.h> and
 * <unknwn.h>; elsewhere it defines the few COM types it needs itself, with Windows' sizes: ULONG is 32-bit
 * unsigned, HRESULT 32-bit signed, WCHAR a 16-bit code unit, and STDMETHODCALLTYPE is stdcall on i386 so that
 * 32-bit Linux reproduces the Win32 calling convention. On x86_64 Linux the native (SysV) ABI is used: there is
 * no Outlook to be compatible with there, and our own callers are compiled with the same header.
 *
 * This header holds declarations only. Spec references (section numbers) are to shared/spec/offline-state-api.md.
 */
#ifndef MAPIOFFLINE_ABI_H
#define MAPIOFFLINE_ABI_H

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

/* C has no inheritance: a vtable starts with its base's slots. Each interface's slots are written once here, for
 * the `This` type of the vtable that holds them, and the macros are undefined again below. */
#define MAPIOFFLINE_IUNKNOWN_SLOTS(This_t)                                                                           \
  HRESULT(STDMETHODCALLTYPE *QueryInterface)(This_t *This, REFIID riid, void **ppvObject);                           \
  ULONG(STDMETHODCALLTYPE *AddRef)(This_t *This);                                                                    \
  ULONG(STDMETHODCALLTYPE *Release)(This_t *This);
#define MAPIOFFLINE_IMAPIOFFLINE_SLOTS(This_t)                                                                       \
  MAPIOFFLINE_IUNKNOWN_SLOTS(This_t)                                                                                 \
  HRESULT(STDMETHODCALLTYPE *SetCurrentState)(This_t *This, ULONG ulFlags, ULONG ulMask, ULONG ulState,              \
                                              void *pReserved);                                                      \
  HRESULT(STDMETHODCALLTYPE *GetCapabilities)(This_t *This, ULONG *pulCapabilities);                                 \
  HRESULT(STDMETHODCALLTYPE *GetCurrentState)(This_t *This, ULONG *pulState);                                        \
  HRESULT(STDMETHODCALLTYPE *Placeholder1)(This_t *This);

typedef struct IMAPIOfflineVtbl {
  MAPIOFFLINE_IMAPIOFFLINE_SLOTS(IMAPIOffline)
} IMAPIOfflineVtbl;
struct IMAPIOffline {
  const IMAPIOfflineVtbl *lpVtbl;
};

typedef struct IMAPIOfflineMgrVtbl {
  MAPIOFFLINE_IMAPIOFFLINE_SLOTS(IMAPIOfflineMgr)
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
  MAPIOFFLINE_IUNKNOWN_SLOTS(IMAPIOfflineNotify)
  void(STDMETHODCALLTYPE *Notify)(IMAPIOfflineNotify *This, const MAPIOFFLINE_NOTIFY *pNotifyInfo);
} IMAPIOfflineNotifyVtbl;
struct IMAPIOfflineNotify {
  const IMAPIOfflineNotifyVtbl *lpVtbl;
};
#undef MAPIOFFLINE_IMAPIOFFLINE_SLOTS
#undef MAPIOFFLINE_IUNKNOWN_SLOTS

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

#endif /* MAPIOFFLINE_ABI_H */

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
