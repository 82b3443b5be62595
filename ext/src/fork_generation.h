// The fork generation: a counter that moves on in the child of every fork().
//
// Objects that own threads (the embedded offline object, the test pump) record it when they are made, and so does
// every handle of the Python binding (src/mapioffline/_core_handle.pxi reads it: there is no other counter). A child
// has only the thread that forked, so an object from an older generation must never join, signal or wait for its
// threads there, nor take its locks (another thread may have held them at the fork): it leaks instead.
#pragma once
#include <cstdint>

namespace mapioffline {

uint32_t ForkGeneration() noexcept;

}  // namespace mapioffline
