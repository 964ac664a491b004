// The NCCL backend (CUDA tensors). Built as its own target when CUDA and NCCL are found.
//
// Bootstrap (constructor):
//   1. pick this rank's GPU: local_rank modulo the visible devices;
//   2. all-gather (host name, PCI bus id) over MPI and refuse two ranks on one GPU;
//   3. rank 0 creates the NCCL unique id and broadcasts it over MPI;
//   4. ncclCommInitRank, a communication stream, and a watchdog thread.
// Ordering: synchronous collectives run on the current stream of the tensors' device (the
// stream that produced them); all_reduce_async runs on the communication stream after an event
// recorded on the current stream, and Work::wait() makes the current stream wait for it.
// Timeouts: every enqueued collective is registered with the watchdog, which ends the job
// (ncclCommAbort, then abort_job) when one is not complete within dist.timeout-s or NCCL reports
// an asynchronous error.

#include <ATen/ATen.h>
#include <cuda_runtime_api.h>
#include <mpi.h>
#include <nccl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "dist/check_cuda.h"
#include "dist/check_mpi.h"
#include "dist/nccl/nccl_factory.h"
#include "mmaux/core/error.h"
#include "mmaux/core/log.h"
#include "mmaux/dist/runtime.h"

#if MMAUX_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace mmaux::dist {
namespace {

using Clock = std::chrono::steady_clock;

cudaStream_t current_stream(int device) {
#if MMAUX_TORCH_CUDA
  return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device)).stream();
#else
  (void)device;
  return nullptr;  // the default stream: a CPU-only libtorch has no CUDA tensors or streams
#endif
}

ncclDataType_t nccl_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return ncclFloat32;
    case at::kDouble:
      return ncclFloat64;
    case at::kBFloat16:
      return ncclBfloat16;
    case at::kHalf:
      return ncclFloat16;
    case at::kLong:
      return ncclInt64;
    case at::kInt:
      return ncclInt32;
    case at::kByte:
      return ncclUint8;
    default:
      MMAUX_THROW(CommError,
                  "NCCL: dtype {} is not supported; use float32, float64, bfloat16 or int64",
                  c10::toString(t));
  }
}

ncclRedOp_t nccl_op(ReduceOp op, at::ScalarType t) {
  switch (op) {
    case ReduceOp::kSum:
      return ncclSum;
    case ReduceOp::kAvg:
      return at::isFloatingType(t) ? ncclAvg : ncclSum;  // integers: sum, then divide
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kMin:
      return ncclMin;
  }
  return ncclSum;
}

void integer_average(at::Tensor& t, ReduceOp op, int size) {
  if (op == ReduceOp::kAvg && !at::isFloatingType(t.scalar_type())) t.div_(size, "trunc");
}

/// Makes `device` current for the calling thread (autograd hooks run on device threads).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    MMAUX_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) MMAUX_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }

 private:
  int previous_ = 0;
};

/// Ends the job when an enqueued collective does not complete in time.
class Watchdog {
 public:
  Watchdog(ncclComm_t comm, int rank, int size, double timeout_s)
      : comm_(comm), rank_(rank), size_(size), timeout_(timeout_s) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    for (auto& e : pending_) cudaEventDestroy(e.event);
  }
  /// Records an event on `stream` after the collective just enqueued there.
  void watch(cudaStream_t stream, std::string what) {
    cudaEvent_t ev;
    MMAUX_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    MMAUX_CUDA_CHECK(cudaEventRecord(ev, stream));
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(Entry{ev, Clock::now() + to_duration(), std::move(what)});
    cv_.notify_all();
  }

 private:
  struct Entry {
    cudaEvent_t event;
    Clock::time_point deadline;
    std::string what;
  };

  Clock::duration to_duration() const {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_));
  }

  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::milliseconds(20));
      while (!pending_.empty()) {
        Entry& e = pending_.front();
        cudaError_t q = cudaEventQuery(e.event);
        if (q == cudaSuccess) {
          cudaEventDestroy(e.event);
          pending_.pop_front();
          continue;
        }
        ncclResult_t async = ncclSuccess;
        ncclCommGetAsyncError(comm_, &async);
        if (async != ncclSuccess && async != ncclInProgress) {
          fail(fmt::format("NCCL reported an asynchronous error during {}: {}", e.what,
                           ncclGetErrorString(async)));
        }
        if (Clock::now() > e.deadline) {
          fail(
              fmt::format("NCCL {} did not complete within {} s (dist.timeout-s): another rank "
                          "died, is stuck, or entered a different collective",
                          e.what, timeout_));
        }
        break;
      }
    }
  }

  [[noreturn]] void fail(const std::string& message) {
    log_error("dist", "rank {} of {}: {}; ending the job", rank_, size_, message);
    ncclCommAbort(comm_);
    abort_job(kExitRuntimeError);
  }

  ncclComm_t comm_;
  int rank_, size_;
  double timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry> pending_;
  bool stop_ = false;
  std::thread thread_;
};

