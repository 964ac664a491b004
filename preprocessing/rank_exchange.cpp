#include "rank_exchange.h"

#include <ATen/ATen.h>

#include <cstring>

#include "mmaux/core/error.h"

namespace mmaux::preprocessing {
namespace {

class CommunicatorRanks : public data::PreprocessRanks {
 public:
  explicit CommunicatorRanks(std::shared_ptr<dist::Communicator> comm) : comm_(std::move(comm)) {}
  int rank() const override { return comm_->rank(); }
  int size() const override { return comm_->world_size(); }

  std::vector<std::string> all_gather(const std::string& bytes) override {
    const int64_t words = int64_t((bytes.size() + 7) / 8);
    at::Tensor mine = at::zeros({1 + words}, at::kLong);
    int64_t* p = mine.data_ptr<int64_t>();
    p[0] = int64_t(bytes.size());
    std::memcpy(p + 1, bytes.data(), bytes.size());
    at::Tensor all = comm_->all_gather_varsize(mine);
    const int64_t* q = all.data_ptr<int64_t>();
    const int64_t total = all.numel();
    std::vector<std::string> out;
    for (int64_t at = 0; at < total;) {
      const int64_t n = q[at];
      MMAUX_ASSERT(n >= 0 && at + 1 + (n + 7) / 8 <= total, "rank message of {} bytes at word {}",
                   n, at);
      out.emplace_back(reinterpret_cast<const char*>(q + at + 1), size_t(n));
      at += 1 + (n + 7) / 8;
    }
    MMAUX_ASSERT(int(out.size()) == size(), "{} rank messages for {} ranks", out.size(), size());
    return out;
  }

 private:
  std::shared_ptr<dist::Communicator> comm_;
};

}  // namespace

std::unique_ptr<data::PreprocessRanks> make_preprocess_ranks(
    std::shared_ptr<dist::Communicator> comm) {
  return std::make_unique<CommunicatorRanks>(std::move(comm));
}

}  // namespace mmaux::preprocessing
