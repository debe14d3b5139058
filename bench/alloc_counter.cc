// alloc_counter: an LD_PRELOAD library counting C++ allocations (operator new, every form) of the
// process it is loaded into. On SIGUSR2 it appends "<count> <bytes>" (totals since start) to
// $PAI_ALLOC_COUNTER_OUT.<pid>. bench/proxy_bench.sh --allocs loads it into the gateways and
// signals them before and after each measured run: the difference over the requests served is
// allocations per request. Not for production: every allocation pays two relaxed atomic adds.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace {

std::atomic<unsigned long> g_count{0};
std::atomic<unsigned long> g_bytes{0};

void* Counted(size_t n) {
  g_count.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(n, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}

void* CountedAligned(size_t n, size_t align) {
  g_count.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(n, std::memory_order_relaxed);
  void* p = nullptr;
  return posix_memalign(&p, align < sizeof(void*) ? sizeof(void*) : align, n == 0 ? 1 : n) == 0
             ? p
             : nullptr;
}

void Dump(int) {  // async-signal-safe: snprintf into a stack buffer, open/write/close
  char path[256];
  const char* base = std::getenv("PAI_ALLOC_COUNTER_OUT");
  if (!base) return;
  std::snprintf(path, sizeof(path), "%s.%d", base, static_cast<int>(getpid()));
  char line[64];
  const int n = std::snprintf(line, sizeof(line), "%lu %lu\n", g_count.load(), g_bytes.load());
  const int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) return;
  (void)!write(fd, line, static_cast<size_t>(n));
  close(fd);
}

__attribute__((constructor)) void Init() { signal(SIGUSR2, Dump); }

}  // namespace

void* operator new(size_t n) {
  void* p = Counted(n);
  if (!p) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return Counted(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return Counted(n); }
void* operator new(size_t n, std::align_val_t a) {
  void* p = CountedAligned(n, static_cast<size_t>(a));
  if (!p) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }

// Asio allocates coroutine frames and handlers (those its per-thread cache does not recycle)
// with aligned_alloc().
extern "C" void* aligned_alloc(size_t align, size_t n) { return CountedAligned(n, align); }
