#pragma once
/// PyTorch checkpoints written by torch.save (`pytorch_model.bin`), read without Python.
///
/// Format (PyTorch >= 1.6): a zip archive with stored (uncompressed) members `<dir>/data.pkl` (the
/// pickled state dict), `<dir>/data/<key>` (one raw little-endian storage per key) and
/// `<dir>/version`.
///
/// Security model: a .bin is untrusted input. mmaux never runs Python's pickle on it; its own
/// interpreter accepts only what a state dict contains (dicts, OrderedDicts, tensors rebuilt by
/// torch._utils._rebuild_tensor_v2 / _rebuild_parameter from storages of the ten plain dtypes,
/// tuples, ints, floats, strings, bools, None) and rejects every other global or call with a
/// DataError naming the file. Every zip offset, member size, storage size and tensor view is
/// checked against the file before it is read; member CRC-32s are verified; the pickle is at most
/// 16 MiB and creates at most 4 Mi objects, so a hostile header cannot exhaust memory. The legacy
/// pre-1.6 format (a bare pickle stream) is refused with the one-line conversion.

#include <ATen/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace mmaux::model {

/// Parses a torch.save file held in memory and returns its state dict (CPU tensors in the file's
/// dtypes, in the dict's order; tensors sharing a storage share memory). `verify_crc` false skips
/// the CRC-32 checks (the fuzz target uses it so that mutated inputs reach the parsers). Throws
/// DataError naming `origin`.
std::vector<std::pair<std::string, at::Tensor>> parse_torch_bin(const char* data, size_t size,
                                                                const std::string& origin,
                                                                bool verify_crc = true);

/// Reads a torch.save file from disk: the directory and the pickle first, then each storage
/// once, straight into tensor memory. Throws DataError naming `path`.
std::vector<std::pair<std::string, at::Tensor>> read_torch_bin(const std::string& path);

/// Reads a torch.save file holding one tensor (torch.save(tensor, path), as the paper's region
/// feature scripts write), with the same checks and limits. A state dict is a DataError, as is
/// a single tensor given to read_torch_bin / parse_torch_bin. Throws DataError naming `path`.
at::Tensor read_torch_tensor(const std::string& path);

}  // namespace mmaux::model
