#pragma once
/// Data-parallel gradient synchronisation: replicas start identical and their gradients are
/// averaged over ranks before every optimizer step.
///
/// Protocol:
///   1. construction (collective): every rank fingerprints its parameter list (names, shapes,
///      dtypes, requires_grad); a mismatch throws ConfigError naming the first parameter that
///      differs and the rank that holds it. Then parameters and buffers are broadcast from
///      rank 0, and the trainable parameters are split into flat buckets of about bucket_mb
///      (reverse registration order, the order backward produces gradients; identical on every
///      rank because the fingerprints are);
///   2. during backward, an autograd hook on each trainable parameter copies its gradient into
///      its bucket; when every parameter of bucket k has reported and buckets 0..k-1 are started,
///      bucket k's all-reduce is started (mpi: non-blocking MPI; nccl: a communication stream);
///   3. finish() (collective) starts the buckets not started yet (parameters that got no
///      gradient on this rank contribute zeros), waits for all of them, writes the averages
///      back into .grad, and leaves .grad undefined only for parameters that got no gradient on
///      any rank (exactly as one process on the global batch would);
///   4. optionally, check_divergence(step) every K steps compares a hash of the parameters.
///
/// Embedding tables (2-d parameters of 8192 rows or more) are not bucketed: their gradient is
/// zero outside the rows of the batch's tokens, so finish() all-reduces a row mask, then only
/// the union of the non-zero rows (15.6 of the 19.6 MB a tiny-preset step would send).
///
/// Gradient accumulation: call set_sync(false) for the backward passes of all micro-batches but
/// the last; the hooks then stay idle and .grad accumulates locally; the last backward (with
/// set_sync(true)) adds the accumulated gradient into the buckets.

#include <ATen/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mmaux/config/dist_options.h"
#include "mmaux/dist/communicator.h"

namespace mmaux::dist {

/// Parameters by name, as torch::nn::Module::named_parameters() lists them.
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

class GradSync {
 public:
  /// Collective (fingerprint check, then broadcast from rank 0). Parameters with requires_grad
  /// false take part in the check and the broadcast but not in the buckets.
  GradSync(const NamedTensors& parameters, const NamedTensors& buffers,
           std::shared_ptr<Communicator> comm, const DistOptions& options);
  GradSync(torch::nn::Module& module, std::shared_ptr<Communicator> comm,
           const DistOptions& options);
  ~GradSync();
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  /// Enables (default) or disables the hooks for the following backward passes.
  void set_sync(bool enabled);

  /// Completes the synchronisation of the last backward: afterwards .grad holds the average over
  /// ranks. Call after backward and before the optimizer step (also when this rank's backward
  /// produced no gradient at all). Collective.
  void finish();

  /// Copies rank 0's buffers (BatchNorm running statistics) to every rank, packed into one
  /// broadcast per dtype: what DDP's broadcast_buffers does before each forward. The trainer calls
  /// it after every window of micro-batches, so evaluation and checkpoints see one set of
  /// statistics. Nothing happens with one rank or no buffers. Collective.
  void broadcast_buffers();

  /// When divergence_check_every > 0 and `step` is a multiple of it: hashes the parameters and
  /// throws CommError naming every rank whose replica differs from rank 0's. Collective (every
  /// rank calls it with the same step).
  void check_divergence(int64_t step);

  /// A 64-bit hash of the parameters' bytes on this rank.
  uint64_t parameter_hash() const;

  /// After finish(), for each embedding table synchronised by rows: 1 for every row that was
  /// non-zero on some rank, so rows marked 0 have an exactly zero averaged gradient (the
  /// optimizer skips their scan). Empty with one rank.
  const std::map<std::string, std::vector<uint8_t>>& row_masks() const;

  /// Number of gradient buckets, and the parameter names in bucket k (for logs and tests).
  int num_buckets() const;
  std::vector<std::string> bucket_names(int k) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Whether GradSync synchronises `p` by rows: an embedding table (2-d, >= 8192 rows), whose
/// gradient is zero outside the rows of the batch's tokens. AdamW uses the same test.
bool synchronised_by_rows(const at::Tensor& p);

/// The architecture fingerprint of a parameter list: one line per parameter,
/// "name dtype [d0, d1] grad|frozen".
std::vector<std::string> parameter_fingerprint(const NamedTensors& parameters);

}  // namespace mmaux::dist
