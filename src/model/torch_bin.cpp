#include "mmaux/model/torch_bin.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "mmaux/core/error.h"
#include "model/pickle.h"
#include "model/zip_archive.h"

namespace mmaux::model {

namespace {

constexpr char kZipMagic[] = "PK\x03\x04";

/// The first bytes of every file torch.save wrote before PyTorch 1.6 (a pickle stream starting
/// with the protocol opcode) and the conversion to the zip format.
void refuse_legacy(const ByteSource& source) {
  unsigned char head[4] = {0, 0, 0, 0};
  const uint64_t n = std::min<uint64_t>(source.size(), 4);
  source.read(0, n, head);
  if (n == 4 && std::memcmp(head, kZipMagic, 4) == 0) return;
  MMAUX_THROW(DataError,
              "{}: not a zip-format torch.save file{}. Convert it once with PyTorch >= 1.13: "
              "python -c \"import torch; torch.save(torch.load('{}', map_location='cpu', "
              "weights_only=True), 'converted.bin')\"",
              source.origin(),
              n >= 1 && head[0] == 0x80 ? " (it is the legacy pre-1.6 pickle format)" : "",
              source.origin());
}

/// The archive's record directory ("<dir>/"), from its data.pkl member.
std::string record_prefix(const ZipArchive& zip, const std::string& origin) {
  std::string found;
  for (const auto& [name, entry] : zip.entries()) {
    const size_t slash = name.find('/');
    if (slash != std::string::npos && name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      MMAUX_CHECK_DATA(found.empty(), "{}: two data.pkl members ('{}data.pkl' and '{}')", origin,
                       found, name);
      found = name.substr(0, slash + 1);
    }
  }
  MMAUX_CHECK_DATA(!found.empty(),
                   "{}: a zip archive without <dir>/data.pkl is not a torch.save file", origin);
  MMAUX_CHECK_DATA(zip.find(found + "constants.pkl") == nullptr,
                   "{}: a TorchScript archive (torch.jit.save), not a state dict; save the "
                   "weights with torch.save(model.state_dict(), ...)",
                   origin);
  if (const ZipEntry* order = zip.find(found + "byteorder")) {
    const std::string value = zip.read_string(*order, true);
    MMAUX_CHECK_DATA(value == "little", "{}: byte order '{}' is not supported (little only)",
                     origin, value.substr(0, 16));
  }
  return found;
}

/// The storage's member read into a fresh tensor, after checking its size against the pickle's
/// declaration (so the allocation is bounded by the file).
at::Tensor load_storage(const ZipArchive& zip, const std::string& prefix, const PickledStorage& s,
                        const std::string& tensor, const std::string& origin, bool verify_crc) {
  const ZipEntry* member = zip.find(prefix + "data/" + s.key);
  MMAUX_CHECK_DATA(member != nullptr, "{}: tensor '{}' uses storage '{}', which has no member",
                   origin, tensor, s.key);
  const uint64_t nbytes = static_cast<uint64_t>(s.numel) * c10::elementSize(s.dtype);
  MMAUX_CHECK_DATA(member->size == nbytes,
                   "{}: storage '{}' holds {} bytes but the pickle declares {} elements of {} ({} "
                   "bytes)",
                   origin, s.key, member->size, s.numel, c10::toString(s.dtype), nbytes);
  at::Tensor data = at::empty({s.numel}, at::TensorOptions().dtype(s.dtype));
  zip.read(*member, data.data_ptr(), verify_crc);
  if (s.dtype == at::kBool) {
    const auto* bytes = static_cast<const unsigned char*>(data.data_ptr());
    for (int64_t i = 0; i < s.numel; ++i) {
      MMAUX_CHECK_DATA(bytes[i] <= 1, "{}: bool storage '{}' holds the byte {} (not 0 or 1)",
                       origin, s.key, bytes[i]);
    }
  }
  return data;
}

/// `bare` (may be null) receives whether the file holds one tensor rather than a dict.
std::vector<std::pair<std::string, at::Tensor>> read_archive(const ByteSource& source,
                                                             bool verify_crc, bool* bare) {
  const std::string& origin = source.origin();
  refuse_legacy(source);
  ZipArchive zip(source);
  const std::string prefix = record_prefix(zip, origin);
  const ZipEntry& pickle = *zip.find(prefix + "data.pkl");
  MMAUX_CHECK_DATA(pickle.size <= kMaxPickleBytes,
                   "{}: data.pkl is {} bytes, beyond the limit of {} for a state dict", origin,
                   pickle.size, kMaxPickleBytes);
  const PickledStateDict dict = unpickle_state_dict(zip.read_string(pickle, verify_crc), origin);
  MMAUX_CHECK_DATA(bare != nullptr || !dict.bare_tensor,
                   "{}: holds a single tensor (torch.save(tensor, ...)), not a state dict; save "
                   "the weights with torch.save(model.state_dict(), ...)",
                   origin);
  if (bare != nullptr) *bare = dict.bare_tensor;
  std::map<size_t, at::Tensor> storages;  // only those a tensor uses, each read once
  std::vector<std::pair<std::string, at::Tensor>> out;
  out.reserve(dict.tensors.size());
  for (const PickledTensor& t : dict.tensors) {
    auto it = storages.find(t.storage);
    if (it == storages.end()) {
      at::Tensor data =
          load_storage(zip, prefix, dict.storages[t.storage], t.name, origin, verify_crc);
      it = storages.emplace(t.storage, data).first;
    }
    out.emplace_back(t.name, it->second.as_strided(t.sizes, t.strides, t.offset));
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, at::Tensor>> parse_torch_bin(const char* data, size_t size,
                                                                const std::string& origin,
                                                                bool verify_crc) {
  auto source = memory_source(data, size, origin);
  return read_archive(*source, verify_crc, nullptr);
}

std::vector<std::pair<std::string, at::Tensor>> read_torch_bin(const std::string& path) {
  auto source = file_source(path);
  return read_archive(*source, true, nullptr);
}

at::Tensor read_torch_tensor(const std::string& path) {
  auto source = file_source(path);
  bool bare = false;
  auto entries = read_archive(*source, true, &bare);
  MMAUX_CHECK_DATA(bare,
                   "{}: holds a dict of {} tensors, expected one tensor saved with "
                   "torch.save(tensor, ...)",
                   path, entries.size());
  return entries.front().second;
}

}  // namespace mmaux::model
