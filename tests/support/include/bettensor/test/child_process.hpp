// A program under test run as a child process. Its stdout and stderr are read through a pipe, so
// a test can wait (with a bound) for a log line, or left on the terminal (the load generator's
// validator); it can be killed like an operator would, and is stopped and reaped on destruction.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace bettensor::test {

class child_process {
 public:
  struct options {
    bool capture_output = true;  // false: the child writes to this process's stdout and stderr
    int stop_signal = SIGKILL;   // sent on destruction while it runs (SIGTERM: a clean stop)
  };

  explicit child_process(std::vector<std::string> argv) : child_process(std::move(argv), {}) {}
  child_process(std::vector<std::string> argv, options opts);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Reads output until a line matches `pattern`; returns the match or nullopt at the deadline
  /// or when the child's output ends.
  std::optional<std::smatch> wait_for_line(const std::regex& pattern,
                                           std::chrono::milliseconds timeout);
  /// Everything printed so far (for failure messages).
  std::string output();

  void kill(int sig);
  /// Waits for the child to end and returns its exit code (128 + signal when killed).
  int wait();
  bool running();
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  bool read_some(std::chrono::milliseconds timeout);
  void record_exit(int status);

  std::vector<std::string> argv_;
  options opts_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string pending_;
  std::vector<std::string> lines_;
  std::optional<int> exit_code_;
};

}  // namespace bettensor::test
