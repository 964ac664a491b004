// The exclusive lock of a file (flock): held until released or the holder dies, its holder named
// to whoever is refused. The second holder is a real process (fork), killed with SIGKILL to show
// that the kernel, not a clean-up step, releases the lock.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "mmaux/core/file_lock.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace mmaux {
namespace {

LockOwner owner(const std::string& command) {
  LockOwner o = LockOwner::this_process(command, "1234_5");
  return o;
}

TEST(FileLock, RecordsItsHolderAndRefusesASecondOne) {
  testing::TempDir dir;
  const std::string path = (dir / "run.lock").string();
  EXPECT_FALSE(FileLock::holder(path));
  EXPECT_FALSE(fs::exists(path)) << "holder() must create nothing";
  {
    FileLock lock = FileLock::acquire(path, owner("mmaux train"));
    std::optional<LockOwner> h = FileLock::holder(path);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->command, "mmaux train");
    EXPECT_EQ(h->pid, ::getpid());
    EXPECT_EQ(h->job, "1234_5");
    EXPECT_FALSE(h->host.empty());
    EXPECT_EQ(h->started.size(), 20u) << h->started;  // 2024-05-01T12:00:00Z
    // A second lock conflicts even in the same process (one lock per open file description).
    try {
      FileLock::acquire(path, owner("mmaux eval"));
      FAIL() << "a second holder was accepted";
    } catch (const LockedError& e) {
      EXPECT_EQ(e.holder().command, "mmaux train");
      EXPECT_NE(std::string(e.what()).find(fmt::format("mmaux train (pid {} on", ::getpid())),
                std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("Slurm job 1234_5"), std::string::npos) << e.what();
    }
  }
  // Released with the object; the file stays (it names the last holder).
  EXPECT_FALSE(FileLock::holder(path));
  EXPECT_TRUE(fs::exists(path));
  FileLock again = FileLock::acquire(path, owner("mmaux eval"));
  EXPECT_EQ(FileLock::holder(path)->command, "mmaux eval");
  // Moving the lock keeps it held.
  FileLock moved = std::move(again);
  EXPECT_TRUE(FileLock::holder(path));
}

TEST(FileLock, TheHolderFileIsReadTolerantly) {
  LockOwner o = LockOwner::from_text("garbage\npid = 12x\nhost = n1\n = \ncommand = c\n");
  EXPECT_EQ(o.pid, 0);
  EXPECT_EQ(o.host, "n1");
  EXPECT_EQ(o.command, "c");
  EXPECT_EQ(LockOwner::from_text("").describe(), "another process");
  LockOwner full{"mmaux train", "node7", 42, "", "2024-05-01T12:00:00Z"};
  EXPECT_EQ(full.describe(), "mmaux train (pid 42 on node7, since 2024-05-01T12:00:00Z)");
  LockOwner back = LockOwner::from_text(full.to_text());
  EXPECT_EQ(back.describe(), full.describe());
}

TEST(FileLock, MissingDirectoryIsNamed) {
  testing::TempDir dir;
  const std::string path = (dir / "no" / "run.lock").string();
  std::string msg = testing::message_of<Error>([&] { FileLock::acquire(path, owner("x")); });
  EXPECT_NE(msg.find("cannot open lock file '" + path + "'"), std::string::npos) << msg;
}

// A child process takes the lock and reports through a pipe; SIGKILL ends it.
TEST(FileLock, AnotherProcessHoldsItUntilItIsKilled) {
  testing::TempDir dir;
  const std::string path = (dir / "run.lock").string();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    int status = 1;
    try {
      FileLock lock = FileLock::acquire(path, LockOwner::this_process("child", ""));
      char ok = 'y';
      if (::write(ready[1], &ok, 1) == 1) status = 0;
      ::pause();  // until killed
    } catch (...) {
    }
    ::_exit(status);
  }
  ::close(ready[1]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1) << "the child could not take the lock";
  ::close(ready[0]);

  std::optional<LockOwner> h = FileLock::holder(path);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->pid, child);
  EXPECT_EQ(h->command, "child");
  std::string msg = testing::message_of<LockedError>(
      [&] { FileLock::acquire(path, LockOwner::this_process("parent", "")); });
  EXPECT_NE(msg.find(fmt::format("child (pid {} on", child)), std::string::npos) << msg;

  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  // The kernel released it: no stale lock, though the file still names the dead child.
  EXPECT_FALSE(FileLock::holder(path));
  FileLock mine = FileLock::acquire(path, LockOwner::this_process("parent", ""));
  EXPECT_EQ(FileLock::holder(path)->command, "parent");
}

}  // namespace
}  // namespace mmaux
