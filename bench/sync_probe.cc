// sync_probe: the cost of one synced append on a filesystem, the floor under the strict audit
// mode (`--audit-sync strict`: each success waits for the fdatasync(2) covering its record).
// Appends `--bytes` bytes (default 512, about one LLM_CALL record) to a new file in `--dir`
// and calls fdatasync(2) after each append, `--count` times (default 2000), then prints
// "p50_us p99_us syncs_per_s" on one line. bench/proxy_bench.sh runs it in the directory that
// holds the gateways' state, in the same run as the rows it is compared with.
//
//   build/bench/sync_probe [--dir DIR] [--count N] [--bytes N]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::string dir = ".";
  long count = 2000;
  long bytes = 512;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--dir")) {
      dir = argv[i + 1];
    } else if (!std::strcmp(argv[i], "--count")) {
      count = std::atol(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--bytes")) {
      bytes = std::atol(argv[i + 1]);
    } else {
      std::fprintf(stderr, "sync_probe: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (count < 1 || bytes < 1) {
    std::fprintf(stderr, "sync_probe: --count and --bytes must be positive\n");
    return 2;
  }
  const std::string path = dir + "/sync-probe.log";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::perror(path.c_str());
    return 1;
  }
  std::string record(static_cast<size_t>(bytes) - 1, 'x');
  record += '\n';
  std::vector<double> us;
  us.reserve(static_cast<size_t>(count));
  const auto begin = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size()) ||
        ::fdatasync(fd) != 0) {
      std::perror(path.c_str());
      return 1;
    }
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  ::close(fd);
  ::unlink(path.c_str());
  std::sort(us.begin(), us.end());
  const auto at = [&](double q) {
    return us[static_cast<size_t>(q * static_cast<double>(us.size() - 1))];
  };
  std::printf("%.1f %.1f %.0f\n", at(0.50), at(0.99), static_cast<double>(count) / seconds);
  return 0;
}
