#include "dist/local/thread_communicator.h"

#include <ATen/ATen.h>

#include <chrono>
#include <functional>
#include <utility>

#include "mmaux/core/error.h"

namespace mmaux::dist {
namespace {

std::string shape_text(const at::Tensor& t) {
  return t.defined() ? fmt::format("{} {}", c10::toString(t.scalar_type()), c10::str(t.sizes()))
                     : std::string("nothing");
}

/// The MPI backend's rule: reductions of float32, float64, bfloat16, half and int64.
void check_reducible(const at::Tensor& t, const char* op, int rank) {
  MMAUX_CHECK_COMM(t.defined(), "rank {}: threads {} of an undefined tensor", rank, op);
  const at::ScalarType st = t.scalar_type();
  MMAUX_CHECK_COMM(st == at::kFloat || st == at::kDouble || st == at::kBFloat16 ||
                       st == at::kHalf || st == at::kLong,
                   "rank {}: threads {}: dtype {} is not supported; use float32, float64, "
                   "bfloat16 or int64",
                   rank, op, c10::toString(st));
}

/// Every contribution must have the shape of `mine` (`from` = first dim that must agree).
void check_shapes(const std::vector<Contribution>& c, const at::Tensor& mine, int64_t from,
                  const std::string& op, int rank) {
  for (size_t q = 0; q < c.size(); ++q) {
    const at::Tensor& t = c[q].tensor;
    bool same = t.scalar_type() == mine.scalar_type() && t.dim() == mine.dim();
    for (int64_t d = from; same && d < t.dim(); ++d) same = t.size(d) == mine.size(d);
    MMAUX_CHECK_COMM(same, "rank {}: threads {}: this rank holds {} but rank {} holds {}", rank, op,
                     shape_text(mine), q, shape_text(t));
  }
}

/// Reduction over ranks in rank order (bfloat16 and half in float32, as MPI does).
at::Tensor reduce(const std::vector<Contribution>& c, ReduceOp op) {
  const at::ScalarType st = c[0].tensor.scalar_type();
  const at::ScalarType acc_type = st == at::kBFloat16 || st == at::kHalf ? at::kFloat : st;
  at::Tensor acc = c[0].tensor.to(acc_type).clone();
  for (size_t q = 1; q < c.size(); ++q) {
    at::Tensor x = c[q].tensor.to(acc_type);
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kAvg:
        acc.add_(x);
        break;
      case ReduceOp::kMax:
        acc = at::maximum(acc, x);
        break;
      case ReduceOp::kMin:
        acc = at::minimum(acc, x);
        break;
    }
  }
  if (op == ReduceOp::kAvg && c.size() > 1) {
    const int64_t w = static_cast<int64_t>(c.size());
    if (at::isFloatingType(acc.scalar_type())) {
      acc.div_(w);
    } else {
      acc.div_(w, "trunc");
    }
  }
  return acc;
}

class ThreadWork : public Work {
 public:
  explicit ThreadWork(std::function<void()> finish) : finish_(std::move(finish)) {}
  void wait() override {
    if (!finish_) return;
    auto f = std::move(finish_);
    finish_ = nullptr;
    f();
  }

 private:
  std::function<void()> finish_;
};

}  // namespace

ThreadGroup::ThreadGroup(int world_size, double timeout_s)
    : world_size_(world_size), timeout_s_(timeout_s) {
  MMAUX_CHECK_CONFIG(world_size >= 1, "a thread group needs at least one rank, not {}", world_size);
  left_.assign(world_size, 0);
}

void ThreadGroup::post(int rank, uint64_t seq, Contribution c) {
  std::lock_guard<std::mutex> lock(mu_);
  Round& round = rounds_[seq];
  if (round.slots.empty()) round.slots.resize(world_size_);
  MMAUX_ASSERT(round.slots[rank].op.empty(), "rank {} posted round {} twice", rank, seq);
  round.slots[rank] = std::move(c);
  ++round.posted;
  cv_.notify_all();
}

std::string ThreadGroup::missing_ranks(const Round& round) const {
  std::string out;
  for (int q = 0; q < world_size_; ++q) {
    if (round.slots.empty() || round.slots[q].op.empty()) {
      out += (out.empty() ? "" : ", ") + std::to_string(q);
    }
  }
  return out;
}

