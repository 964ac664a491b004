#pragma once
// Helpers shared by the tests: temporary directories and file fixtures.
#include <exception>
#include <filesystem>
#include <functional>
#include <string>

namespace mmaux::testing {

/// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "mmaux-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Writes `content` to `path` (creating parent directories).
void write_file(const std::filesystem::path& path, const std::string& content);
/// Reads a whole file.
std::string read_file(const std::filesystem::path& path);
/// The mmaux source tree (MMAUX_SOURCE_DIR, set by ctest).
std::filesystem::path source_dir();
/// The build tree (MMAUX_BINARY_DIR, set by ctest).
std::filesystem::path binary_dir();
/// The message of the `E` (any std::exception by default) that `f` throws, or "<no exception>"
/// when it throws none.
template <typename E = std::exception>
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "<no exception>";
}

}  // namespace mmaux::testing
