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

bool is_atomic_write_temporary(std::string_view name) {
  // .<name>.tmp-<pid>-<n>: read from the end, so that <name> may contain anything.
  auto digits_before = [&name](size_t end) {
    size_t i = end;
    while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9') --i;
    return i < end ? i : std::string_view::npos;
  };
  size_t n_at = digits_before(name.size());
  if (n_at == std::string_view::npos || n_at == 0 || name[n_at - 1] != '-') return false;
  size_t pid_at = digits_before(n_at - 1);
  constexpr std::string_view kTmp = ".tmp-";
  return pid_at != std::string_view::npos && pid_at >= kTmp.size() + 2 && name[0] == '.' &&
         name.substr(pid_at - kTmp.size(), kTmp.size()) == kTmp;
}

std::vector<std::string> recover_interrupted_writes(const std::string& dir) {
  std::vector<std::string> done;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return done;
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(dir)) entries.push_back(e.path());
  for (const fs::path& p : entries) {
    const std::string name = p.filename().string();
    if (is_atomic_write_temporary(name)) {
      fs::remove(p, ec);
      MMAUX_CHECK(!ec, "cannot remove the leftover temporary file '{}': {}", p.string(),
                  ec.message());
      done.push_back(fmt::format("removed the temporary file '{}'", p.string()));
    } else if (name.rfind(".old-", 0) == 0 && name.size() > 5) {
      const fs::path target = p.parent_path() / name.substr(5);
      if (fs::exists(target, ec)) {
        fs::remove_all(p, ec);
        MMAUX_CHECK(!ec, "cannot remove the leftover '{}': {}", p.string(), ec.message());
        done.push_back(fmt::format("removed the replaced version '{}'", p.string()));
      } else {
        fs::rename(p, target, ec);
        MMAUX_CHECK(!ec, "cannot move '{}' back to '{}': {}", p.string(), target.string(),
                    ec.message());
        done.push_back(fmt::format("moved '{}' back to '{}' (its replacement never arrived)",
                                   p.string(), target.string()));
      }
    }
  }
  if (!done.empty()) fsync_path(dir);
  return done;
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
