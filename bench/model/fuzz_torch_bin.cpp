// libFuzzer target for the torch.save (.bin) reader: zip directory, restricted unpickler, tensor
// views (clang only: -DMMAUX_BUILD_FUZZ=ON with clang++). CRC checks are off so that mutated
// inputs reach the parsers. A DataError is the expected answer to a bad file; anything else (a
// crash, a sanitizer report, another exception) is a finding. Seeds: tests/data/torch_bin.
#include <cstddef>
#include <cstdint>

#include "mmaux/core/error.h"
#include "mmaux/model/torch_bin.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto tensors = mmaux::model::parse_torch_bin(reinterpret_cast<const char*>(data), size,
                                                 "fuzz input", false);
    double sum = 0;
    for (const auto& entry : tensors) {
      // Touch every element of every view: a view outside its storage would be reported by ASan.
      if (entry.second.numel() > 0 && entry.second.is_floating_point()) {
        sum += entry.second.to(at::kDouble).sum().item<double>();
      }
    }
    (void)sum;
  } catch (const mmaux::DataError&) {
  }
  return 0;
}
