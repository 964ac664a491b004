#pragma once
// Private: a restricted unpickler for the data.pkl member of torch.save files.
//
// It is not Python's pickle: it interprets the pickle opcodes of protocols 2-4 itself and knows
// five callables, each handled by mmaux code (nothing is imported or executed):
//   collections.OrderedDict (called with no arguments, state ignored),
//   torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter,
//   torch.{Float,Double,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage (persistent ids only).
// Every other GLOBAL, REDUCE or BUILD, and every opcode a state dict does not use (INST, OBJ,
// NEWOBJ, EXT*, PERSID, ...), is a DataError naming the file, the byte offset and the callable.
// The result must be a flat dict of tensors or a single tensor (torch.save(tensor, f)). Memory is
// bounded by the pickle's size (at most kMaxPickleBytes) and by kMaxPickleObjects; nothing
// recurses, so nesting cannot exhaust the stack.

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mmaux::model {

/// Largest data.pkl accepted (a state dict's pickle takes about 100 bytes per tensor).
constexpr uint64_t kMaxPickleBytes = 16ull << 20;
/// Most objects a pickle may create.
constexpr uint64_t kMaxPickleObjects = 4ull << 20;

/// A storage named by a persistent id: the zip member data/<key> holding numel elements.
struct PickledStorage {
  std::string key;
  at::ScalarType dtype = at::kFloat;
  int64_t numel = 0;
};

/// One tensor of the state dict: a strided view of storages[storage]. Checked: sizes and strides
/// are non-negative, the view lies inside its storage and has no more elements than it.
struct PickledTensor {
  std::string name;
  size_t storage = 0;
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

struct PickledStateDict {
  std::vector<PickledStorage> storages;
  std::vector<PickledTensor> tensors;  ///< in the dict's order
  /// The pickle is one tensor, not a dict (tensors then holds it alone, with an empty name).
  bool bare_tensor = false;
};

/// Interprets `bytes` (the data.pkl of `origin`) as a state dict. Throws DataError.
PickledStateDict unpickle_state_dict(std::string_view bytes, const std::string& origin);

}  // namespace mmaux::model
