#include "mmaux/dist/thread_ranks.h"

#include <exception>
#include <mutex>
#include <thread>

#include "dist/local/thread_communicator.h"
#include "mmaux/core/error.h"

namespace mmaux::dist {

std::vector<std::shared_ptr<Communicator>> make_thread_communicators(int world_size,
                                                                     double timeout_s) {
  auto group = std::make_shared<ThreadGroup>(world_size, timeout_s);
  std::vector<std::shared_ptr<Communicator>> out;
  for (int r = 0; r < world_size; ++r)
    out.push_back(std::make_shared<ThreadCommunicator>(group, r));
  return out;
}

void run_thread_ranks(int world_size,
                      const std::function<void(const std::shared_ptr<Communicator>&)>& body,
                      double timeout_s) {
  auto comms = make_thread_communicators(world_size, timeout_s);
  ThreadGroup& group = static_cast<ThreadCommunicator&>(*comms[0]).group();
  std::mutex mu;
  std::exception_ptr first;
  std::vector<std::thread> threads;
  auto join_all = [&] {
    for (auto& t : threads) t.join();
  };
  for (int r = 0; r < world_size; ++r) {
    try {
      threads.emplace_back([&, r] {
        try {
          body(comms[r]);
        } catch (const std::exception& e) {
          {
            std::lock_guard<std::mutex> lock(mu);
            if (!first) first = std::current_exception();
          }
          group.abort(fmt::format("rank {} failed: {}", r, e.what()));
        } catch (...) {
          {
            std::lock_guard<std::mutex> lock(mu);
            if (!first) first = std::current_exception();
          }
          group.abort(fmt::format("rank {} failed", r));
        }
        group.leave(r);
      });
    } catch (...) {  // a thread could not be started: end the ones that were
      group.abort("the process could not start every rank's thread");
      join_all();
      throw;
    }
  }
  join_all();
  if (first) std::rethrow_exception(first);
}

}  // namespace mmaux::dist
