#include "mmaux/core/worker_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "mmaux/core/error.h"

namespace mmaux {
namespace {

// The workers of one parallel loop and its first failure; once failed, no new job starts.
class Workers {
 public:
  /// Starts `count` threads running `body`; an exception escaping body is recorded.
  void start(unsigned count, const std::function<void()>& body) {
    try {
      for (unsigned t = 0; t < count; ++t) {
        threads_.emplace_back([this, body] {
          try {
            body();
          } catch (...) {
            fail(std::current_exception());
          }
        });
      }
    } catch (...) {  // a thread could not be created: stop the ones that were
      fail(std::current_exception());
      join();
      throw;
    }
  }
  void fail(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_) failure_ = std::move(e);
    stopped_ = true;
    wake_.notify_all();
  }
  bool stopped() const { return stopped_; }
  /// Waits for every worker, then rethrows the first failure.
  void finish() {
    join();
    if (failure_) std::rethrow_exception(failure_);
  }
  std::mutex& mutex() { return mu_; }
  std::condition_variable& wake() { return wake_; }

 private:
  void join() {
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<bool> stopped_{false};
  std::exception_ptr failure_;
  std::vector<std::thread> threads_;
};

}  // namespace

unsigned worker_count(int threads) {
  if (threads > 0) return static_cast<unsigned>(threads);
  return std::max(1u, std::thread::hardware_concurrency());
}

void parallel_for(size_t n, unsigned threads, const std::function<void(size_t)>& job) {
  MMAUX_ASSERT(threads >= 1, "parallel_for needs at least one thread");
  std::atomic<size_t> next{0};
  Workers w;
  w.start(static_cast<unsigned>(std::min<size_t>(threads, n)), [&] {
    for (size_t i; !w.stopped() && (i = next++) < n;) job(i);
  });
  w.finish();
}

namespace detail {

void parallel_ordered_slots(size_t n, unsigned threads, size_t window,
                            const std::function<void(size_t)>& produce,
                            const std::function<void(size_t)>& consume) {
  MMAUX_ASSERT(threads >= 1 && window >= 1, "parallel_ordered needs a thread and a window");
  std::atomic<size_t> next{0};
  std::vector<char> ready(n, 0);
  size_t taken = 0;  // indices below it are the consumer's; guarded by w.mutex()
  Workers w;
  // One condition variable serves both directions: workers wait for the window to move,
  // the consumer for its next index.
  auto& cv = w.wake();
  w.start(static_cast<unsigned>(std::min<size_t>(threads, n)), [&] {
    for (size_t k; (k = next++) < n;) {
      {
        std::unique_lock<std::mutex> lock(w.mutex());
        cv.wait(lock, [&] { return w.stopped() || k < taken + window; });
        if (w.stopped()) return;
      }
      produce(k);
      std::lock_guard<std::mutex> lock(w.mutex());
      ready[k] = 1;
      cv.notify_all();
    }
  });
  try {
    for (size_t k = 0; k < n; ++k) {
      {
        std::unique_lock<std::mutex> lock(w.mutex());
        cv.wait(lock, [&] { return w.stopped() || ready[k]; });
        if (w.stopped()) break;
        taken = k + 1;
        cv.notify_all();
      }
      consume(k);
    }
  } catch (...) {
    w.fail(std::current_exception());
  }
  w.finish();
}

}  // namespace detail
}  // namespace mmaux