class NcclWork : public Work {
 public:
  NcclWork(cudaEvent_t done, int device, at::Tensor tensor, ReduceOp op, int size)
      : done_(done), device_(device), tensor_(std::move(tensor)), op_(op), size_(size) {}
  ~NcclWork() override { cudaEventDestroy(done_); }
  void wait() override {
    if (waited_) return;
    DeviceGuard guard(device_);
    MMAUX_CUDA_CHECK(cudaStreamWaitEvent(current_stream(device_), done_, 0));
    integer_average(tensor_, op_, size_);
    waited_ = true;
  }

 private:
  cudaEvent_t done_;
  int device_;
  at::Tensor tensor_;
  ReduceOp op_;
  int size_;
  bool waited_ = false;
};

class NcclCommunicator : public Communicator {
 public:
  /// A communicator split from `parent` (same ranks, same GPU, independent ordering).
  NcclCommunicator(const NcclCommunicator& parent, ncclComm_t comm)
      : rank_(parent.rank_),
        size_(parent.size_),
        timeout_s_(parent.timeout_s_),
        device_(parent.device_),
        comm_(comm) {
    DeviceGuard guard(device_);
    MMAUX_CUDA_CHECK(cudaStreamCreateWithFlags(&comm_stream_, cudaStreamNonBlocking));
    watchdog_ = std::make_unique<Watchdog>(comm_, rank_, size_, timeout_s_);
  }

