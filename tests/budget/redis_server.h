// RedisServer: a real redis-server (Debian's redis-server package) started by a test on a unix
// socket in a fresh directory, TCP off (`--port 0`). Start() returns once the server logged
// that it is ready ("The server is now ready to accept connections at <socket>"); Kill() sends
// SIGKILL; Stop() shuts it down gracefully.
//
// Thread safety: one thread.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace pai::testing {

class RedisServer {
 public:
  // `dir`: the server's working directory (its AOF lives there); created if needed.
  explicit RedisServer(std::string dir, bool append_only = false)
      : dir_(std::move(dir)), append_only_(append_only) {
    std::filesystem::create_directories(dir_);
  }
  ~RedisServer() { Kill(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::string socket() const { return dir_ + "/redis.sock"; }
  std::string url() const { return "unix://" + socket(); }

  // Start(): false if redis-server did not become ready.
  bool Start() {
    // argv is built before fork(): the child of a threaded process may only exec.
    const std::string sock = socket();
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     "0",
                                     "--unixsocket",
                                     sock,
                                     "--dir",
                                     dir_,
                                     "--save",
                                     "",
                                     "--daemonize",
                                     "no",
                                     "--appendonly",
                                     append_only_ ? "yes" : "no",
                                     "--appendfsync",
                                     "always"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return false;
    pid_ = fork();
    if (pid_ == 0) {
      // The server dies with the thread that started it (even in a test that aborts), and
      // holds none of the test's streams.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(fds[1], STDOUT_FILENO);
      dup2(fds[1], STDERR_FILENO);
      close(fds[0]);
      close(fds[1]);
      execvp("redis-server", argv.data());
      _exit(127);
    }
    close(fds[1]);
    FILE* out = fdopen(fds[0], "r");
    bool ready = false;
    char line[1024];
    while (!ready && fgets(line, sizeof line, out)) {
      ready = std::string(line).find("ready to accept connections") != std::string::npos;
    }
    // The server keeps logging to the pipe: a detached thread drains it (so that the server
    // never blocks on a full pipe) until the server and any child of it have closed it.
    std::thread([out] {
      char buf[1024];
      while (fgets(buf, sizeof buf, out)) {
      }
      fclose(out);
    }).detach();
    return ready;
  }

  void Kill() { Signal(SIGKILL); }
  void Stop() { Signal(SIGTERM); }

 private:
  void Signal(int sig) {
    if (pid_ > 0) {
      kill(pid_, sig);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    std::filesystem::remove(socket());
  }

  std::string dir_;
  bool append_only_;
  pid_t pid_ = -1;
};

}  // namespace pai::testing
