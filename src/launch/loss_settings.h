#pragma once
// Private: the four loss settings, in the order tables list them, and their table labels.
#include <string>
#include <vector>

namespace mmaux::launch::detail {

inline const std::vector<std::string>& loss_settings() {
  static const std::vector<std::string> order = {"ce", "itc", "itm", "itc+itm"};
  return order;
}

inline std::string loss_label(const std::string& s) {
  if (s == "ce") return "CE";
  if (s == "itc") return "+ITC";
  if (s == "itm") return "+ITM";
  if (s == "itc+itm") return "+ITC+ITM";
  return s;
}

}  // namespace mmaux::launch::detail
