// BlockingWorker: one thread that runs blocking jobs (reading or verifying the audit chain)
// one at a time, in order, with a bounded queue: a burst of admin queries costs one thread and
// a few queued closures, never a thread per request (docs/audit.md, "Querying").
//
// Thread safety: TryPost() from any thread; Stop() once, from the owner.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace pai::gateway {

class BlockingWorker {
 public:
  // `max_queued`: jobs that may wait while one runs.
  explicit BlockingWorker(size_t max_queued);
  ~BlockingWorker() { Stop(); }
  BlockingWorker(const BlockingWorker&) = delete;
  BlockingWorker& operator=(const BlockingWorker&) = delete;

  // TryPost() queues `job`; false (nothing queued) when `max_queued` jobs already wait or the
  // worker stopped.
  bool TryPost(std::function<void()> job);

  // Stop() lets the running job finish, drops the queued ones and joins the thread.
  void Stop();

 private:
  void Loop();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace pai::gateway
