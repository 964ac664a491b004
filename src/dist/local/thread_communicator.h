#pragma once
// Private: the thread communicator (mmaux/dist/thread_ranks.h). Every collective is one round
// of a ThreadGroup, numbered by the rank's own sequence counter:
//   1. post: the rank deposits a copy of its contribution (never blocks), naming the operation;
//   2. take: the rank waits until every rank has posted to the round (or the timeout passes, or
//      the group is aborted), checks that all named the same operation, and reads all
//      contributions; the last rank to read frees the round;
//   3. every rank computes its result from the contributions in rank order, so all ranks get
//      bit-identical results.
// all_reduce_async posts at once and takes in Work::wait(), so collectives of a duplicated
// communicator may interleave with this one's in any order, as with non-blocking MPI.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "mmaux/dist/communicator.h"

namespace mmaux::dist {

/// One rank's part of a collective round.
struct Contribution {
  explicit Contribution(std::string op_name, at::Tensor data = {},
                        std::vector<int64_t> arguments = {})
      : op(std::move(op_name)), tensor(std::move(data)), args(std::move(arguments)) {}
  Contribution() = default;
  std::string op;                ///< operation name; "" = not posted yet
  at::Tensor tensor;             ///< a private copy (undefined when the op sends none)
  std::vector<int64_t> args;     ///< operation arguments that must agree (root, counts)
  std::shared_ptr<void> object;  ///< duplicate(): the new group, from rank 0
};

class ThreadGroup {
 public:
  ThreadGroup(int world_size, double timeout_s);
  int world_size() const { return world_size_; }
  double timeout_s() const { return timeout_s_; }

  /// Step 1. Never blocks.
  void post(int rank, uint64_t seq, Contribution c);
  /// Step 2: every rank's contribution to round `seq`, in rank order. Throws CommError on
  /// timeout, mismatched operations, or abort.
  std::vector<Contribution> take(int rank, uint64_t seq, const std::string& op);
  /// Makes every waiting and later take() of this group and its duplicates throw CommError.
  void abort(const std::string& why);
  /// Records that `rank` will join no more collectives (its thread ended): a round it did not
  /// post to fails at once instead of at the timeout. Reaches the duplicates too.
  void leave(int rank);
  /// Registers a group made by duplicate(), so that abort() reaches it.
  void adopt(const std::shared_ptr<ThreadGroup>& child);

 private:
  struct Round {
    std::vector<Contribution> slots;
    int posted = 0;
    int taken = 0;
  };
  std::string missing_ranks(const Round& round) const;
  /// A rank that left without posting to `round`, or -1.
  int gone(const Round& round) const;
  std::vector<std::shared_ptr<ThreadGroup>> live_children();

  const int world_size_;
  const double timeout_s_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Round> rounds_;
  std::string aborted_;     ///< why, once aborted
  std::vector<char> left_;  ///< by rank: 1 once leave(rank)
  std::vector<std::weak_ptr<ThreadGroup>> children_;
};

class ThreadCommunicator : public Communicator {
 public:
  ThreadCommunicator(std::shared_ptr<ThreadGroup> group, int rank);

  int rank() const override { return rank_; }
  int world_size() const override { return group_->world_size(); }
  std::string backend() const override { return "threads"; }
  void all_reduce(at::Tensor& tensor, ReduceOp op) override;
  std::shared_ptr<Work> all_reduce_async(at::Tensor& tensor, ReduceOp op) override;
  at::Tensor all_gather(const at::Tensor& input) override;
  at::Tensor all_gather_varsize(const at::Tensor& input) override;
  at::Tensor reduce_scatter(const at::Tensor& input, const std::vector<int64_t>& counts,
                            ReduceOp op) override;
  void broadcast(at::Tensor& tensor, int root) override;
  void barrier() override;
  std::shared_ptr<Communicator> duplicate() override;

  ThreadGroup& group() { return *group_; }

 private:
  /// Posts `c` as this rank's next round and returns the round's number.
  uint64_t post(Contribution c);
  std::vector<Contribution> take(uint64_t seq, const std::string& op);

  std::shared_ptr<ThreadGroup> group_;
  int rank_;
  uint64_t next_seq_ = 0;
};

}  // namespace mmaux::dist
