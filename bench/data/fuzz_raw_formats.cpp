// libFuzzer targets for the raw-format parsers (clang only: -DMMAUX_BUILD_FUZZ=ON with clang++),
// one binary per parser, chosen by MMAUX_FUZZ_ENTRY (csv_posts, msd_lines, mvsa_labels; see
// preprocessing/fuzz_entries.h). Seeds and corpus: tests/data/fuzz/<entry>/. Build and run:
// bench/data/run_fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_entries.h"
#include "mmaux/core/log.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mmaux::LogConfig quiet;
  quiet.level = mmaux::LogLevel::kError;  // the csv reader's class listing, once per input
  mmaux::configure_logging(quiet);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mmaux::preprocessing::fuzz::MMAUX_FUZZ_ENTRY(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
