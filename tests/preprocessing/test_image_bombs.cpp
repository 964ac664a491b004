// Decompression bombs: header-only PNG, JPEG, GIF and WebP files of under 200 bytes that declare
// far more pixels than PIL's limit (tests/data/image_bombs, made by make_bombs.py). Before issue
// 13 one such PNG took 21 GB and 40 s. They must be refused from their headers, fast, with the
// reason in the skip report, while the process stays small: this binary runs nothing else, so
// its peak resident memory (printed) is the pipeline's on this data set.
//
// Safety: the process's address space is capped at 4 GiB first, so that a regression fails with
// an allocation error instead of taking the machine down.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <filesystem>

#include "mmaux/core/csv.h"
#include "mmaux/core/files.h"
#include "mmaux/data/image.h"
#include "mmaux/data/preprocess.h"
#include "preprocessing/fixture_util.h"
#include "readers.h"
#include "support/test_support.h"

namespace mmaux::preprocessing {
using mmaux::testing::TempDir;
using mmaux::testing::write_file;
using mmaux::testing::write_image;
namespace fs = std::filesystem;

namespace {

const char* kBombs[] = {"png_60000x60000.png", "jpeg_60000x60000.jpg", "gif_65535x65535.gif",
                        "webp_16383x16383.webp", "png_9460x9460.png"};

fs::path bomb_dir() { return mmaux::testing::source_dir() / "tests/data/image_bombs"; }

int64_t peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return int64_t(ru.ru_maxrss) * 1024;
}

class AddressSpaceCap : public ::testing::Environment {
 public:
  void SetUp() override {
    rlimit cap{rlim_t(4) << 30, rlim_t(4) << 30};
    ASSERT_EQ(setrlimit(RLIMIT_AS, &cap), 0);
  }
};
const auto* const kCap = ::testing::AddGlobalTestEnvironment(new AddressSpaceCap);

std::string refusal(const fs::path& path, const data::ImageLimits& limits = {}) {
  try {
    data::load_image(path.string(), data::ImagePreset::parse("fixed:224"), limits);
  } catch (const data::ImageError& e) {
    return e.reason() + ": " + e.what();
  }
  return "decoded";
}

}  // namespace

TEST(ImageBombs, SkippedByThePipelineInBoundedMemory) {
  TempDir tmp("mmaux-bombs");
  const auto raw = tmp / "raw", model = tmp / "model";
  mmaux::testing::write_tiny_model(model);
  std::string csv = "post_id,text,label,image\n";
  for (int i = 0; i < 20; ++i) {
    write_image(raw / fmt::format("images/ok{}.jpg", i), 10 * i);
    csv += fmt::format("ok{},a fine post,{},images/ok{}.jpg\n", i, i % 2 ? "a" : "b", i);
  }
  for (const char* name : kBombs) {
    fs::create_directories(raw / "bombs");
    fs::copy_file(bomb_dir() / name, raw / "bombs" / name);
    csv += fmt::format("{},a hostile post,a,bombs/{}\n", name, name);
  }
  write_file(raw / "posts.csv", csv);
  auto o = mmaux::testing::preprocess_options("csv", raw, tmp / "out", model);
  const int64_t before = peak_rss_bytes();
  const auto t0 = std::chrono::steady_clock::now();
  auto report = data::run_preprocess(o, read_raw_dataset(o));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(report.written, 20);
  EXPECT_EQ(report.skipped_by_reason, (std::map<std::string, int64_t>{{"image too large", 5}}));
  auto skipped = parse_csv(read_whole_file((tmp / "out/skipped.csv").string()));
  ASSERT_EQ(skipped.size(), 6u);
  EXPECT_NE(skipped[1].fields[3].find("declares 60000x60000"), std::string::npos)
      << skipped[1].fields[3];
  const int64_t peak = peak_rss_bytes();
  fmt::print(
      "25 posts (5 bombs) preprocessed in {:.2f} s; peak resident memory of this test "
      "process: {:.1f} MB ({:.1f} MB before preprocessing: the loaded libraries)\n",
      s, double(peak) / (1 << 20), double(before) / (1 << 20));
  EXPECT_LT(peak, int64_t(1) << 30);
}

TEST(ImageBombs, RefusedFromTheirHeaders) {
  for (const char* name : kBombs) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string why = refusal(bomb_dir() / name);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("{:<24} {:>4} bytes  refused in {:.2f} ms: {}\n", name,
               fs::file_size(bomb_dir() / name), ms, why);
    EXPECT_EQ(why.rfind("image too large: ", 0), 0u) << name << ": " << why;
    EXPECT_NE(why.find("more than --max-image-pixels 89478485"), std::string::npos) << why;
  }
  EXPECT_NE(refusal(bomb_dir() / "png_60000x60000.png").find("declares 60000x60000 = 3600000000"),
            std::string::npos);
  // Just under the limit, the 9460 x 9460 PNG is decoded (and found truncated, in a few bands).
  data::ImageLimits higher;
  higher.max_pixels = 9460 * 9460;
  EXPECT_EQ(refusal(bomb_dir() / "png_9460x9460.png", higher).rfind("undecodable image", 0), 0u);
  // The file size limit comes first.
  data::ImageLimits tiny;
  tiny.max_bytes = 60;
  EXPECT_NE(refusal(bomb_dir() / "png_60000x60000.png", tiny)
                .find("is 69 bytes, more than "
                      "--max-image-bytes 60"),
            std::string::npos);
}

}  // namespace mmaux::preprocessing
