#pragma once
// Reads NumPy .npy files (format 1.0 - 3.0, C order, little-endian float32/float64/int64/int32/
// bool) into tensors: the inputs and outputs of the Hugging Face reference set.

#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace mmaux::model::testing {

inline at::Tensor read_npy(const std::filesystem::path& path) {
  const std::string bytes = mmaux::testing::read_file(path);
  auto fail = [&](const std::string& why) {
    return std::runtime_error(path.string() + ": " + why);
  };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw fail("not a .npy file");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    start = 10;
  } else {
    for (int i = 3; i >= 0; --i)
      header_len = header_len << 8 | static_cast<unsigned char>(bytes[8 + i]);
    start = 12;
  }
  if (start + header_len > bytes.size()) throw fail("truncated header");
  const std::string header = bytes.substr(start, header_len);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr': '([<|])([a-z])([0-9]+)'"))) {
    throw fail("no descr in " + header);
  }
  const std::string type = m[2].str() + m[3].str();
  at::ScalarType dtype;
  if (type == "f4") {
    dtype = at::kFloat;
  } else if (type == "f8") {
    dtype = at::kDouble;
  } else if (type == "i8") {
    dtype = at::kLong;
  } else if (type == "i4") {
    dtype = at::kInt;
  } else if (type == "b1") {
    dtype = at::kBool;
  } else {
    throw fail("unsupported dtype " + type);
  }
  if (header.find("'fortran_order': False") == std::string::npos) throw fail("not C order");
  if (!std::regex_search(header, m, std::regex("'shape': \\(([0-9, ]*)\\)"))) {
    throw fail("no shape in " + header);
  }
  std::vector<int64_t> shape;
  const std::string dims = m[1].str();
  const std::regex number("[0-9]+");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    shape.push_back(std::stoll(it->str()));
  }
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  const size_t nbytes = static_cast<size_t>(t.nbytes());
  if (start + header_len + nbytes != bytes.size()) throw fail("data size does not match the shape");
  std::memcpy(t.data_ptr(), bytes.data() + start + header_len, nbytes);
  return t;
}

}  // namespace mmaux::model::testing
