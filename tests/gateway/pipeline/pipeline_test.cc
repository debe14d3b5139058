// The pipeline with fake stages: order, reverse unwinding after a rejection or success, the
// per-stage rejection counters, stages that suspend, and the gateway's fixed stage order.
#include "gateway/pipeline/pipeline.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "audit/event_sink.h"
#include "gateway/stages/admission.h"
#include "gateway/stages/guard.h"

namespace pai::gateway {
namespace {

namespace net = boost::asio;

// FakeStage: logs "<name>.request" / "<name>.response"; rejects when told; may suspend (a post
// to its executor) before answering, as a stage waiting for I/O does, or decide at once
// (Decide(), no coroutine: then OnRequest() must not run).
class FakeStage final : public Stage {
 public:
  FakeStage(std::string name, std::vector<std::string>* log, absl::Status result = {},
            bool suspend = false, bool decides = false)
      : name_(std::move(name)),
        log_(log),
        result_(std::move(result)),
        suspend_(suspend),
        decides_(decides) {}
  std::string_view name() const override { return name_; }
  std::optional<absl::Status> Decide(RequestContext& /*ctx*/) override {
    if (!decides_) return std::nullopt;
    log_->push_back(name_ + ".decide");
    return result_;
  }
  Task<absl::Status> OnRequest(RequestContext& /*ctx*/) override {
    if (decides_) log_->push_back(name_ + ".coroutine");  // must not happen
    if (suspend_) {
      auto ex = co_await net::this_coro::executor;
      co_await net::post(ex, net::use_awaitable_t<Executor>{});
    }
    log_->push_back(name_ + ".request");
    co_return result_;
  }
  void OnResponse(RequestContext& /*ctx*/) override { log_->push_back(name_ + ".response"); }

 private:
  std::string name_;
  std::vector<std::string>* log_;
  absl::Status result_;
  bool suspend_;
  bool decides_;
};

// Run() runs the request side to completion, then the response side of the stages that ran.
absl::Status Run(const Pipeline& p, size_t* ran) {
  net::io_context io;
  RequestContext ctx;
  absl::Status status = absl::InternalError("not run");
  net::co_spawn(
      io,
      [&]() -> Task<void> {
        absl::Status s = co_await p.RunRequest(ctx, ran);
        status = s;
      },
      net::detached);
  io.run();
  p.RunResponse(ctx, *ran);
  return status;
}

double Rejections(Metrics& m, size_t index) { return m.stage_rejections(index).Value(); }

TEST_CASE("pipeline runs every stage in order and unwinds the response side in reverse") {
  Metrics metrics;
  std::vector<std::string> log;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<FakeStage>("a", &log));
  stages.push_back(std::make_unique<FakeStage>("b", &log, absl::OkStatus(), /*suspend=*/true));
  stages.push_back(std::make_unique<FakeStage>("c", &log));
  Pipeline p(std::move(stages), metrics);
  size_t ran = 0;
  CHECK(Run(p, &ran).ok());
  CHECK(ran == 3);
  CHECK(log == std::vector<std::string>{"a.request", "b.request", "c.request", "c.response",
                                        "b.response", "a.response"});
  CHECK(p.stage_names() == std::vector<std::string_view>{"a", "b", "c"});
}

TEST_CASE("a rejection stops the request side there and the stages that ran unwind, it included") {
  Metrics metrics;
  std::vector<std::string> log;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<FakeStage>("a", &log));
  stages.push_back(std::make_unique<FakeStage>("b", &log, absl::ResourceExhaustedError("over"),
                                               /*suspend=*/true));
  stages.push_back(std::make_unique<FakeStage>("c", &log));
  Pipeline p(std::move(stages), metrics);
  size_t ran = 0;
  const absl::Status s = Run(p, &ran);
  CHECK(s.code() == absl::StatusCode::kResourceExhausted);
  CHECK(ran == 2);
  CHECK(log == std::vector<std::string>{"a.request", "b.request", "b.response", "a.response"});
  // The rejection is counted for its stage only (indices are the stages' registration order).
  CHECK(Rejections(metrics, 0) == 0);
  CHECK(Rejections(metrics, 1) == 1);
  CHECK(Rejections(metrics, 2) == 0);
  log.clear();
  CHECK_FALSE(Run(p, &ran).ok());
  CHECK(Rejections(metrics, 1) == 2);
}

