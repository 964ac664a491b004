#include "mmaux/model/safetensors.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "model/json_util.h"
#include "model/shape.h"

namespace mmaux::model {

namespace {

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  uint64_t size;
};

constexpr DtypeInfo kDtypes[] = {{"F64", at::kDouble, 8}, {"F32", at::kFloat, 4},
                                 {"F16", at::kHalf, 2},   {"BF16", at::kBFloat16, 2},
                                 {"I64", at::kLong, 8},   {"I32", at::kInt, 4},
                                 {"I16", at::kShort, 2},  {"I8", at::kChar, 1},
                                 {"U8", at::kByte, 1},    {"BOOL", at::kBool, 1}};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const DtypeInfo* find_dtype(at::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (type == d.type) return &d;
  }
  return nullptr;
}

bool host_is_little_endian() {
  const uint16_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

uint64_t read_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

/// Header length from the first 8 bytes of a file of `file_size` bytes, checked against it.
uint64_t checked_header_length(const unsigned char* first8, uint64_t file_size,
                               const std::string& origin) {
  MMAUX_CHECK_DATA(
      file_size >= 8,
      "{}: {} bytes is too short for a safetensors file (needs the 8-byte header length)", origin,
      file_size);
  const uint64_t n = read_le64(first8);
  MMAUX_CHECK_DATA(n <= file_size - 8,
                   "{}: header length {} runs beyond the end of the file ({} bytes); the file is "
                   "truncated or not safetensors",
                   origin, n, file_size);
  MMAUX_CHECK_DATA(n <= kMaxSafetensorsHeader, "{}: header length {} exceeds the limit of {} bytes",
                   origin, n, kMaxSafetensorsHeader);
  MMAUX_CHECK_DATA(n >= 2, "{}: header length {} is too short for a JSON object", origin, n);
  return n;
}

SafetensorsEntry parse_entry(const std::string& name, const nlohmann::json& v, uint64_t data_size,
                             const std::string& origin) {
  SafetensorsEntry e;
  e.name = name;
  MMAUX_CHECK_DATA(!name.empty(), "{}: a tensor has an empty name", origin);
  MMAUX_CHECK_DATA(v.is_object(), "{}: tensor '{}': expected an object, got {}", origin, name,
                   v.type_name());
  auto dtype = v.find("dtype");
  MMAUX_CHECK_DATA(dtype != v.end() && dtype->is_string(),
                   "{}: tensor '{}': missing string 'dtype'", origin, name);
  e.dtype = dtype->get<std::string>();
  const DtypeInfo* info = find_dtype(e.dtype);
  MMAUX_CHECK_DATA(
      info,
      "{}: tensor '{}': unknown dtype '{}'; supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL",
      origin, name, e.dtype);
  auto shape = v.find("shape");
  MMAUX_CHECK_DATA(shape != v.end() && shape->is_array() && shape->size() <= 16,
                   "{}: tensor '{}': 'shape' must be an array of at most 16 dimensions", origin,
                   name);
  uint64_t elements = 1;
  bool overflow = false, has_zero = false;
  for (const auto& d : *shape) {
    MMAUX_CHECK_DATA(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0),
                     "{}: tensor '{}': shape entry {} is not a non-negative integer", origin, name,
                     d.dump());
    const uint64_t n = d.get<uint64_t>();
    MMAUX_CHECK_DATA(n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                     "{}: tensor '{}': shape entry {} is too large", origin, name, n);
    has_zero = has_zero || n == 0;
    if (n != 0 && elements > std::numeric_limits<uint64_t>::max() / n) overflow = true;
    elements *= n;
    e.shape.push_back(static_cast<int64_t>(n));
  }
  if (has_zero) {  // a zero dimension makes the product empty whatever the others are
    overflow = false;
    elements = 0;
  }
  MMAUX_CHECK_DATA(!overflow && elements <= std::numeric_limits<uint64_t>::max() / info->size,
                   "{}: tensor '{}': shape {} overflows", origin, name, shape->dump());
  auto offsets = v.find("data_offsets");
  MMAUX_CHECK_DATA(offsets != v.end() && offsets->is_array() && offsets->size() == 2 &&
                       (*offsets)[0].is_number_unsigned() && (*offsets)[1].is_number_unsigned(),
                   "{}: tensor '{}': 'data_offsets' must be [begin, end] (non-negative integers)",
                   origin, name);
  e.begin = (*offsets)[0].get<uint64_t>();
  e.end = (*offsets)[1].get<uint64_t>();
  MMAUX_CHECK_DATA(
      e.begin <= e.end && e.end <= data_size,
      "{}: tensor '{}': data_offsets [{}, {}] lie outside the data section of {} bytes", origin,
      name, e.begin, e.end, data_size);
  MMAUX_CHECK_DATA(e.end - e.begin == elements * info->size,
                   "{}: tensor '{}': {} bytes in the file but shape {} of {} needs {}", origin,
                   name, e.end - e.begin, shape->dump(), e.dtype, elements * info->size);
  return e;
}

