// Snapshot<T>: the current version of an immutable, replaceable object (configuration, token
// store). Readers take a shared_ptr and keep using that version for as long as they hold it —
// an in-flight request finishes on the configuration it started with — while a writer installs
// a new version at any time.
//
// Thread safety: Get() and Set() are safe from any thread.
#pragma once

#include <memory>
#include <mutex>

namespace pai {

template <typename T>
class Snapshot {
 public:
  explicit Snapshot(std::shared_ptr<const T> initial = nullptr) : current_(std::move(initial)) {}

  std::shared_ptr<const T> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }

  void Set(std::shared_ptr<const T> next) {
    std::shared_ptr<const T> old;
    {
      std::lock_guard<std::mutex> lock(mu_);
      old = std::exchange(current_, std::move(next));
    }
    // `old` is released outside the lock.
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> current_;
};

}  // namespace pai
