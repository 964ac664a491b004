#include "mmaux/core/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mmaux/core/error.h"

namespace fs = std::filesystem;

namespace mmaux {
namespace {

fs::path parent_of(const fs::path& path) {
  return path.has_parent_path() ? path.parent_path() : fs::path(".");
}

// Step 1: a name no other writer (thread or process) uses, created exclusively so that an
// existing file is never truncated; mode 0666 less the umask, as std::ofstream would create it.
std::string create_temporary(const fs::path& target) {
  static std::atomic<unsigned long> counter{0};
  const fs::path dir = parent_of(target);
  for (int attempt = 0;; ++attempt) {
    const std::string tmp =
        (dir / fmt::format(".{}.tmp-{}-{}", target.filename().string(), ::getpid(), counter++))
            .string();
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      ::close(fd);
      return tmp;
    }
    MMAUX_CHECK(errno == EEXIST && attempt < 100, "cannot write '{}': creating '{}' failed: {}",
                target.string(), tmp, std::strerror(errno));
  }
}

// Steps 2 to 5 for a temporary file that exists; the caller removes it on failure.
void write_and_publish(const std::string& tmp, const fs::path& target,
                       const std::function<void(std::ostream&)>& write) {
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    MMAUX_CHECK(out.good(), "cannot write '{}': opening '{}' failed: {}", target.string(), tmp,
                std::strerror(errno));
    write(out);
    out.flush();
    MMAUX_CHECK(out.good(), "cannot write '{}': writing '{}' failed (disk full?): {}",
                target.string(), tmp, std::strerror(errno));
    out.close();
    MMAUX_CHECK(!out.fail(), "cannot write '{}': closing '{}' failed: {}", target.string(), tmp,
                std::strerror(errno));
  }
  fsync_path(tmp);
  std::error_code ec;
  fs::rename(tmp, target, ec);
  MMAUX_CHECK(!ec, "cannot write '{}': renaming '{}' over it failed: {}", target.string(), tmp,
              ec.message());
  fsync_path(parent_of(target).string());
}

}  // namespace

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  MMAUX_CHECK(fd >= 0, "cannot open '{}' to sync it: {}", path, std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  MMAUX_CHECK(rc == 0, "fsync of '{}' failed: {}", path, std::strerror(err));
}

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const fs::path target(path);
  std::error_code ec;
  fs::create_directories(parent_of(target), ec);
  MMAUX_CHECK(!ec, "cannot write '{}': creating its directory failed: {}", path, ec.message());
  const std::string tmp = create_temporary(target);
  try {
    write_and_publish(tmp, target, write);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
}

void write_file_atomic(const std::string& path, std::string_view content) {
  write_file_atomic(path, [content](std::ostream& out) {
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  });
}

void replace_directory(const std::string& staged, const std::string& target) {
  const fs::path to(target);
  const fs::path parent = parent_of(to);
  MMAUX_ASSERT(
      fs::path(staged).lexically_normal().parent_path() == to.lexically_normal().parent_path(),
      "replace_directory: '{}' and '{}' must share a parent directory", staged, target);
  fsync_path(staged);
  const fs::path old = parent / (".old-" + to.filename().string());
  std::error_code ec;
  fs::remove_all(old, ec);
  MMAUX_CHECK(!ec, "cannot replace '{}': removing the leftover '{}' failed: {}", target,
              old.string(), ec.message());
  if (fs::exists(to)) {
    fs::rename(to, old, ec);
    MMAUX_CHECK(!ec, "cannot replace '{}': moving it aside to '{}' failed: {}", target,
                old.string(), ec.message());
  }
  fs::rename(staged, to, ec);
  MMAUX_CHECK(!ec, "cannot replace '{}' with '{}': {} (the previous version is in '{}')", target,
              staged, ec.message(), old.string());
  fsync_path(parent.string());
  fs::remove_all(old, ec);
  MMAUX_CHECK(!ec, "replaced '{}', but removing the previous version '{}' failed: {}", target,
              old.string(), ec.message());
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MMAUX_CHECK_DATA(in.good(), "cannot read '{}': no such file or not readable", path);
  std::stringstream ss;
  ss << in.rdbuf();
  MMAUX_CHECK_DATA(!in.bad(), "read error on '{}'", path);
  return ss.str();
}

}  // namespace mmaux
