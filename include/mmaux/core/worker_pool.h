#pragma once
/// Parallel loops over indices on a fixed set of worker threads, for the CPU-bound batch jobs
/// (preprocessing, synthetic data). Both forms share one failure rule: when a job throws, no new
/// job starts, the workers finish the jobs they are in, and the first exception is rethrown on
/// the calling thread after every worker has stopped.

#include <cstddef>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace mmaux {

/// Worker threads for a `threads` option: the value itself when > 0, else the cores of this
/// machine (at least 1).
unsigned worker_count(int threads);

/// Runs job(i) for every i in [0, n) on `threads` workers (threads >= 1), each index exactly
/// once, and returns when all have run.
void parallel_for(size_t n, unsigned threads, const std::function<void(size_t)>& job);

namespace detail {
/// Untyped core of parallel_ordered: produce(k) fills slot k, consume(k) empties it.
void parallel_ordered_slots(size_t n, unsigned threads, size_t window,
                            const std::function<void(size_t)>& produce,
                            const std::function<void(size_t)>& consume);
}  // namespace detail

/// Runs produce(k) for k in [0, n) on `threads` workers, never more than `window` (>= 1) indices
/// ahead of the consumer, and consume(k, result) on the calling thread in order k = 0, 1, ...:
/// parallel work with a deterministic, ordered output in bounded memory. An exception thrown by
/// consume stops the workers like one thrown by produce.
template <typename T>
void parallel_ordered(size_t n, unsigned threads, size_t window,
                      const std::function<T(size_t)>& produce,
                      const std::function<void(size_t, T&&)>& consume) {
  std::vector<std::unique_ptr<T>> slots(n);
  detail::parallel_ordered_slots(
      n, threads, window, [&](size_t k) { slots[k] = std::make_unique<T>(produce(k)); },
      [&](size_t k) {
        std::unique_ptr<T> value = std::move(slots[k]);
        consume(k, std::move(*value));
      });
}

}  // namespace mmaux
