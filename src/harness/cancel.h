// CancelToken: how a user.interrupt reaches the work of a turn in progress.
//
// The stdin reader thread calls Cancel(); the thread running the turn checks cancelled(), sleeps
// in WaitFor() (backoff, waits) and installs a hook for blocking work (kill a process group, wake
// a libcurl multi handle) so that cancellation is immediate rather than polled.
//
// Thread safety: all members are safe to call from any thread. The hook runs under the token's
// lock, so it must be short and must not call back into the token; ClearHook() returning means
// the hook is not running and will not run again (a process group can then be reaped safely).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

namespace pai::harness {

class CancelToken {
 public:
  // Cancel() marks the token cancelled (idempotent), runs the hook if one is set and wakes
  // WaitFor().
  void Cancel() {
    std::lock_guard lock(mu_);
    if (cancelled_.load()) return;
    cancelled_.store(true);
    if (hook_) hook_();
    cv_.notify_all();
  }

  // cancelled() takes no lock: callers may hold their own locks that a hook takes.
  bool cancelled() const { return cancelled_.load(); }

  // SetHook() installs the function Cancel() runs; runs it at once when already cancelled.
  void SetHook(std::function<void()> hook) {
    std::lock_guard lock(mu_);
    hook_ = std::move(hook);
    if (cancelled_.load() && hook_) hook_();
  }

  void ClearHook() {
    std::lock_guard lock(mu_);
    hook_ = nullptr;
  }

  // WaitFor() sleeps up to `d`; true when the token is (or becomes) cancelled.
  bool WaitFor(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [this] { return cancelled_.load(); });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> cancelled_{false};
  std::function<void()> hook_;
};

// ScopedCancelHook installs a hook for the lifetime of a scope.
class ScopedCancelHook {
 public:
  ScopedCancelHook(CancelToken& token, std::function<void()> hook) : token_(token) {
    token_.SetHook(std::move(hook));
  }
  ~ScopedCancelHook() { token_.ClearHook(); }
  ScopedCancelHook(const ScopedCancelHook&) = delete;
  ScopedCancelHook& operator=(const ScopedCancelHook&) = delete;

 private:
  CancelToken& token_;
};

}  // namespace pai::harness
