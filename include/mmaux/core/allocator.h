#pragma once
/// Process-wide memory allocator settings for training processes.

namespace mmaux {

/// Makes glibc keep freed memory in the heap instead of returning every large block to the
/// system: a training step frees and reallocates the same activation-sized blocks (0.1–30 MB)
/// every step, and by default glibc serves blocks of that size with fresh mmap()s, whose pages
/// are faulted in and zeroed by the kernel each time (2–3% of a CPU training step here). The
/// cost is that the process keeps its peak heap size. Leaves the settings alone when the user
/// set MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_. Returns whether it changed anything.
bool keep_freed_memory();

}  // namespace mmaux
