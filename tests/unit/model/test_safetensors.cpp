// The safetensors reader and writer: round trips, hostile files with clear errors, and the
// committed corpus (tests/data/safetensors, the fuzzer's seeds) replayed through both readers.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "mmaux/core/error.h"
#include "mmaux/model/safetensors.h"
#include "mmaux/model/state_dict.h"
#include "support/test_support.h"

namespace mmaux::model {
namespace {

namespace fs = std::filesystem;

std::string file_bytes(const std::string& header, const std::string& data, uint64_t length) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return s + header + data;
}

std::string file_bytes(const std::string& header, const std::string& data) {
  return file_bytes(header, data, header.size());
}

/// The DataError message of parsing `bytes` ("<no error>" when it parses).
std::string parse_error(const std::string& bytes) {
  try {
    parse_safetensors(bytes.data(), bytes.size(), "mem.safetensors");
  } catch (const DataError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(Safetensors, RoundTripEveryDtype) {
  mmaux::testing::TempDir dir;
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f32", at::randn({2, 3})},
      {"f64", at::randn({4}, at::kDouble)},
      {"f16", at::randn({3, 1}).to(at::kHalf)},
      {"bf16", at::randn({5}).to(at::kBFloat16)},
      {"i64", at::arange(6, at::kLong).reshape({2, 3})},
      {"i32", at::arange(3, at::kInt)},
      {"i16", at::arange(3, at::kShort)},
      {"i8", at::arange(-2, 2, at::kChar)},
      {"u8", at::arange(200, 203, at::kByte)},
      {"bool", at::tensor({1, 0, 1}).to(at::kBool)},
      {"empty", at::zeros({0, 7})},
      {"scalar", at::tensor(3.5)},
      {"strided", at::randn({4, 4}).t()}};
  const std::string path = (dir / "x.safetensors").string();
  write_safetensors(path, tensors, {{"note", "hello"}});
  SafetensorsReader reader(path);
  EXPECT_EQ(reader.header().metadata.at("note"), "hello");
  EXPECT_EQ(reader.header().metadata.at("format"), "pt");
  EXPECT_EQ(reader.header().data_offset % 8, 0u);
  for (const auto& [name, t] : tensors) {
    at::Tensor back = reader.load(name);
    EXPECT_EQ(back.scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(at::equal(back, t)) << name;
  }
  std::string bytes = mmaux::testing::read_file(path);
  EXPECT_EQ(parse_safetensors(bytes.data(), bytes.size(), path).size(), tensors.size());
  EXPECT_THROW(reader.load("absent"), DataError);
}

TEST(Safetensors, WriterRejectsBadNames) {
  mmaux::testing::TempDir dir;
  const std::string path = (dir / "x.safetensors").string();
  EXPECT_THROW(write_safetensors(path, {{"a", at::ones({1})}, {"a", at::ones({1})}}), Error);
  EXPECT_THROW(write_safetensors(path, {{"", at::ones({1})}}), Error);
  EXPECT_THROW(write_safetensors(path, {{"__metadata__", at::ones({1})}}), Error);
}

TEST(Safetensors, HostileHeadersGiveClearErrors) {
  const std::string f32(16, '\0');
  auto entry = [](const std::string& body) { return "{\"w\": {" + body + "}}"; };
  struct Case {
    std::string bytes, expected;
  } cases[] = {
      {std::string("\x05\0\0", 3), "too short"},
      {file_bytes("{}", "", 1 << 20), "runs beyond the end of the file"},
      {file_bytes("{}", "", ~0ull), "runs beyond the end of the file"},
      {file_bytes("{\"w\": ", ""), "invalid JSON"},
      {file_bytes("[1]", ""), "expected a JSON object"},
      {file_bytes("{\"w\": " + std::string(200, '[') + std::string(200, ']') + "}", ""),
       "nested deeper"},
      {file_bytes(entry(R"("dtype": "Q4", "shape": [4], "data_offsets": [0, 16])"), f32),
       "unknown dtype 'Q4'"},
      {file_bytes(entry(R"("dtype": "F32", "shape": [4], "data_offsets": [4, 20])"), f32),
       "lie outside the data section of 16 bytes"},
      {file_bytes(entry(R"("dtype": "F32", "shape": [0], "data_offsets": [8, 4])"), f32),
       "lie outside"},
      {file_bytes(entry(R"("dtype": "F32", "shape": [3], "data_offsets": [0, 16])"), f32),
       "16 bytes in the file but shape [3] of F32 needs 12"},
      {file_bytes(entry(R"("dtype": "F32", "shape": [-4], "data_offsets": [0, 16])"), f32),
       "not a non-negative integer"},
      {file_bytes(entry(R"("dtype": "F32", "shape": [4294967296, 4294967296, 4294967296],
                        "data_offsets": [0, 16])"),
                  f32),
       "overflows"},
      {file_bytes(entry(R"("shape": [4], "data_offsets": [0, 16])"), f32),
       "missing string 'dtype'"},
      {file_bytes(entry(R"("dtype": "F32", "shape": [4], "data_offsets": [0])"), f32),
       "'data_offsets' must be [begin, end]"},
      {file_bytes(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},
                      "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
                  f32),
       "overlap"},
      {file_bytes(entry(R"("dtype": "BOOL", "shape": [2], "data_offsets": [0, 2])"),
                  std::string("\x01\x09", 2)),
       "neither 0 nor 1"},
      {file_bytes(R"({"__metadata__": {"k": 1}})", ""), "not a string"},
  };
  for (const auto& c : cases) {
    std::string msg = parse_error(c.bytes);
    EXPECT_NE(msg.find(c.expected), std::string::npos)
        << "expected '" << c.expected << "' in: " << msg;
    EXPECT_NE(msg.find("mem.safetensors"), std::string::npos) << msg;
  }
}

TEST(Safetensors, ReaderChecksTheFileOnDisk) {
  mmaux::testing::TempDir dir;
  mmaux::testing::write_file(dir / "trunc.safetensors", file_bytes("{}", "").substr(0, 5));
  EXPECT_THROW(SafetensorsReader((dir / "trunc.safetensors").string()), DataError);
  EXPECT_THROW(SafetensorsReader((dir / "absent.safetensors").string()), DataError);
  mmaux::testing::write_file(dir / "big.safetensors", file_bytes("{}", "", 5000));
  EXPECT_THROW(SafetensorsReader((dir / "big.safetensors").string()), DataError);
}

TEST(Safetensors, CorpusReplay) {
  const fs::path corpus = mmaux::testing::source_dir() / "tests" / "data" / "safetensors";
  int valid = 0, bad = 0, edge = 0;
  for (const auto& entry : fs::directory_iterator(corpus)) {
    if (entry.path().extension() != ".safetensors") continue;
    const std::string name = entry.path().filename().string();
    const std::string bytes = mmaux::testing::read_file(entry.path());
    std::string memory_error = parse_error(bytes);
    std::string disk_error = "<no error>";
    try {
      SafetensorsReader reader(entry.path().string());
      reader.load_all();
    } catch (const DataError& e) {
      disk_error = e.what();
    }
    // Both readers agree on whether the file is acceptable.
    EXPECT_EQ(memory_error == "<no error>", disk_error == "<no error>") << name;
    if (name.rfind("valid_", 0) == 0) {
      EXPECT_EQ(memory_error, "<no error>") << name;
      ++valid;
    } else if (name.rfind("bad_", 0) == 0) {
      EXPECT_NE(memory_error, "<no error>") << name;
      ++bad;
    } else {
      ++edge;
    }
  }
  EXPECT_GE(valid, 4);
  EXPECT_GE(bad, 20);
  EXPECT_GE(edge, 1);
}

TEST(Safetensors, CorpusValuesAreRead) {
  const fs::path file = mmaux::testing::source_dir() / "tests" / "data" / "safetensors" /
                        "valid_all_dtypes.safetensors";
  SafetensorsReader reader(file.string());
  EXPECT_TRUE(at::equal(reader.load("f16").to(at::kFloat), at::ones({3})));
  EXPECT_TRUE(at::equal(reader.load("bf16").to(at::kFloat), at::ones({3})));
  EXPECT_TRUE(at::equal(reader.load("f64"), at::ones({3}, at::kDouble)));
  EXPECT_TRUE(at::equal(reader.load("i8"), at::full({3}, -5, at::kChar)));
  EXPECT_TRUE(at::equal(reader.load("u8"), at::full({3}, 251, at::kByte)));
  EXPECT_TRUE(at::equal(reader.load("bool"), at::ones({3}, at::kBool)));
}

TEST(Checkpoint, SaveStateLoadStateRoundTrip) {
  mmaux::testing::TempDir dir;
  torch::nn::Linear a(3, 4), b(3, 4);
  save_state(*a, (dir / "s.safetensors").string());
  LoadReport r = load_state(*b, (dir / "s.safetensors").string());
  EXPECT_EQ(r.loaded.size(), 2u);
  EXPECT_TRUE(at::equal(a->weight, b->weight));
  torch::nn::Linear c(3, 5);
  EXPECT_THROW(load_state(*c, (dir / "s.safetensors").string()), DataError);
  EXPECT_EQ(load_state(*c, (dir / "s.safetensors").string(), false).mismatched.size(), 2u);
}

TEST(Checkpoint, HfKeyNormalisation) {
  TensorMap in = {{"bert.embeddings.LayerNorm.gamma", at::ones({1})},
                  {"bert.encoder.layer.0.output.LayerNorm.beta", at::ones({1})},
                  {"pooler.dense.weight", at::ones({1})}};
  TensorMap out = normalize_hf_keys(in, {"bert.", "roberta."}, "x");
  EXPECT_TRUE(out.count("embeddings.LayerNorm.weight"));
  EXPECT_TRUE(out.count("encoder.layer.0.output.LayerNorm.bias"));
  EXPECT_TRUE(out.count("pooler.dense.weight"));
  TensorMap clash = {{"bert.a.weight", at::ones({1})}, {"a.weight", at::ones({1})}};
  EXPECT_THROW(normalize_hf_keys(clash, {"bert."}, "x"), DataError);
}

}  // namespace
}  // namespace mmaux::model
