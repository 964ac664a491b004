#include "mmaux/core/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <vector>

#include "mmaux/core/strings.h"

namespace mmaux {
namespace {

constexpr int kProbeRetries = 20;
constexpr useconds_t kProbeRetryUs = 10000;

std::string host_name() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "?";
  return buf;
}

// Reads what the holder wrote (a few hundred bytes); "" when it cannot be read.
std::string read_fd(int fd) {
  std::string text;
  char buf[4096];
  off_t at = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, at);
    if (n <= 0 || text.size() > 65536) break;
    text.append(buf, static_cast<size_t>(n));
    at += n;
  }
  return text;
}

void write_owner(int fd, const std::string& path, const LockOwner& owner) {
  const std::string text = owner.to_text();
  MMAUX_CHECK(::ftruncate(fd, 0) == 0, "cannot write the holder into lock file '{}': {}", path,
              std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::pwrite(fd, text.data() + done, text.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    MMAUX_CHECK(n > 0, "cannot write the holder into lock file '{}': {}", path,
                std::strerror(errno));
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::string LockOwner::describe() const {
  if (pid <= 0 && command.empty()) return "another process";
  std::vector<std::string> parts;
  parts.push_back(fmt::format("pid {} on {}", pid, host.empty() ? "?" : host));
  if (!job.empty()) parts.push_back(fmt::format("Slurm job {}", job));
  if (!started.empty()) parts.push_back(fmt::format("since {}", started));
  return fmt::format("{} ({})", command.empty() ? "a process" : command, fmt::join(parts, ", "));
}

std::string LockOwner::to_text() const {
  return fmt::format("command = {}\nhost = {}\npid = {}\njob = {}\nstarted = {}\n", command, host,
                     pid, job, started);
}

LockOwner LockOwner::from_text(const std::string& text) {
  LockOwner o;
  for (const std::string& line : split(text, '\n')) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (key == "command") o.command = value;
    if (key == "host") o.host = value;
    if (key == "job") o.job = value;
    if (key == "started") o.started = value;
    if (key == "pid") {
      char* end = nullptr;
      long long pid = std::strtoll(value.c_str(), &end, 10);
      if (!value.empty() && *end == '\0' && pid > 0) o.pid = pid;
    }
  }
  return o;
}

LockOwner LockOwner::this_process(const std::string& command, const std::string& job) {
  return LockOwner{command, host_name(), static_cast<int64_t>(::getpid()), job,
                   utc_now("%Y-%m-%dT%H:%M:%SZ")};
}

FileLock FileLock::acquire(const std::string& path, const LockOwner& owner) {
  // 1. Open, never inherited by a child process.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  MMAUX_CHECK(fd >= 0, "cannot open lock file '{}': {}", path, std::strerror(errno));
  FileLock lock(path, fd);  // closes fd on every exit below
  // 2. Never wait for a holder. A few short retries only outlast a holder() probe, which holds
  // a shared lock for microseconds: it must not make a start fail, naming a long-gone holder.
  int rc = 0;
  for (int attempt = 0;; ++attempt) {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
    if (rc == 0 || errno == EINTR) {
      if (rc == 0) break;
      continue;
    }
    if (errno != EWOULDBLOCK || attempt >= kProbeRetries) break;
    ::usleep(kProbeRetryUs);
  }
  if (rc != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      LockOwner holder = LockOwner::from_text(read_fd(fd));
      throw LockedError(fmt::format("'{}' is locked by {}", path, holder.describe()), holder);
    }
    MMAUX_THROW(Error, "cannot lock '{}': flock failed: {} (does this file system support flock?)",
                path, std::strerror(err));
  }
  // 3. Say who holds it.
  write_owner(fd, path, owner);
  return lock;
}

std::optional<LockOwner> FileLock::holder(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  FileLock probe(path, fd);
  // A shared lock is enough to learn whether an exclusive one is held, and needs no write access.
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) return std::nullopt;
  return LockOwner::from_text(read_fd(fd));
}

FileLock::FileLock(FileLock&& other) noexcept : path_(std::move(other.path_)), fd_(other.fd_) {
  other.fd_ = -1;
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() {
  // Closing the last descriptor of the open file description releases the flock.
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace mmaux