  NcclCommunicator(const DistOptions& options, const Topology& topology)
      : rank_(topology.rank), size_(topology.world_size), timeout_s_(options.timeout_s) {
    int n = nccl_cuda_device_count();
    MMAUX_CHECK_CONFIG(n > 0,
                       "dist.backend=nccl on rank {}, but no CUDA device is visible; use "
                       "dist.backend=mpi on CPU or check CUDA_VISIBLE_DEVICES and the driver",
                       rank_);
    device_ = topology.local_rank % n;
    MMAUX_CUDA_CHECK(cudaSetDevice(device_));
    refuse_shared_gpus(n, topology.local_size);
    ncclUniqueId id;
    if (rank_ == 0) MMAUX_NCCL_CHECK(ncclGetUniqueId(&id));
    if (size_ > 1) {
      MMAUX_MPI_CHECK(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD));
    }
    MMAUX_NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
    MMAUX_CUDA_CHECK(cudaStreamCreateWithFlags(&comm_stream_, cudaStreamNonBlocking));
    watchdog_ = std::make_unique<Watchdog>(comm_, rank_, size_, timeout_s_);
    log_info("dist", "NCCL {} communicator: {} ranks, this rank on GPU {}", NCCL_VERSION_CODE,
             size_, device_);
  }

  ~NcclCommunicator() override {
    watchdog_.reset();
    if (comm_ != nullptr) ncclCommDestroy(comm_);
    if (comm_stream_ != nullptr) cudaStreamDestroy(comm_stream_);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  std::string backend() const override { return "nccl"; }
  c10::Device device() const override {
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(device_));
  }

  void all_reduce(at::Tensor& tensor, ReduceOp op) override {
    check(tensor, "all_reduce");
    DeviceGuard guard(device_);
    at::Tensor buf = tensor.is_contiguous() ? tensor : tensor.contiguous();
    cudaStream_t s = current_stream(device_);
    MMAUX_NCCL_CHECK(ncclAllReduce(buf.data_ptr(), buf.data_ptr(), buf.numel(),
                                   nccl_type(buf.scalar_type()), nccl_op(op, buf.scalar_type()),
                                   comm_, s));
    watchdog_->watch(s, describe("all_reduce", buf));
    integer_average(buf, op, size_);
    if (!buf.is_same(tensor)) tensor.copy_(buf);
  }

  at::Tensor all_gather(const at::Tensor& input) override {
    check(input, "all_gather");
    DeviceGuard guard(device_);
    at::Tensor in = input.contiguous();
    std::vector<int64_t> shape = in.sizes().vec();
    shape[0] *= size_;
    at::Tensor out = at::empty(shape, in.options());
    cudaStream_t s = current_stream(device_);
    MMAUX_NCCL_CHECK(ncclAllGather(in.data_ptr(), out.data_ptr(), in.numel(),
                                   nccl_type(in.scalar_type()), comm_, s));
    watchdog_->watch(s, describe("all_gather", in));
    return out;
  }

  at::Tensor all_gather_varsize(const at::Tensor& input) override {
    check(input, "all_gather_varsize");
    // NCCL has no all-gather-v: pad every rank's rows to the largest count, gather, cut.
    std::vector<int64_t> counts = gather_counts(input.size(0), *this);
    int64_t most = *std::max_element(counts.begin(), counts.end());
    std::vector<int64_t> shape = input.sizes().vec();
    shape[0] = most;
    at::Tensor padded = at::zeros(shape, input.options());
    padded.narrow(0, 0, input.size(0)).copy_(input);
    at::Tensor all = all_gather(padded);
    std::vector<at::Tensor> parts;
    for (int r = 0; r < size_; ++r) parts.push_back(all.narrow(0, r * most, counts[r]));
    return at::cat(parts, 0);
  }

  at::Tensor reduce_scatter(const at::Tensor& input, const std::vector<int64_t>& counts,
                            ReduceOp op) override {
    check(input, "reduce_scatter");
    MMAUX_CHECK_COMM(static_cast<int>(counts.size()) == size_,
                     "NCCL reduce_scatter: {} counts for a world of {} ranks", counts.size(),
                     size_);
    DeviceGuard guard(device_);
    at::Tensor in = input.contiguous();
    int64_t per_row = in.size(0) > 0 ? in.numel() / in.size(0) : 0;
    std::vector<int64_t> shape = in.sizes().vec();
    shape[0] = counts[rank_];
    at::Tensor out = at::empty(shape, in.options());
    cudaStream_t s = current_stream(device_);
    ncclDataType_t type = nccl_type(in.scalar_type());
    ncclRedOp_t nop = nccl_op(op, in.scalar_type());
    bool equal =
        std::all_of(counts.begin(), counts.end(), [&](int64_t c) { return c == counts.front(); });
    if (equal) {
      MMAUX_NCCL_CHECK(ncclReduceScatter(in.data_ptr(), out.data_ptr(), counts[0] * per_row, type,
                                         nop, comm_, s));
    } else {
      // Unequal slices: one reduce per destination rank, grouped into a single launch.
      auto* base = static_cast<char*>(in.data_ptr());
      int64_t offset = 0;
      MMAUX_NCCL_CHECK(ncclGroupStart());
      for (int r = 0; r < size_; ++r) {
        void* recv = r == rank_ ? out.data_ptr() : nullptr;
        MMAUX_NCCL_CHECK(ncclReduce(base + offset * in.element_size(), recv, counts[r] * per_row,
                                    type, nop, r, comm_, s));
        offset += counts[r] * per_row;
      }
      MMAUX_NCCL_CHECK(ncclGroupEnd());
    }
    watchdog_->watch(s, describe("reduce_scatter", in));
    integer_average(out, op, size_);
    return out;
  }

  void broadcast(at::Tensor& tensor, int root) override {
    check(tensor, "broadcast");
    DeviceGuard guard(device_);
    at::Tensor buf = tensor.is_contiguous() ? tensor : tensor.contiguous();
    cudaStream_t s = current_stream(device_);
    MMAUX_NCCL_CHECK(ncclBroadcast(buf.data_ptr(), buf.data_ptr(), buf.numel(),
                                   nccl_type(buf.scalar_type()), root, comm_, s));
    watchdog_->watch(s, describe("broadcast", buf));
    if (!buf.is_same(tensor)) tensor.copy_(buf);
  }

  void barrier() override {
    at::Tensor one = at::ones({1}, at::TensorOptions().dtype(at::kFloat).device(device()));
    all_reduce(one, ReduceOp::kSum);
    DeviceGuard guard(device_);
    // Host-side wait with the timeout (the watchdog also covers it).
    cudaEvent_t ev;
    MMAUX_CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    MMAUX_CUDA_CHECK(cudaEventRecord(ev, current_stream(device_)));
    auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s_);
    cudaError_t q;
    while ((q = cudaEventQuery(ev)) == cudaErrorNotReady) {
      if (Clock::now() > deadline) {
        cudaEventDestroy(ev);
        MMAUX_THROW(CommError, "rank {} of {}: NCCL barrier did not complete within {} s", rank_,
                    size_, timeout_s_);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    cudaEventDestroy(ev);
    MMAUX_CUDA_CHECK(q);
  }

  std::shared_ptr<Communicator> duplicate() override {
    DeviceGuard guard(device_);
    ncclComm_t child = nullptr;
#if NCCL_VERSION_CODE >= 21800
    MMAUX_NCCL_CHECK(ncclCommSplit(comm_, 0, rank_, &child, nullptr));
#else
    MMAUX_THROW(CommError, "NCCL {} has no ncclCommSplit; mmaux needs NCCL >= 2.18",
                NCCL_VERSION_CODE);
#endif
    return std::make_shared<NcclCommunicator>(*this, child);
  }

  std::shared_ptr<Work> all_reduce_async(at::Tensor& tensor, ReduceOp op) override {
    check(tensor, "all_reduce_async");
    MMAUX_CHECK_COMM(tensor.is_contiguous(), "NCCL all_reduce_async needs a contiguous tensor");
    DeviceGuard guard(device_);
    cudaStream_t producer = current_stream(device_);
    cudaEvent_t ready, done;
    MMAUX_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
    MMAUX_CUDA_CHECK(cudaEventRecord(ready, producer));
    MMAUX_CUDA_CHECK(cudaStreamWaitEvent(comm_stream_, ready, 0));
    cudaEventDestroy(ready);
    MMAUX_NCCL_CHECK(ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(),
                                   nccl_type(tensor.scalar_type()),
                                   nccl_op(op, tensor.scalar_type()), comm_, comm_stream_));
#if MMAUX_TORCH_CUDA
    // The caching allocator must not hand this memory to another stream before NCCL is done.
    c10::cuda::CUDACachingAllocator::recordStream(
        tensor.storage().data_ptr(),
        c10::cuda::getStreamFromExternal(comm_stream_, static_cast<c10::DeviceIndex>(device_)));
#endif
    MMAUX_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    MMAUX_CUDA_CHECK(cudaEventRecord(done, comm_stream_));
    watchdog_->watch(comm_stream_, describe("all_reduce_async", tensor));
    return std::make_shared<NcclWork>(done, device_, tensor, op, size_);
  }

 private:
  void check(const at::Tensor& t, const char* what) const {
    MMAUX_CHECK_COMM(t.defined(), "NCCL {}: the tensor is undefined", what);
    MMAUX_CHECK_COMM(t.is_cuda() && t.device().index() == device_,
                     "NCCL {}: tensor on {} but this rank's communicator uses cuda:{}", what,
                     t.device().str(), device_);
    MMAUX_CHECK_COMM(t.dim() >= 1, "NCCL {}: needs a tensor with a dim 0", what);
  }

  std::string describe(const char* op, const at::Tensor& t) const {
    return fmt::format("{} of {} {} elements", op, t.numel(), c10::toString(t.scalar_type()));
  }

  void refuse_shared_gpus(int visible, int local_size) {
    if (size_ == 1) return;
    constexpr int kLen = 160;
    char mine[kLen] = {};
    char host[64] = {};
    char bus[64] = {};
    gethostname(host, sizeof(host) - 1);
    MMAUX_CUDA_CHECK(cudaDeviceGetPCIBusId(bus, sizeof(bus), device_));
    std::snprintf(mine, kLen, "%s|%s", host, bus);
    std::vector<char> all(static_cast<size_t>(kLen) * size_);
    MMAUX_MPI_CHECK(
        MPI_Allgather(mine, kLen, MPI_CHAR, all.data(), kLen, MPI_CHAR, MPI_COMM_WORLD));
    for (int r = 0; r < size_; ++r) {
      for (int q = r + 1; q < size_; ++q) {
        MMAUX_CHECK_CONFIG(std::strncmp(&all[r * kLen], &all[q * kLen], kLen) != 0,
                           "ranks {} and {} would share one GPU ({}): NCCL needs one GPU per "
                           "rank; this node has {} visible GPU(s) for {} ranks, start at most "
                           "{} ranks per node",
                           r, q, std::string(&all[r * kLen]), visible, local_size, visible);
      }
    }
  }

  int rank_, size_;
  double timeout_s_;
  int device_ = 0;
  ncclComm_t comm_ = nullptr;
  cudaStream_t comm_stream_ = nullptr;
  std::unique_ptr<Watchdog> watchdog_;
};

}  // namespace

int nccl_cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

std::shared_ptr<Communicator> make_nccl_communicator(const DistOptions& options,
                                                     const Topology& topology) {
  return std::make_shared<NcclCommunicator>(options, topology);
}

}  // namespace mmaux::dist
