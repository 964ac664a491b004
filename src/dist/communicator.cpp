#include "mmaux/dist/communicator.h"

#include <ATen/ATen.h>

#include "dist/local/local_communicator.h"
#include "dist/mpi/mpi_communicator.h"
#include "dist/nccl/nccl_factory.h"
#include "mmaux/core/error.h"
#include "mmaux/core/log.h"
#include "mmaux/dist/runtime.h"

namespace mmaux::dist {
namespace {

class DoneWork : public Work {
 public:
  void wait() override {}
};

}  // namespace

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kAvg:
      return "avg";
    case ReduceOp::kMax:
      return "max";
    case ReduceOp::kMin:
      return "min";
  }
  return "?";
}

std::shared_ptr<Work> Communicator::all_reduce_async(at::Tensor& tensor, ReduceOp op) {
  all_reduce(tensor, op);
  return std::make_shared<DoneWork>();
}

std::shared_ptr<Communicator> make_local_communicator() {
  return std::make_shared<LocalCommunicator>();
}

bool nccl_compiled() {
#if MMAUX_WITH_NCCL
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#if MMAUX_WITH_NCCL
  return nccl_cuda_device_count();
#else
  return 0;
#endif
}

std::shared_ptr<Communicator> make_communicator(const DistOptions& options, bool cuda,
                                                const Topology& topology) {
  CommBackend backend = options.backend;
  if (backend == CommBackend::kAuto) {
    if (cuda && nccl_compiled()) {
      backend = CommBackend::kNccl;
    } else {
      backend = mpi_active() ? CommBackend::kMpi : CommBackend::kLocal;
    }
  }
  if (backend == CommBackend::kLocal) {
    MMAUX_CHECK_CONFIG(topology.world_size == 1,
                       "dist.backend=local cannot connect {} ranks; use dist.backend=mpi (CPU) or "
                       "nccl (GPU), or start one process",
                       topology.world_size);
    return make_local_communicator();
  }
  if (backend == CommBackend::kMpi) {
    MMAUX_CHECK_CONFIG(!cuda,
                       "dist.backend=mpi moves CPU tensors only, but the model runs on CUDA; use "
                       "dist.backend=nccl or auto");
    MMAUX_CHECK_CONFIG(mpi_active(),
                       "dist.backend=mpi needs the MPI runtime; start the job with mpirun or "
                       "'srun --mpi=pmix'");
    return std::make_shared<MpiCommunicator>(options.timeout_s, topology.local_size);
  }
  if (backend == CommBackend::kNccl) {
#if MMAUX_WITH_NCCL
    MMAUX_CHECK_CONFIG(cuda, "dist.backend=nccl needs the model on CUDA (train.device)");
    return make_nccl_communicator(options, topology);
#else
    MMAUX_THROW(ConfigError,
                "dist.backend=nccl, but this mmaux was built without NCCL (MMAUX_WITH_NCCL=0); "
                "rebuild with the CUDA toolkit and NCCL installed, or use dist.backend=mpi");
#endif
  }
  MMAUX_THROW(InternalError, "dist.backend {} has no communicator (a bug)",
              name_of(options.backend));
}

std::vector<int64_t> gather_counts(int64_t rows, Communicator& comm) {
  if (comm.world_size() == 1) return {rows};
  at::Tensor mine = at::full({1}, rows, at::TensorOptions().dtype(at::kLong).device(comm.device()));
  at::Tensor all = comm.all_gather(mine).cpu();
  const int64_t* p = all.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + all.numel());
}

}  // namespace mmaux::dist
