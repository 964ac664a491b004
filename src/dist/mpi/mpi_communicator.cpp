#include "dist/mpi/mpi_communicator.h"

#include <ATen/ATen.h>

#include <chrono>
#include <climits>
#include <functional>
#include <thread>
#include <utility>

#include "dist/check_mpi.h"
#include "mmaux/core/error.h"

namespace mmaux::dist {
namespace {

using Clock = std::chrono::steady_clock;

MPI_Datatype reduce_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return MPI_FLOAT;
    case at::kDouble:
      return MPI_DOUBLE;
    case at::kLong:
      return MPI_INT64_T;
    default:
      return MPI_DATATYPE_NULL;
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return MPI_SUM;
    case ReduceOp::kMax:
      return MPI_MAX;
    case ReduceOp::kMin:
      return MPI_MIN;
  }
  return MPI_SUM;
}

int int_count(int64_t n, const char* what) {
  MMAUX_CHECK_COMM(n <= INT_MAX,
                   "MPI {} of {} elements exceeds MPI's int count limit ({}); split the tensor",
                   what, n, INT_MAX);
  return static_cast<int>(n);
}

void check_cpu(const at::Tensor& t, const char* what) {
  MMAUX_CHECK_COMM(t.defined(), "MPI {}: the tensor is undefined", what);
  MMAUX_CHECK_COMM(t.device().is_cpu(),
                   "MPI {}: tensor on {} but the mpi backend moves CPU tensors only; use "
                   "dist.backend=nccl for CUDA tensors",
                   what, t.device().str());
}

/// The buffer MPI reduces: the tensor itself when it is contiguous and of a type MPI reduces,
/// else a contiguous copy (bfloat16 and half are reduced in float32).
at::Tensor reduction_buffer(const at::Tensor& t, const char* what) {
  at::ScalarType st = t.scalar_type();
  if (st == at::kBFloat16 || st == at::kHalf) return t.to(at::kFloat).contiguous();
  MMAUX_CHECK_COMM(reduce_type(st) != MPI_DATATYPE_NULL,
                   "MPI {}: dtype {} is not supported; use float32, float64, bfloat16 or int64",
                   what, c10::toString(st));
  return t.is_contiguous() ? t : t.contiguous();
}

void finish_average(at::Tensor& buf, ReduceOp op, int size) {
  if (op != ReduceOp::kAvg || size == 1) return;
  if (at::isFloatingType(buf.scalar_type())) {
    buf.div_(size);
  } else {
    buf.div_(size, "trunc");
  }
}

std::string describe(const char* op, const at::Tensor& t) {
  return fmt::format("{} of {} {} elements", op, t.numel(), c10::toString(t.scalar_type()));
}

class MpiWork : public Work {
 public:
  MpiWork(const MpiCommunicator* comm, MPI_Request request, std::string what,
          std::function<void()> after)
      : comm_(comm), request_(request), what_(std::move(what)), after_(std::move(after)) {}
  void wait() override {
    if (done_) return;
    comm_->wait(request_, what_);
    done_ = true;
    if (after_) after_();
  }
  void progress() override {
    if (done_) return;
    int done = 0;
    MMAUX_MPI_CHECK(MPI_Test(&request_, &done, MPI_STATUS_IGNORE));
    if (!done) return;
    done_ = true;
    if (after_) after_();
  }

 private:
  const MpiCommunicator* comm_;
  MPI_Request request_;
  std::string what_;
  std::function<void()> after_;
  bool done_ = false;
};

}  // namespace

MpiCommunicator::MpiCommunicator(double timeout_s, int local_size, MPI_Comm base)
    : timeout_s_(timeout_s), local_size_(local_size) {
  MMAUX_MPI_CHECK(MPI_Comm_dup(base, &comm_));
  MMAUX_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  MMAUX_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  MMAUX_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  const unsigned cores = std::thread::hardware_concurrency();
  oversubscribed_ = cores > 0 && local_size_ > static_cast<int>(cores);
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiCommunicator::wait(MPI_Request& request, const std::string& what) const {
  // Spin while the peers are close (yielding when ranks outnumber cores, so that the peers get
  // to run), then sleep between polls: a peer that is still computing should not cost a core.
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(timeout_s_);
  int done = 0;
  for (long i = 0;; ++i) {
    MMAUX_MPI_CHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) return;
    if (i < 64) continue;
    auto now = Clock::now();
    if (now > deadline) {
      MMAUX_THROW(CommError,
                  "rank {} of {}: MPI {} did not complete within {} s (dist.timeout-s): another "
                  "rank died, is stuck, or entered a different collective; ending the job",
                  rank_, size_, what, timeout_s_);
    }
    if (now - start < std::chrono::milliseconds(20)) {
      if (oversubscribed_) std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
}

void MpiCommunicator::all_reduce(at::Tensor& tensor, ReduceOp op) {
  all_reduce_async(tensor, op)->wait();
}

std::shared_ptr<Work> MpiCommunicator::all_reduce_async(at::Tensor& tensor, ReduceOp op) {
  check_cpu(tensor, "all_reduce");
  at::Tensor buf = reduction_buffer(tensor, "all_reduce");
  MPI_Request req;
  MMAUX_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buf.data_ptr(), int_count(buf.numel(), "all_reduce"),
                                 reduce_type(buf.scalar_type()), mpi_op(op), comm_, &req));
  std::string what = describe("all_reduce", tensor) + " (" + reduce_op_name(op) + ")";
  at::Tensor target = tensor;
  int size = size_;
  return std::make_shared<MpiWork>(this, req, std::move(what), [buf, target, op, size]() mutable {
    finish_average(buf, op, size);
    if (!buf.is_same(target)) target.copy_(buf);
  });
}

