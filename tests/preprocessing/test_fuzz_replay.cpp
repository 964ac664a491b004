// The committed corpora of the raw-format fuzzers (tests/data/fuzz/<target>: hand-written seeds
// plus the inputs bench/data/run_fuzz.sh --merge found to add coverage) replayed through the same
// entry points as the fuzzers (preprocessing/fuzz_entries.h): no crash, no exception other than
// DataError or ConfigError, no broken invariant.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "fuzz_entries.h"
#include "mmaux/core/log.h"
#include "support/test_support.h"

namespace mmaux::preprocessing {
namespace fs = std::filesystem;

namespace {

// Replays every file of one corpus; returns how many there were.
size_t replay(const std::string& target, const std::function<void(std::string_view)>& entry) {
  LogConfig quiet = logging_config();
  quiet.level = LogLevel::kError;
  configure_logging(quiet);
  size_t files = 0;
  for (const auto& e :
       fs::directory_iterator(mmaux::testing::source_dir() / "tests/data/fuzz" / target)) {
    const std::string input = mmaux::testing::read_file(e.path());
    SCOPED_TRACE(e.path().string());
    EXPECT_NO_THROW(entry(input));
    ++files;
  }
  fmt::print("{}: {} corpus files replayed\n", target, files);
  return files;
}

}  // namespace

TEST(FuzzReplay, CsvPosts) { EXPECT_GE(replay("csv_posts", fuzz::csv_posts), 3u); }
TEST(FuzzReplay, MsdLines) { EXPECT_GE(replay("msd_lines", fuzz::msd_lines), 4u); }
TEST(FuzzReplay, MvsaLabels) { EXPECT_GE(replay("mvsa_labels", fuzz::mvsa_labels), 1u); }

}  // namespace mmaux::preprocessing
