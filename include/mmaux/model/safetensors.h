#pragma once
/// Hugging Face safetensors files: a hardened reader and a writer.
///
/// Layout: 8-byte little-endian header length N, N bytes of JSON
/// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
///  "__metadata__": {"key": "value"}}, then the data; offsets are relative to the data start.
///
/// Every malformed file gives a DataError naming the file and the problem, never a crash or a
/// read outside the file: a header length beyond the file, invalid or too deeply nested JSON, an
/// unknown dtype, a negative or overflowing shape, offsets outside the data, a byte size that
/// does not match shape × dtype, overlapping tensors, BOOL bytes other than 0/1.

#include <ATen/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mmaux::model {

/// One tensor entry of a header.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;  ///< "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"
  std::vector<int64_t> shape;
  uint64_t begin = 0;  ///< byte offset in the data section
  uint64_t end = 0;
};

/// A validated header.
struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;  ///< in file order of begin offsets
  std::map<std::string, std::string> metadata;
  uint64_t data_offset = 0;  ///< 8 + N: where the data section starts in the file
  uint64_t data_size = 0;    ///< bytes of the data section
};

/// Largest accepted header (JSON) length.
constexpr uint64_t kMaxSafetensorsHeader = 100ull << 20;

/// Validates the header JSON `json` of a file whose data section holds `data_size` bytes.
/// `origin` names the file in errors. Throws DataError.
SafetensorsHeader parse_safetensors_header(std::string_view json, uint64_t data_size,
                                           const std::string& origin);

/// Parses a whole safetensors file held in memory and returns its tensors (CPU, the file's
/// dtypes) in file order. Throws DataError. The fuzz target calls this.
std::vector<std::pair<std::string, at::Tensor>> parse_safetensors(const char* data, size_t size,
                                                                  const std::string& origin);

/// Reads one safetensors file from disk (header first, then each tensor at its offset).
class SafetensorsReader {
 public:
  /// Opens and validates `path`. Throws DataError.
  explicit SafetensorsReader(const std::string& path);
  const SafetensorsHeader& header() const { return header_; }
  /// The tensor `name` (CPU, the file's dtype). Throws DataError when absent.
  at::Tensor load(const std::string& name) const;
  /// Every tensor, in file order.
  std::vector<std::pair<std::string, at::Tensor>> load_all() const;

 private:
  std::string path_;
  SafetensorsHeader header_;
};

/// Writes `tensors` (any device and dtype among those above; written contiguous from the CPU) to
/// `path` with `metadata` (plus "format": "pt"), through a temporary file and a rename. Names must
/// be unique and non-empty. Throws Error.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace mmaux::model