at::Tensor MpiCommunicator::all_gather(const at::Tensor& input) {
  check_cpu(input, "all_gather");
  MMAUX_CHECK_COMM(input.dim() >= 1, "MPI all_gather needs a tensor with a dim 0");
  at::Tensor in = input.contiguous();
  std::vector<int64_t> shape = in.sizes().vec();
  shape[0] *= size_;
  at::Tensor out = at::empty(shape, in.options());
  int bytes = int_count(in.numel() * in.element_size(), "all_gather");
  MPI_Request req;
  MMAUX_MPI_CHECK(
      MPI_Iallgather(in.data_ptr(), bytes, MPI_BYTE, out.data_ptr(), bytes, MPI_BYTE, comm_, &req));
  wait(req, describe("all_gather", in));
  return out;
}

at::Tensor MpiCommunicator::all_gather_varsize(const at::Tensor& input) {
  check_cpu(input, "all_gather_varsize");
  MMAUX_CHECK_COMM(input.dim() >= 1, "MPI all_gather_varsize needs a tensor with a dim 0");
  at::Tensor in = input.contiguous();
  std::vector<int64_t> rows = gather_counts(in.size(0), *this);
  int64_t row_bytes = in.element_size();
  for (int64_t d = 1; d < in.dim(); ++d) row_bytes *= in.size(d);
  std::vector<int> counts(size_), displs(size_);
  int64_t total_rows = 0, offset = 0;
  for (int r = 0; r < size_; ++r) {
    counts[r] = int_count(rows[r] * row_bytes, "all_gather_varsize");
    displs[r] = int_count(offset, "all_gather_varsize");
    offset += rows[r] * row_bytes;
    total_rows += rows[r];
  }
  std::vector<int64_t> shape = in.sizes().vec();
  shape[0] = total_rows;
  at::Tensor out = at::empty(shape, in.options());
  MPI_Request req;
  MMAUX_MPI_CHECK(MPI_Iallgatherv(in.data_ptr(), counts[rank_], MPI_BYTE, out.data_ptr(),
                                  counts.data(), displs.data(), MPI_BYTE, comm_, &req));
  wait(req, describe("all_gather_varsize", in));
  return out;
}

at::Tensor MpiCommunicator::reduce_scatter(const at::Tensor& input,
                                           const std::vector<int64_t>& counts, ReduceOp op) {
  check_cpu(input, "reduce_scatter");
  MMAUX_CHECK_COMM(static_cast<int>(counts.size()) == size_,
                   "MPI reduce_scatter: {} counts for a world of {} ranks", counts.size(), size_);
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  MMAUX_CHECK_COMM(input.dim() >= 1 && input.size(0) == total,
                   "MPI reduce_scatter: input has {} rows but the counts sum to {}",
                   input.dim() ? input.size(0) : 0, total);
  at::Tensor buf = reduction_buffer(input, "reduce_scatter");
  int64_t per_row = 1;
  for (int64_t d = 1; d < buf.dim(); ++d) per_row *= buf.size(d);
  std::vector<int> recv(size_);
  for (int r = 0; r < size_; ++r) recv[r] = int_count(counts[r] * per_row, "reduce_scatter");
  std::vector<int64_t> shape = buf.sizes().vec();
  shape[0] = counts[rank_];
  at::Tensor out = at::empty(shape, buf.options());
  MPI_Request req;
  MMAUX_MPI_CHECK(MPI_Ireduce_scatter(buf.data_ptr(), out.data_ptr(), recv.data(),
                                      reduce_type(buf.scalar_type()), mpi_op(op), comm_, &req));
  wait(req, describe("reduce_scatter", input) + " (" + reduce_op_name(op) + ")");
  finish_average(out, op, size_);
  return out.scalar_type() == input.scalar_type() ? out : out.to(input.scalar_type());
}

void MpiCommunicator::broadcast(at::Tensor& tensor, int root) {
  check_cpu(tensor, "broadcast");
  MMAUX_CHECK_COMM(root >= 0 && root < size_, "MPI broadcast: root {} outside a world of {}", root,
                   size_);
  at::Tensor buf = tensor.is_contiguous() ? tensor : tensor.contiguous();
  MPI_Request req;
  MMAUX_MPI_CHECK(MPI_Ibcast(buf.data_ptr(),
                             int_count(buf.numel() * buf.element_size(), "broadcast"), MPI_BYTE,
                             root, comm_, &req));
  wait(req, describe("broadcast", tensor) + fmt::format(" from rank {}", root));
  if (!buf.is_same(tensor)) tensor.copy_(buf);
}

std::shared_ptr<Communicator> MpiCommunicator::duplicate() {
  return std::make_shared<MpiCommunicator>(timeout_s_, local_size_, comm_);
}

void MpiCommunicator::barrier() {
  MPI_Request req;
  MMAUX_MPI_CHECK(MPI_Ibarrier(comm_, &req));
  wait(req, "barrier");
}

}  // namespace mmaux::dist
