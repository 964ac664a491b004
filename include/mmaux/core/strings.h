#pragma once
/// Small string helpers shared by the CLI, the data readers and the launch tools.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mmaux {

/// Levenshtein edit distance.
size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` by edit distance, or "" when none is close enough
/// (distance > max(2, |word| / 3)).
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

/// Splits on `sep`, keeping empty fields.
std::vector<std::string> split(std::string_view text, char sep);

/// Removes ASCII whitespace at both ends.
std::string trim(std::string_view text);

/// A count with three significant digits and a decimal prefix: 532, "12.3 k", "4.89 M", "1.10 G".
std::string count_text(int64_t n);

/// The current time in UTC through strftime's `format` (e.g. "%Y-%m-%dT%H:%M:%SZ").
std::string utc_now(const char* format);

}  // namespace mmaux
