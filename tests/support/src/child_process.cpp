#include "bettensor/test/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

extern char** environ;

namespace bettensor::test {

child_process::child_process(std::vector<std::string> argv, options opts)
    : argv_(std::move(argv)), opts_(opts) {
  std::vector<char*> args;
  args.reserve(argv_.size() + 1);
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  if (!opts_.capture_output) {
    if (::posix_spawn(&pid_, args[0], nullptr, nullptr, args.data(), environ) != 0)
      throw std::runtime_error("cannot start " + argv_[0]);
    return;
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  const int rc = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  out_fd_ = fds[0];
  if (rc != 0) {
    ::close(out_fd_);
    out_fd_ = -1;
    throw std::runtime_error("cannot start " + argv_[0]);
  }
}

child_process::~child_process() {
  if (running()) {
    kill(opts_.stop_signal);
    wait();
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

std::optional<std::smatch> child_process::wait_for_line(const std::regex& pattern,
                                                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (std::size_t nl; (nl = pending_.find('\n')) != std::string::npos;) {
      lines_.push_back(pending_.substr(0, nl));
      pending_.erase(0, nl + 1);
      std::smatch m;
      if (std::regex_search(lines_.back(), m, pattern)) return m;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !read_some(left)) return std::nullopt;
  }
}

std::string child_process::output() {
  while (read_some(std::chrono::milliseconds(0))) {
  }
  std::string all;
  for (const auto& l : lines_) all += l + "\n";
  return all + pending_;
}

void child_process::kill(int sig) {
  ::kill(pid_, sig);
}

int child_process::wait() {
  if (exit_code_) return *exit_code_;
  int status = 0;
  ::waitpid(pid_, &status, 0);
  record_exit(status);
  return *exit_code_;
}

bool child_process::running() {
  if (exit_code_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == 0) return true;
  record_exit(status);
  return false;
}

void child_process::record_exit(int status) {
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool child_process::read_some(std::chrono::milliseconds timeout) {
  if (out_fd_ < 0) return false;
  pollfd p{out_fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char buf[4096];
  const ssize_t n = ::read(out_fd_, buf, sizeof buf);
  if (n <= 0) return false;
  pending_.append(buf, static_cast<std::size_t>(n));
  return true;
}

}  // namespace bettensor::test