int ThreadGroup::gone(const Round& round) const {
  for (int q = 0; q < world_size_; ++q) {
    if (left_[q] && round.slots[q].op.empty()) return q;
  }
  return -1;
}

std::vector<Contribution> ThreadGroup::take(int rank, uint64_t seq, const std::string& op) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s_);
  std::unique_lock<std::mutex> lock(mu_);
  Round& round = rounds_[seq];
  const bool complete = cv_.wait_until(lock, deadline, [&] {
    return !aborted_.empty() || round.posted == world_size_ || gone(round) >= 0;
  });
  MMAUX_CHECK_COMM(aborted_.empty(), "rank {} of {}: threads {} abandoned: {}", rank, world_size_,
                   op, aborted_);
  MMAUX_CHECK_COMM(round.posted == world_size_ || gone(round) < 0,
                   "rank {} of {}: threads {} (collective #{}) can never complete: rank {} "
                   "finished without joining it",
                   rank, world_size_, op, seq, gone(round));
  MMAUX_CHECK_COMM(complete,
                   "rank {} of {}: threads {} (collective #{}) did not complete within {} s: "
                   "rank(s) {} never joined",
                   rank, world_size_, op, seq, timeout_s_, missing_ranks(round));
  for (int q = 0; q < world_size_; ++q) {
    MMAUX_CHECK_COMM(round.slots[q].op == op,
                     "rank {} of {}: collective #{} is {} here but {} on rank {}: the ranks "
                     "called collectives in different orders",
                     rank, world_size_, seq, op, round.slots[q].op, q);
  }
  std::vector<Contribution> out = round.slots;
  if (++round.taken == world_size_) rounds_.erase(seq);
  return out;
}

std::vector<std::shared_ptr<ThreadGroup>> ThreadGroup::live_children() {
  std::vector<std::shared_ptr<ThreadGroup>> out;
  for (auto& c : children_) {
    if (auto child = c.lock()) out.push_back(child);
  }
  return out;
}

void ThreadGroup::abort(const std::string& why) {
  std::vector<std::shared_ptr<ThreadGroup>> children;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (aborted_.empty()) aborted_ = why;
    children = live_children();
    cv_.notify_all();
  }
  for (auto& child : children) child->abort(why);
}

void ThreadGroup::leave(int rank) {
  std::vector<std::shared_ptr<ThreadGroup>> children;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left_[rank] = 1;
    children = live_children();
    cv_.notify_all();
  }
  for (auto& child : children) child->leave(rank);
}

void ThreadGroup::adopt(const std::shared_ptr<ThreadGroup>& child) {
  std::lock_guard<std::mutex> lock(mu_);
  children_.push_back(child);
}

ThreadCommunicator::ThreadCommunicator(std::shared_ptr<ThreadGroup> group, int rank)
    : group_(std::move(group)), rank_(rank) {}

uint64_t ThreadCommunicator::post(Contribution c) {
  const uint64_t seq = next_seq_++;
  group_->post(rank_, seq, std::move(c));
  return seq;
}

std::vector<Contribution> ThreadCommunicator::take(uint64_t seq, const std::string& op) {
  return group_->take(rank_, seq, op);
}

void ThreadCommunicator::all_reduce(at::Tensor& tensor, ReduceOp op) {
  all_reduce_async(tensor, op)->wait();
}

std::shared_ptr<Work> ThreadCommunicator::all_reduce_async(at::Tensor& tensor, ReduceOp op) {
  check_reducible(tensor, "all_reduce", rank_);
  const std::string name = fmt::format("all_reduce({})", reduce_op_name(op));
  const uint64_t seq = post(Contribution(name, tensor.detach().clone()));
  at::Tensor target = tensor;
  return std::make_shared<ThreadWork>([this, seq, name, target, op]() mutable {
    auto c = take(seq, name);
    check_shapes(c, target, 0, name, rank_);
    target.copy_(reduce(c, op));
  });
}

