#include "mmaux/core/allocator.h"

#include <malloc.h>

#include <climits>
#include <cstdlib>

namespace mmaux {

bool keep_freed_memory() {
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_")) return false;
  // Blocks below 32 MiB (the largest threshold glibc accepts on 64-bit) come from the heap, and
  // the top of the heap goes back to the system only when more than 2 GiB of it is free.
  // (Setting either turns off glibc's dynamic thresholds, which trim the heap every step.)
  const bool mmap_ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
  const bool trim_ok = mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
  return mmap_ok && trim_ok;
}

}  // namespace mmaux
