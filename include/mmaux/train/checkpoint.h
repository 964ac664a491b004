#pragma once
/// Checkpoints of a run: RUN/checkpoints/<name>/ with model.safetensors (the model's tensors
/// under their Hugging Face names), trainer.safetensors (optimizer moments and steps, the ITC
/// logit scale, every rank's RNG state), config.ini (the effective configuration) and state.json
/// (step, epoch, data cursor, world size, configuration hash, best score, file sizes and SHA-256).
///
/// Commit protocol of save() (collective):
///   1. every rank's RNG state is gathered to rank 0;
///   2. rank 0 writes every file into RUN/checkpoints/.tmp-<name>, fsyncs each, writes state.json
///      last (it lists the other files' sizes and checksums) and fsyncs the directory;
///   3. rank 0 renames the directory to <name> (an older <name> is moved aside first and removed
///      after), then fsyncs RUN/checkpoints: until this rename the previous checkpoint is intact;
///   4. rank 0 removes step checkpoints beyond keep_last (never the newest, never "best");
///   5. barrier: no rank continues before the checkpoint is complete.
/// When a step of 2 or 3 fails (a full disk), rank 0 removes RUN/checkpoints/.tmp-<name> before it
/// reports the error: the earlier checkpoints stay as they were and nothing half-written remains.
/// A checkpoint is valid when state.json parses and every listed file has its size and SHA-256.

#include <ATen/Tensor.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mmaux/dist/communicator.h"

namespace mmaux::train {

using TensorMap = std::map<std::string, at::Tensor>;

struct CheckpointData {
  std::string name;        ///< "step-00000042", "best"
  TensorMap model;         ///< model tensors
  TensorMap trainer;       ///< optimizer state, logit scale (rank-independent)
  at::Tensor rng_state;    ///< this rank's RNG state (uint8); gathered by save()
  std::string config_ini;  ///< effective configuration
  nlohmann::json state;    ///< step, epoch, cursor, hashes, ...
};

class CheckpointStore {
 public:
  /// `run_dir`/checkpoints holds the checkpoints.
  CheckpointStore(std::string run_dir, int keep_last);

  /// Writes `data` following the commit protocol above. Collective.
  void save(const CheckpointData& data, dist::Communicator& comm);

  /// Loads a checkpoint directory; `rank` picks that rank's RNG state. Throws DataError naming
  /// the file and the problem when it is invalid.
  static CheckpointData load(const std::string& dir, int rank);

  /// state.json of a checkpoint directory (not validated).
  static nlohmann::json load_state(const std::string& dir);

  /// Checks a checkpoint directory; "" when valid, else what is wrong.
  static std::string validate(const std::string& dir);

  /// The newest valid step or epoch checkpoint (by step), skipping invalid ones with a warning
  /// naming them and why; nullopt when none. Not collective.
  std::optional<std::string> newest_valid() const;

  std::string dir_of(const std::string& name) const;
  const std::string& checkpoints_dir() const { return ckpt_dir_; }

 private:
  void prune(const std::string& keep);
  // Steps 2 and 3 of save() on rank 0.
  void write_staged(const CheckpointData& data, const at::Tensor& all_rng, int world_size,
                    const std::string& tmp);
  std::string run_dir_;
  std::string ckpt_dir_;
  int keep_last_;
};

/// "step-%08d".
std::string step_checkpoint_name(int64_t step);

}  // namespace mmaux::train
