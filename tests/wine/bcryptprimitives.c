/* A stand-in for Windows' bcryptprimitives.dll under Wine 8.0, which lacks it: Rust's std
 * (1.78 and later) calls ProcessPrng for random numbers. This forwards to RtlGenRandom
 * (advapi32's SystemFunction036), which Wine has. Used only by tests/wine/run.sh. */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, n)) return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
