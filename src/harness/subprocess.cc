#include "harness/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pai::harness {

void CappedOutput::Append(std::string_view bytes) {
  total_ += bytes.size();
  const size_t to_head = std::min(bytes.size(), head_cap_ - head_.size());
  head_.append(bytes.substr(0, to_head));
  bytes.remove_prefix(to_head);
  if (bytes.empty() || tail_cap_ == 0) return;
  tail_.append(bytes);
  if (TailSize() > tail_cap_) tail_start_ = tail_.size() - tail_cap_;
  // Compact once the dead prefix dominates: amortised O(1) per byte.
  if (tail_start_ > tail_cap_ + 4096) {
    tail_.erase(0, tail_start_);
    tail_start_ = 0;
  }
}

std::string CappedOutput::Render() const {
  std::string out = head_;
  if (cut() > 0) {
    out += "\n[... " + std::to_string(cut()) + " bytes cut (" + std::to_string(total_) +
           " in all) ...]\n";
  }
  out.append(tail_, tail_start_, std::string::npos);
  return out;
}

namespace {

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

// Reaps `pid` if it has exited; true then. The cancel hook (which kills the group) is removed
// before the reap, so that it can never hit a recycled process group id.
bool TryReap(pid_t pid, int* status, CancelToken& cancel) {
  siginfo_t info{};
  for (;;) {
    const int r = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return true;  // ECHILD: someone else reaped it; treat as exited
    if (info.si_pid == 0) return false;
    break;
  }
  cancel.ClearHook();
  while (::waitpid(pid, status, 0) < 0 && errno == EINTR) {
  }
  return true;
}

}  // namespace

absl::StatusOr<ProcessResult> RunProcess(const ProcessOptions& options, CancelToken& cancel) {
  if (options.argv.empty()) return absl::InvalidArgumentError("empty command");
  std::vector<char*> argv;
  for (const std::string& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(std::string("pipe: ") + std::strerror(errno));
  }
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return absl::InternalError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    ::setpgid(0, 0);
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(out_pipe[1], 2);
    if (cwd != nullptr && ::chdir(cwd) != 0) {
      static const char kMsg[] = "cannot enter the working directory\n";
      [[maybe_unused]] ssize_t w = ::write(2, kMsg, sizeof kMsg - 1);
      ::_exit(126);
    }
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here: no window in which a kill of the group misses the child
  ::close(out_pipe[1]);
  const int out_fd = out_pipe[0];
  const int pidfd = PidfdOpen(pid);

  ProcessResult result;
  CappedOutput output(options.output_cap);
  int status = 0;
  bool exited = false;
  bool pipe_open = true;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + options.timeout;
  auto grace_end = std::chrono::steady_clock::time_point::max();
  {
    ScopedCancelHook hook(cancel, [pid] { ::kill(-pid, SIGKILL); });
    char buf[65536];
    while (!exited || pipe_open) {
      const auto now = std::chrono::steady_clock::now();
      if (!exited && !result.timed_out && now >= deadline) {
        result.timed_out = true;
        ::kill(-pid, SIGKILL);
      }
      if (exited && now >= grace_end) break;
      auto until =
          exited ? grace_end : (result.timed_out ? now + std::chrono::seconds(1) : deadline);
      long wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1;
      if (pidfd < 0 && !exited) wait_ms = std::min(wait_ms, 50L);  // no pidfd: poll for exit
      wait_ms = std::max(0L, std::min(wait_ms, 60000L));
      pollfd fds[2];
      nfds_t n = 0;
      if (pipe_open) fds[n++] = {out_fd, POLLIN, 0};
      const bool watch_pid = pidfd >= 0 && !exited;
      if (watch_pid) fds[n++] = {pidfd, POLLIN, 0};
      const int r = ::poll(fds, n, static_cast<int>(wait_ms));
      if (r < 0 && errno != EINTR) break;
      if (pipe_open && r > 0 && fds[0].revents != 0) {
        const ssize_t got = ::read(out_fd, buf, sizeof buf);
        if (got > 0) {
          output.Append(std::string_view(buf, static_cast<size_t>(got)));
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
          pipe_open = false;
        }
      }
      if (!exited && (watch_pid ? (r > 0 && fds[n - 1].revents != 0) || !pipe_open : true)) {
        if (TryReap(pid, &status, cancel)) {
          exited = true;
          // Killed or interrupted: take what is buffered, do not wait for background writers.
          const bool stopped = result.timed_out || cancel.cancelled();
          grace_end = std::chrono::steady_clock::now() +
                      (stopped ? std::chrono::milliseconds(50) : std::chrono::milliseconds(200));
        } else if (!pipe_open) {
          // The pipe closed but the process lives on: wait for it (bounded by the deadline).
          continue;
        }
      }
    }
    if (!exited) {
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  ::close(out_fd);
  if (pidfd >= 0) ::close(pidfd);
  result.cancelled = cancel.cancelled();
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  result.output = output.Render();
  result.output_bytes = output.total();
  result.cut_bytes = output.cut();
  return result;
}

}  // namespace pai::harness