at::Tensor make_tensor(const SafetensorsEntry& e, const char* bytes, const std::string& origin) {
  const DtypeInfo* info = find_dtype(e.dtype);
  MMAUX_ASSERT(info, "dtype {} was validated", e.dtype);
  const uint64_t n = e.end - e.begin;
  if (e.dtype == "BOOL") {
    for (uint64_t i = 0; i < n; ++i) {
      MMAUX_CHECK_DATA(bytes[i] == 0 || bytes[i] == 1,
                       "{}: tensor '{}': BOOL byte {} at element {} is neither 0 nor 1", origin,
                       e.name, static_cast<int>(static_cast<unsigned char>(bytes[i])), i);
    }
  }
  at::Tensor t;
  try {
    t = at::empty(e.shape, at::TensorOptions().dtype(info->type));
  } catch (const c10::Error& err) {
    MMAUX_THROW(DataError, "{}: tensor '{}': cannot allocate shape {}: {}", origin, e.name,
                shape_string(e.shape), err.what_without_backtrace());
  }
  if (n > 0) std::memcpy(t.data_ptr(), bytes, n);
  return t;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(std::string_view json, uint64_t data_size,
                                           const std::string& origin) {
  MMAUX_CHECK_DATA(host_is_little_endian(),
                   "{}: safetensors data is little-endian; this host is not", origin);
  nlohmann::json j = parse_json_object(std::string(json), origin, 4);
  SafetensorsHeader h;
  h.data_size = data_size;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") {
      MMAUX_CHECK_DATA(it->is_object(), "{}: __metadata__ must be an object of strings", origin);
      for (auto m = it->begin(); m != it->end(); ++m) {
        MMAUX_CHECK_DATA(m->is_string(), "{}: __metadata__ value of '{}' is not a string", origin,
                         m.key());
        h.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    h.entries.push_back(parse_entry(it.key(), *it, data_size, origin));
  }
  std::sort(h.entries.begin(), h.entries.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  const SafetensorsEntry* previous = nullptr;
  for (const auto& e : h.entries) {
    if (e.begin == e.end) continue;  // empty tensors occupy no bytes
    MMAUX_CHECK_DATA(!previous || e.begin >= previous->end,
                     "{}: tensors '{}' [{}, {}) and '{}' [{}, {}) overlap", origin, previous->name,
                     previous->begin, previous->end, e.name, e.begin, e.end);
    previous = &e;
  }
  return h;
}

std::vector<std::pair<std::string, at::Tensor>> parse_safetensors(const char* data, size_t size,
                                                                  const std::string& origin) {
  const uint64_t n =
      checked_header_length(reinterpret_cast<const unsigned char*>(data), size, origin);
  SafetensorsHeader h =
      parse_safetensors_header(std::string_view(data + 8, n), size - 8 - n, origin);
  std::vector<std::pair<std::string, at::Tensor>> out;
  const char* base = data + 8 + n;
  for (const auto& e : h.entries) out.emplace_back(e.name, make_tensor(e, base + e.begin, origin));
  return out;
}

SafetensorsReader::SafetensorsReader(const std::string& path) : path_(path) {
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  MMAUX_CHECK_DATA(!ec, "cannot read safetensors file '{}': {}", path, ec.message());
  std::ifstream in(path, std::ios::binary);
  MMAUX_CHECK_DATA(in, "cannot open safetensors file '{}'", path);
  unsigned char first8[8] = {0};
  if (file_size >= 8) in.read(reinterpret_cast<char*>(first8), 8);
  const uint64_t n = checked_header_length(first8, file_size, path);
  std::string json(n, '\0');
  in.read(json.data(), static_cast<std::streamsize>(n));
  MMAUX_CHECK_DATA(in, "{}: could not read the {}-byte header", path, n);
  header_ = parse_safetensors_header(json, file_size - 8 - n, path);
  header_.data_offset = 8 + n;
}

at::Tensor SafetensorsReader::load(const std::string& name) const {
  auto it = std::find_if(header_.entries.begin(), header_.entries.end(),
                         [&](const SafetensorsEntry& e) { return e.name == name; });
  MMAUX_CHECK_DATA(it != header_.entries.end(), "{}: no tensor named '{}'", path_, name);
  std::ifstream in(path_, std::ios::binary);
  MMAUX_CHECK_DATA(in, "cannot open safetensors file '{}'", path_);
  std::vector<char> bytes(it->end - it->begin);
  in.seekg(static_cast<std::streamoff>(header_.data_offset + it->begin));
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  MMAUX_CHECK_DATA(in,
                   "{}: could not read tensor '{}' ({} bytes); the file changed or is truncated",
                   path_, name, bytes.size());
  return make_tensor(*it, bytes.data(), path_);
}

std::vector<std::pair<std::string, at::Tensor>> SafetensorsReader::load_all() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& e : header_.entries) out.emplace_back(e.name, load(e.name));
  return out;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  nlohmann::json meta = nlohmann::json::object();
  meta["format"] = "pt";
  for (const auto& [k, v] : metadata) meta[k] = v;
  header["__metadata__"] = meta;
  std::vector<at::Tensor> data;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    MMAUX_CHECK(!name.empty() && name != "__metadata__" && names.insert(name).second,
                "write_safetensors '{}': tensor name '{}' is empty, reserved or repeated", path,
                name);
    const DtypeInfo* info = find_dtype(tensor.scalar_type());
    MMAUX_CHECK(info, "write_safetensors '{}': tensor '{}' has unsupported dtype {}", path, name,
                c10::toString(tensor.scalar_type()));
    at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * info->size;
    header[name] = {{"dtype", info->name},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(t);
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
  write_file_atomic(path, [&](std::ostream& out) {
    unsigned char len[8];
    uint64_t n = json.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(json.data(), static_cast<std::streamsize>(json.size()));
    for (const auto& t : data) {
      out.write(static_cast<const char*>(t.data_ptr()),
                static_cast<std::streamsize>(t.numel() * t.element_size()));
    }
  });
}

}  // namespace mmaux::model
