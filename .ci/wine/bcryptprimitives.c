/* bcryptprimitives.dll for Wine 8, which lacks it (Windows has it since 8, Wine since 9): ProcessPrng, the one
   export Rust's standard library takes its randomness from (mypy's ast_serialize extension imports it; without the
   DLL the import fails with "Module not found"). .ci/windows-python puts it beside the embeddable python.exe; never
   shipped, never used on Windows. As on Windows: fills the buffer and returns TRUE. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size) {
  while (size > 0) {
    const ULONG chunk = size > 0x10000000 ? 0x10000000 : (ULONG)size;
    if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
    data += chunk;
    size -= chunk;
  }
  return TRUE;
}
