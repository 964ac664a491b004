#include "mmaux/model/dropout_rows.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "mmaux/core/error.h"

namespace mmaux::model {
namespace {

thread_local const DropoutRows* innermost = nullptr;

}  // namespace

DropoutRows::DropoutRows(std::vector<int64_t> rows) : rows_(std::move(rows)), outer_(innermost) {
  for (int64_t r : rows_) MMAUX_CHECK(r >= 0, "DropoutRows: row {} is negative", r);
  innermost = this;
}

DropoutRows::~DropoutRows() { innermost = outer_; }

const std::vector<int64_t>* DropoutRows::current() {
  return innermost != nullptr ? &innermost->rows_ : nullptr;
}

std::vector<int64_t> DropoutRows::range(int64_t first, int64_t count) {
  std::vector<int64_t> rows(static_cast<size_t>(std::max<int64_t>(count, 0)));
  std::iota(rows.begin(), rows.end(), first);
  return rows;
}

}  // namespace mmaux::model
