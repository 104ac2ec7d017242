// A child process with its stdout and stderr piped into the test: every output line is kept, and a
// test can wait (with a deadline that only guards against hangs) for a line it expects or for the
// process to exit. The destructor kills and reaps the process, so no test leaves one behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace gw::e2e {

using namespace std::chrono_literals;

// How long a test waits for something that should happen promptly before it declares a failure.
inline constexpr std::chrono::milliseconds kGuard = 20s;

struct ExitStatus {
  bool exited = false;  // ended by exit(); otherwise by `signal`
  int code = -1;
  int signal = 0;

  bool success() const { return exited && code == 0; }
};
std::ostream& operator<<(std::ostream& out, const ExitStatus& status);

enum class Stream { out, err };

struct OutputLine {
  Stream stream;
  std::string text;
};

class ChildProcess {
 public:
  using LineMatcher = std::function<bool(const std::string&)>;

  // Starts argv[0] (searched in PATH if it has no slash) in `working_dir` (current dir if empty), with
  // stdin from /dev/null and no other descriptor of the test process inherited.
  explicit ChildProcess(const std::vector<std::string>& argv, const std::string& working_dir = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `sig` unless the process has already been reaped.
  void signal(int sig);
  void terminate();  // SIGTERM
  void kill();       // SIGKILL

  // True until the process has exited.
  bool running() const;
  // Waits until the process has exited and all its output has been read.
  std::optional<ExitStatus> wait_for_exit(std::chrono::milliseconds timeout = kGuard);

  // Every output line so far (both streams, in the order they were read).
  std::vector<OutputLine> output() const;
  std::vector<std::string> lines(std::optional<Stream> only = std::nullopt) const;
  std::string text(std::optional<Stream> only = std::nullopt) const;
  // Waits for an output line (index >= from) that `match` accepts; returns its index.
  std::optional<std::size_t> wait_for_line(const LineMatcher& match,
                                           std::chrono::milliseconds timeout = kGuard, std::size_t from = 0);

 private:
  void read_output(int out_fd, int err_fd);
  void wait_for_termination();

  pid_t pid_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<OutputLine> output_;
  bool output_closed_ = false;
  bool terminated_ = false;  // exited, not yet necessarily reaped
  bool reaped_ = false;
  ExitStatus status_;
  std::thread reader_;
  std::thread waiter_;
};

}  // namespace gw::e2e
