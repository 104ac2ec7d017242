#include "support/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

extern char** environ;

namespace gw::e2e {
namespace {

std::array<int, 2> make_pipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  return fds;
}

void check(int rc, const char* what) {
  if (rc != 0) throw std::system_error(rc, std::generic_category(), what);
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const ExitStatus& status) {
  if (status.exited) return out << "exit code " << status.code;
  return out << "killed by signal " << status.signal;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& working_dir) {
  auto out_pipe = make_pipe();
  auto err_pipe = make_pipe();

  posix_spawn_file_actions_t actions;
  check(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init");
  posix_spawnattr_t attr;
  check(posix_spawnattr_init(&attr), "posix_spawnattr_init");

  check(posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0), "addopen");
  check(posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1), "adddup2");
  check(posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2), "adddup2");
  check(posix_spawn_file_actions_addclosefrom_np(&actions, 3), "addclosefrom");
  if (!working_dir.empty()) {
    check(posix_spawn_file_actions_addchdir_np(&actions, working_dir.c_str()), "addchdir");
  }
  // The child starts with no blocked signals and default handlers for the ones a daemon must handle
  // itself, whatever the test process does with them.
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP}) sigaddset(&defaults, sig);
  check(posix_spawnattr_setsigmask(&attr, &none), "setsigmask");
  check(posix_spawnattr_setsigdefault(&attr, &defaults), "setsigdefault");
  check(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF), "setflags");

  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  int rc = posix_spawnp(&pid_, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    throw std::system_error(rc, std::generic_category(), "posix_spawn " + argv.at(0));
  }
  reader_ = std::thread([this, out = out_pipe[0], err = err_pipe[0]] { read_output(out, err); });
  waiter_ = std::thread([this] { wait_for_termination(); });
}

ChildProcess::~ChildProcess() {
  kill();
  if (waiter_.joinable()) waiter_.join();
  if (reader_.joinable()) reader_.join();
}

void ChildProcess::signal(int sig) {
  // Reaping happens under the same lock, so the pid cannot have been reused by another process.
  std::lock_guard lock(mutex_);
  if (!reaped_) ::kill(pid_, sig);
}

void ChildProcess::terminate() {
  signal(SIGTERM);
}
void ChildProcess::kill() {
  signal(SIGKILL);
}

bool ChildProcess::running() const {
  std::lock_guard lock(mutex_);
  return !reaped_;
}

std::optional<ExitStatus> ChildProcess::wait_for_exit(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [this] { return reaped_ && output_closed_; })) return std::nullopt;
  return status_;
}

std::vector<OutputLine> ChildProcess::output() const {
  std::lock_guard lock(mutex_);
  return output_;
}

std::vector<std::string> ChildProcess::lines(std::optional<Stream> only) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> result;
  for (const auto& line : output_) {
    if (!only || line.stream == *only) result.push_back(line.text);
  }
  return result;
}

std::string ChildProcess::text(std::optional<Stream> only) const {
  std::string result;
  for (const auto& line : lines(only)) result += line + "\n";
  return result;
}

std::optional<std::size_t> ChildProcess::wait_for_line(const LineMatcher& match,
                                                       std::chrono::milliseconds timeout, std::size_t from) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  std::size_t next = from;
  while (true) {
    for (; next < output_.size(); ++next) {
      if (match(output_[next].text)) return next;
    }
    if (output_closed_) return std::nullopt;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout && next == output_.size()) {
      return std::nullopt;
    }
  }
}

void ChildProcess::read_output(int out_fd, int err_fd) {
  std::array<pollfd, 2> fds{pollfd{out_fd, POLLIN, 0}, pollfd{err_fd, POLLIN, 0}};
  std::array<std::string, 2> partial;
  std::array<Stream, 2> streams{Stream::out, Stream::err};
  int open_count = 2;
  char buffer[8192];
  while (open_count > 0) {
    int ready = ::poll(fds.data(), fds.size(), -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      std::vector<OutputLine> complete;
      if (n > 0) {
        partial[i].append(buffer, static_cast<std::size_t>(n));
        std::size_t newline;
        while ((newline = partial[i].find('\n')) != std::string::npos) {
          complete.push_back({streams[i], partial[i].substr(0, newline)});
          partial[i].erase(0, newline + 1);
        }
      } else {
        if (!partial[i].empty()) complete.push_back({streams[i], std::move(partial[i])});
        partial[i].clear();
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      }
      if (!complete.empty()) {
        std::lock_guard lock(mutex_);
        for (auto& line : complete) output_.push_back(std::move(line));
        changed_.notify_all();
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }
  std::lock_guard lock(mutex_);
  output_closed_ = true;
  changed_.notify_all();
}

void ChildProcess::wait_for_termination() {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
  std::lock_guard lock(mutex_);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    status_ = {true, WEXITSTATUS(status), 0};
  } else if (WIFSIGNALED(status)) {
    status_ = {false, -1, WTERMSIG(status)};
  }
  reaped_ = true;
  changed_.notify_all();
}

}  // namespace gw::e2e