TEST_CASE("stages that decide at once and stages that wait run in one order and unwind alike") {
  std::vector<std::string> log;
  Metrics metrics;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<FakeStage>("a", &log, absl::OkStatus(), false, true));
  stages.push_back(std::make_unique<FakeStage>("b", &log, absl::OkStatus(), true));
  stages.push_back(
      std::make_unique<FakeStage>("c", &log, absl::PermissionDeniedError("no"), false, true));
  stages.push_back(std::make_unique<FakeStage>("d", &log));
  Pipeline p(std::move(stages), metrics);
  size_t ran = 0;
  CHECK(Run(p, &ran).code() == absl::StatusCode::kPermissionDenied);
  CHECK(ran == 3);
  CHECK(log == std::vector<std::string>{"a.decide", "b.request", "c.decide", "c.response",
                                        "b.response", "a.response"});
}

TEST_CASE("the first stage's rejection unwinds only that stage") {
  Metrics metrics;
  std::vector<std::string> log;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<FakeStage>("a", &log, absl::UnauthenticatedError("who")));
  stages.push_back(std::make_unique<FakeStage>("b", &log));
  Pipeline p(std::move(stages), metrics);
  size_t ran = 0;
  CHECK(Run(p, &ran).code() == absl::StatusCode::kUnauthenticated);
  CHECK(ran == 1);
  CHECK(log == std::vector<std::string>{"a.request", "a.response"});
}

// OutOnly: a stage with no request side; its OnRequest() must never be called.
class OutOnly final : public Stage {
 public:
  OutOnly(std::string name, std::vector<std::string>* log) : name_(std::move(name)), log_(log) {}
  std::string_view name() const override { return name_; }
  bool request_side() const override { return false; }
  Task<absl::Status> OnRequest(RequestContext& /*ctx*/) override {
    log_->push_back(name_ + ".request");
    co_return absl::InternalError("a stage without a request side was asked");
  }
  void OnResponse(RequestContext& /*ctx*/) override { log_->push_back(name_ + ".response"); }

 private:
  std::string name_;
  std::vector<std::string>* log_;
};

TEST_CASE("stages without a request side are skipped on the way in and unwind on the way out") {
  Metrics metrics;
  std::vector<std::string> log;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<OutOnly>("log", &log));
  stages.push_back(std::make_unique<OutOnly>("reply", &log));
  stages.push_back(std::make_unique<FakeStage>("auth", &log, absl::UnauthenticatedError("who")));
  stages.push_back(std::make_unique<FakeStage>("later", &log));
  Pipeline p(std::move(stages), metrics);
  size_t ran = 0;
  CHECK(Run(p, &ran).code() == absl::StatusCode::kUnauthenticated);
  CHECK(ran == 3);
  CHECK(log == std::vector<std::string>{"auth.request", "auth.response", "reply.response",
                                        "log.response"});
}

TEST_CASE("the gateway's pipeline has its documented order") {
  Metrics metrics;
  Snapshot<auth::TokenStore> tokens;
  auto store = budget::OpenLocalBudgetStore(budget::LocalStoreOptions{});
  REQUIRE(store.ok());
  audit::LogEventSink events;
  Admission admission(**store, events, metrics);
  Guards guards(events);
  SessionTotals sessions;
  PipelineSinks sinks;
  sinks.sessions = &sessions;
  auto p = BuildPipeline(tokens, admission, guards, metrics, sinks);
  // docs/architecture.md, "The request pipeline".
  CHECK(p->stage_names() == std::vector<std::string_view>{"access_log", "metrics", "audit", "reply",
                                                          "route", "authenticate", "parse",
                                                          "resolve_model", "admit", "guard"});
  sinks.access_log = false;
  CHECK(BuildPipeline(tokens, admission, guards, metrics, sinks)->stage_names().front() ==
        "metrics");
}

}  // namespace
}  // namespace pai::gateway
