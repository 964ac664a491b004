// The torch.save (.bin) reader: real files written by PyTorch load with their values; hostile
// and broken files (tests/data/torch_bin, written by make_corpus.py: the fuzzer's seeds) are
// DataErrors naming the file; every prefix and every one-byte change of a small file is handled.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <string>

#include "mmaux/core/error.h"
#include "mmaux/model/torch_bin.h"
#include "support/test_support.h"

namespace mmaux::model {
namespace {

namespace fs = std::filesystem;

fs::path corpus() { return mmaux::testing::source_dir() / "tests" / "data" / "torch_bin"; }

std::map<std::string, at::Tensor> load(const std::string& name) {
  std::map<std::string, at::Tensor> out;
  for (auto& [k, t] : read_torch_bin((corpus() / name).string())) out.emplace(k, t);
  return out;
}

/// The DataError message of parsing `bytes` ("<no error>" when it parses).
std::string parse_error(const std::string& bytes, const std::string& origin, bool crc = true) {
  try {
    parse_torch_bin(bytes.data(), bytes.size(), origin, crc);
  } catch (const DataError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(TorchBin, EveryDtypeKeepsItsValues) {
  for (const char* file : {"valid_dtypes.bin", "valid_protocol4.bin"}) {
    auto t = load(file);
    ASSERT_EQ(t.size(), 10u) << file;
    EXPECT_TRUE(at::equal(t["f32"], at::arange(6, at::kFloat).reshape({2, 3}) / 4)) << file;
    EXPECT_TRUE(at::equal(t["f64"], at::arange(3, at::kDouble) - 1.5));
    EXPECT_TRUE(at::equal(t["f16"], at::tensor({1.0, -2.0, 0.5}).to(at::kHalf)));
    EXPECT_TRUE(at::equal(t["bf16"], at::tensor({1.0, -2.0, 0.5}).to(at::kBFloat16)));
    EXPECT_TRUE(at::equal(t["i64"], at::tensor(std::vector<int64_t>{-5, 0, int64_t{1} << 40})));
    EXPECT_TRUE(at::equal(t["i32"], at::tensor({-5, 0, 7}, at::kInt)));
    EXPECT_TRUE(at::equal(t["i16"], at::tensor({-5, 0, 7}).to(at::kShort)));
    EXPECT_TRUE(at::equal(t["i8"], at::tensor({-5, 0, 7}).to(at::kChar)));
    EXPECT_TRUE(at::equal(t["u8"], at::tensor({251, 0, 7}).to(at::kByte)));
    EXPECT_TRUE(at::equal(t["bool"], at::tensor({1, 0, 1}).to(at::kBool)));
  }
}

TEST(TorchBin, ViewsSharedStoragesAndModuleStateDicts) {
  auto v = load("valid_views.bin");
  at::Tensor base = at::arange(12, at::kFloat);
  EXPECT_TRUE(at::equal(v["tied_a"], base.reshape({3, 4})));
  EXPECT_EQ(v["tied_a"].data_ptr(), v["tied_b"].data_ptr());  // one storage, read once
  EXPECT_TRUE(at::equal(v["transposed"], base.reshape({3, 4}).t()));
  EXPECT_TRUE(at::equal(v["slice"], base.narrow(0, 5, 4)));
  EXPECT_EQ(v["scalar"].dim(), 0);
  EXPECT_EQ(v["scalar"].item<float>(), 2.5f);
  EXPECT_EQ(v["empty"].sizes(), (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(at::equal(v["position_ids"], at::arange(7).unsqueeze(0)));
  auto m = load("valid_module_state_dict.bin");  // OrderedDict with _metadata
  EXPECT_EQ(m.size(), 4u);
  EXPECT_EQ(m["0.weight"].sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(at::equal(m["1.weight"], at::ones({2})));
  EXPECT_TRUE(at::equal(load("valid_parameter.bin")["p"], at::ones({2, 2})));
  EXPECT_TRUE(at::equal(load("valid_handwritten.bin")["w"], at::tensor({1.f, 2.f, 3.f, 4.f})));
  // The same archive with zip64 end records and zip64 sizes and offsets in every entry.
  EXPECT_TRUE(at::equal(load("valid_zip64.bin")["w"], at::tensor({1.f, 2.f, 3.f, 4.f})));
}

TEST(TorchBin, HostileFilesGiveClearErrors) {
  const std::map<std::string, std::string> expected = {
      {"bad_global_os_system.bin", "Python global 'posix.system'"},
      {"bad_global_builtins_eval.bin", "Python global 'builtins.eval'"},
      {"bad_torchscript.bin", "a TorchScript archive"},
      {"bad_reduce_storage_type.bin", "may only appear in a persistent id"},
      {"bad_nested_state_dict.bin", "entry 'model' is a dict, not a tensor"},
      {"bad_top_level_list.bin", "must be a dict, got a list"},
      {"bad_view_out_of_range.bin", "lies outside its storage"},
      {"bad_view_huge_stride.bin", "lies outside its storage"},
      {"bad_negative_size.bin", "lies outside its storage"},
      {"bad_negative_offset.bin", "lies outside its storage"},
      {"bad_self_overlapping_view.bin", "lies outside its storage"},
      {"bad_storage_size_mismatch.bin", "holds 16 bytes but the pickle declares 100 elements"},
      {"bad_storage_huge_numel.bin", "holds 16 bytes but the pickle declares"},
      {"bad_missing_storage.bin", "storage '7', which has no member"},
      {"bad_bool_value.bin", "holds the byte 2"},
      {"bad_unknown_opcode.bin", "opcode 0x49 ('I')"},
      {"bad_missing_memo.bin", "memo key 5 was never stored"},
      {"bad_stack_underflow.bin", "stack underflow"},
      {"bad_pickle_truncated.bin", "the pickle ends"},
      {"bad_deep_nesting.bin", "must be a dict, got a list"},
      {"bad_no_data_pkl.bin", "without <dir>/data.pkl"},
      {"bad_compressed.bin", "is compressed"},
      {"bad_directory_outside.bin", "lies outside the file"},
      {"bad_crc.bin", "fails its CRC-32 check"},
      {"bad_truncated.bin", "not a zip archive, or truncated"},
      {"bad_legacy_format.bin", "legacy pre-1.6 pickle format"},
      {"bad_not_zip.bin", "not a zip-format torch.save file"},
  };
  for (const auto& [file, text] : expected) {
    const std::string path = (corpus() / file).string();
    std::string msg = "<no error>";
    try {
      read_torch_bin(path);
    } catch (const DataError& e) {
      msg = e.what();
    }
    EXPECT_NE(msg.find(text), std::string::npos) << file << ": " << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << file << ": " << msg;
  }
  std::string msg = parse_error(mmaux::testing::read_file(corpus() / "bad_legacy_format.bin"), "x");
  EXPECT_NE(msg.find("weights_only=True"), std::string::npos) << msg;  // the conversion command
}

// torch.save(tensor, f) (the paper's region feature files, tests/data/regions): read_torch_tensor
// reads it; a state-dict reader refuses it, and read_torch_tensor refuses a state dict.
TEST(TorchBin, SingleTensorFilesOnlyThroughReadTorchTensor) {
  const fs::path regions = mmaux::testing::source_dir() / "tests/data/regions/torch_dir";
  at::Tensor t = read_torch_tensor((regions / "features/feat_ok_full").string());
  ASSERT_EQ(t.sizes(), (at::IntArrayRef{1, 36, 8}));
  EXPECT_EQ(t.dtype(), at::kFloat);
  EXPECT_FLOAT_EQ(t[0][2][3].item<float>(), 0.19f);
  const std::string bare = (regions / "features/feat_ok_full").string();
  auto msg = mmaux::testing::message_of<DataError>([&] { read_torch_bin(bare); });
  EXPECT_NE(msg.find("holds a single tensor (torch.save(tensor, ...)), not a state dict"),
            std::string::npos)
      << msg;
  msg = mmaux::testing::message_of<DataError>(
      [&] { read_torch_tensor((corpus() / "valid_dtypes.bin").string()); });
  EXPECT_NE(msg.find("holds a dict of 10 tensors, expected one tensor"), std::string::npos) << msg;
}

TEST(TorchBin, CorpusReplayBothReadersAgree) {
  int valid = 0, bad = 0;
  for (const auto& entry : fs::directory_iterator(corpus())) {
    if (entry.path().extension() != ".bin") continue;
    const std::string name = entry.path().filename().string();
    const std::string bytes = mmaux::testing::read_file(entry.path());
    const std::string memory = parse_error(bytes, name);
    std::string disk = "<no error>";
    try {
      read_torch_bin(entry.path().string());
    } catch (const DataError& e) {
      disk = e.what();
    }
    EXPECT_EQ(memory == "<no error>", disk == "<no error>") << name;
    const bool ok = name.rfind("valid_", 0) == 0;
    EXPECT_EQ(memory == "<no error>", ok) << name << ": " << memory;
    (ok ? valid : bad) += 1;
    parse_error(bytes, name, false);  // without CRC checks too (what the fuzzer runs)
  }
  EXPECT_GE(valid, 6);
  EXPECT_GE(bad, 25);
}

TEST(TorchBin, EveryPrefixAndEveryByteFlipIsHandled) {
  const std::string bytes = mmaux::testing::read_file(corpus() / "valid_handwritten.bin");
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_NE(parse_error(bytes.substr(0, n), "prefix"), "<no error>") << n;
  }
  int rejected = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char flip : {0x01, 0x80, 0xFF}) {
      std::string changed = bytes;
      changed[i] = static_cast<char>(changed[i] ^ flip);
      rejected += parse_error(changed, "flip", false) != "<no error>";  // only DataErrors escape
      parse_error(changed, "flip", true);
    }
  }
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace mmaux::model
