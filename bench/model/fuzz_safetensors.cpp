// libFuzzer target for the safetensors parser (clang only: -DMMAUX_BUILD_FUZZ=ON with clang++).
// A DataError is the expected answer to a bad file; anything else (a crash, a sanitizer report,
// another exception) is a finding. Seeds: tests/data/safetensors.
#include <cstddef>
#include <cstdint>

#include "mmaux/core/error.h"
#include "mmaux/model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto tensors =
        mmaux::model::parse_safetensors(reinterpret_cast<const char*>(data), size, "fuzz input");
    int64_t elements = 0;
    for (const auto& entry : tensors) elements += entry.second.numel();
    (void)elements;
  } catch (const mmaux::DataError&) {
  }
  return 0;
}
