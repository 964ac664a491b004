#include "launch/process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <string>

extern char** environ;

namespace mmaux::launch::detail {

ProcessResult run_process(const std::vector<std::string>& argv, bool capture, bool quiet) {
  ProcessResult result;
  if (argv.empty()) return result;
  int pipe_fd[2] = {-1, -1};
  if (capture && pipe(pipe_fd) != 0) return result;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (capture) {
    posix_spawn_file_actions_adddup2(&actions, pipe_fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fd[0]);
    posix_spawn_file_actions_addclose(&actions, pipe_fd[1]);
  }
  if (quiet) posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (capture) close(pipe_fd[1]);
  if (rc != 0) {
    if (capture) close(pipe_fd[0]);
    result.exit_code = 127;
    return result;
  }
  if (capture) {
    char buf[4096];
    ssize_t n = 0;
    while ((n = read(pipe_fd[0], buf, sizeof buf)) != 0) {
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      result.output.append(buf, static_cast<size_t>(n));
    }
    close(pipe_fd[0]);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return result;
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.exit_code = 128 + WTERMSIG(status);
  return result;
}

namespace {
volatile sig_atomic_t g_child = 0;
extern "C" void forward_to_child(int) {
  if (g_child > 0) kill(static_cast<pid_t>(g_child), SIGUSR1);
}
}  // namespace

int run_forwarding_signals(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // A handler (not SIG_IGN) so that the child starts with default dispositions after exec and
  // can install its own traps.
  struct sigaction act {};
  act.sa_handler = forward_to_child;
  sigemptyset(&act.sa_mask);
  struct sigaction old[3];
  const int signals[3] = {SIGINT, SIGTERM, SIGUSR1};
  for (int i = 0; i < 3; ++i) sigaction(signals[i], &act, &old[i]);
  pid_t pid = 0;
  int code = 127;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) == 0) {
    g_child = pid;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    g_child = 0;
    if (WIFEXITED(status)) code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) code = 128 + WTERMSIG(status);
  }
  for (int i = 0; i < 3; ++i) sigaction(signals[i], &old[i], nullptr);
  return code;
}

}  // namespace mmaux::launch::detail
