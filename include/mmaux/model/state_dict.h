#pragma once
/// Loading and saving module state as safetensors, with Hugging Face key conventions.

#include <torch/nn/module.h>

#include <map>
#include <string>
#include <vector>

namespace mmaux::model {

/// Tensors by name (CPU, any dtype).
using TensorMap = std::map<std::string, at::Tensor>;

/// What load_state_dict did, by parameter name.
struct LoadReport {
  std::vector<std::string> loaded;
  std::vector<std::string> missing;     ///< parameters with no tensor (kept as initialised)
  std::vector<std::string> unexpected;  ///< tensors with no parameter
  std::vector<std::string> mismatched;  ///< "name: checkpoint [..] vs model [..]"
  std::vector<std::string> ignored;     ///< pre-training heads and buffers skipped on purpose
  /// BatchNorm num_batches_tracked buffers the checkpoint lacks: set to 0, as PyTorch does.
  std::vector<std::string> zero_filled;
};

/// Rules for matching checkpoint keys to parameter names.
struct LoadRules {
  bool strict = true;  ///< missing / unexpected / mismatched tensors throw DataError
  /// Parameters allowed to be missing even when strict (e.g. a pooler a checkpoint lacks): name
  /// prefixes. They are reported in the log.
  std::vector<std::string> may_miss;
  /// Checkpoint keys skipped without complaint: prefixes (pre-training heads, buffers).
  std::vector<std::string> ignore;
};

/// Copies `tensors` into the parameters and buffers of `module` (converted to each one's dtype and
/// device; float16 and bfloat16 checkpoints become float32 models; integer buffers such as
/// num_batches_tracked take integer tensors). Everything that does not
/// match is reported by name; with rules.strict a DataError lists every problem (naming `origin`)
/// and no parameter is changed. Not collective.
LoadReport load_state_dict(torch::nn::Module& module, const TensorMap& tensors,
                           const LoadRules& rules, const std::string& origin);

/// Every parameter of `module` in named_parameters() order, then every buffer in named_buffers()
/// order (detached, on their device).
std::vector<std::pair<std::string, at::Tensor>> state_tensors(const torch::nn::Module& module);

/// Saves every parameter and buffer of `module` to one safetensors file (keys = their names).
void save_state(const torch::nn::Module& module, const std::string& path,
                const std::map<std::string, std::string>& metadata = {});
/// Loads a file written by save_state (or any safetensors file with the same keys).
LoadReport load_state(torch::nn::Module& module, const std::string& path, bool strict = true);

/// The weights file of a Hugging Face directory, in transformers' order of preference:
/// model.safetensors, model.safetensors.index.json, pytorch_model.bin,
/// pytorch_model.bin.index.json; "" when there is none.
std::string hf_weights_file(const std::string& dir);
/// True when hf_weights_file(dir) is not empty.
bool has_hf_weights(const std::string& dir);
/// Weight files of other frameworks in `dir` (tf_model.h5, flax_model.msgpack, model.ckpt.index),
/// which mmaux does not read.
std::vector<std::string> foreign_weight_files(const std::string& dir);

/// Reads the weights of a Hugging Face directory from hf_weights_file(dir): one file, or every
/// shard named by an index (shard names must be plain file names inside `dir`). `.bin` files
/// are read with read_torch_bin (never by executing their pickle). Throws DataError when the
/// directory has none of these (naming TensorFlow / Flax files, with how to convert them).
TensorMap read_hf_weights(const std::string& dir);

/// Renames Hugging Face checkpoint keys to mmaux tower keys: strips the first of `prefixes`
/// that a key starts with (e.g. "bert.", "roberta.", "vit.") and renames legacy LayerNorm
/// "gamma" / "beta" to "weight" / "bias". Keys that become equal throw DataError.
TensorMap normalize_hf_keys(const TensorMap& tensors, const std::vector<std::string>& prefixes,
                            const std::string& origin);

/// Prepends `prefix` to every key.
TensorMap with_prefix(const TensorMap& tensors, const std::string& prefix);

}  // namespace mmaux::model