at::Tensor ThreadCommunicator::all_gather(const at::Tensor& input) {
  MMAUX_CHECK_COMM(input.defined() && input.dim() >= 1,
                   "rank {}: threads all_gather needs a tensor with a dim 0", rank_);
  auto c = take(post(Contribution("all_gather", input.detach().clone())), "all_gather");
  check_shapes(c, input, 0, "all_gather", rank_);
  std::vector<at::Tensor> parts;
  for (const auto& x : c) parts.push_back(x.tensor);
  return at::cat(parts);
}

at::Tensor ThreadCommunicator::all_gather_varsize(const at::Tensor& input) {
  MMAUX_CHECK_COMM(input.defined() && input.dim() >= 1,
                   "rank {}: threads all_gather_varsize needs a tensor with a dim 0", rank_);
  auto c =
      take(post(Contribution("all_gather_varsize", input.detach().clone())), "all_gather_varsize");
  check_shapes(c, input, 1, "all_gather_varsize", rank_);
  std::vector<at::Tensor> parts;
  for (const auto& x : c) parts.push_back(x.tensor);
  return at::cat(parts);
}

at::Tensor ThreadCommunicator::reduce_scatter(const at::Tensor& input,
                                              const std::vector<int64_t>& counts, ReduceOp op) {
  check_reducible(input, "reduce_scatter", rank_);
  MMAUX_CHECK_COMM(static_cast<int>(counts.size()) == world_size(),
                   "rank {}: threads reduce_scatter: {} counts for a world of {} ranks", rank_,
                   counts.size(), world_size());
  int64_t total = 0, offset = 0;
  for (int q = 0; q < world_size(); ++q) {
    if (q < rank_) offset += counts[q];
    total += counts[q];
  }
  MMAUX_CHECK_COMM(input.dim() >= 1 && input.size(0) == total,
                   "rank {}: threads reduce_scatter: input has {} rows but the counts sum to {}",
                   rank_, input.dim() ? input.size(0) : 0, total);
  const std::string name = fmt::format("reduce_scatter({})", reduce_op_name(op));
  auto c = take(post(Contribution(name, input.detach().clone(), counts)), name);
  check_shapes(c, input, 0, name, rank_);
  for (int q = 0; q < world_size(); ++q) {
    MMAUX_CHECK_COMM(c[q].args == counts, "rank {}: threads {}: rank {} passed other counts", rank_,
                     name, q);
  }
  return reduce(c, op).narrow(0, offset, counts[rank_]).to(input.scalar_type()).contiguous();
}

void ThreadCommunicator::broadcast(at::Tensor& tensor, int root) {
  MMAUX_CHECK_COMM(root >= 0 && root < world_size(),
                   "rank {}: threads broadcast: root {} outside a world of {}", rank_, root,
                   world_size());
  MMAUX_CHECK_COMM(tensor.defined(), "rank {}: threads broadcast of an undefined tensor", rank_);
  Contribution mine("broadcast", rank_ == root ? tensor.detach().clone() : at::Tensor(), {root});
  auto c = take(post(std::move(mine)), "broadcast");
  for (int q = 0; q < world_size(); ++q) {
    MMAUX_CHECK_COMM(c[q].args == std::vector<int64_t>{root},
                     "rank {}: threads broadcast from root {}, but rank {} named root {}", rank_,
                     root, q, c[q].args.empty() ? -1 : c[q].args[0]);
  }
  const at::Tensor& from = c[root].tensor;
  MMAUX_CHECK_COMM(from.sizes() == tensor.sizes() && from.scalar_type() == tensor.scalar_type(),
                   "rank {}: threads broadcast: this rank holds {} but root {} sends {}", rank_,
                   shape_text(tensor), root, shape_text(from));
  tensor.copy_(from);
}

void ThreadCommunicator::barrier() { take(post(Contribution("barrier")), "barrier"); }

std::shared_ptr<Communicator> ThreadCommunicator::duplicate() {
  Contribution mine("duplicate");
  if (rank_ == 0) {
    auto child = std::make_shared<ThreadGroup>(world_size(), group_->timeout_s());
    group_->adopt(child);
    mine.object = child;
  }
  auto c = take(post(std::move(mine)), "duplicate");
  return std::make_shared<ThreadCommunicator>(std::static_pointer_cast<ThreadGroup>(c[0].object),
                                              rank_);
}

}  // namespace mmaux::dist
