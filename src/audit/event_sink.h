// Gateway events (shared/design/ARCHITECTURE.md, "Audit chain"): the interface through which the
// request path reports what the audit chain records — LLM_CALL, TOOL_CALL, BUDGET_EXCEEDED, and
// the GUARD.* events of the guard stage. audit::Chain (chain.h) is the durable implementation;
// LogEventSink writes each event as a JSON log line (used with --no-audit); TeeEventSink does
// both.
//
// Thread safety: Emit() may be called from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>

namespace pai::audit {

// Event types (the seeds' names, cli-reference.txt "pai audit").
inline constexpr char kBudgetExceeded[] = "BUDGET_EXCEEDED";

struct Event {
  std::string type;            // e.g. kBudgetExceeded
  std::string ns;              // the agent's namespace
  std::string agent;           // the agent's name
  boost::json::object detail;  // type-specific fields; never a prompt, token or key
  // The detail already in the chain's canonical encoding (audit/canonical.h, CanonicalDetail),
  // for the records the request path writes on every call; when set, `detail` is empty and not
  // read.
  std::string canonical_detail;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Emit(Event event) = 0;
  // EmitSeq() is Emit() returning the record's sequence number in a durable sink (0 when the
  // sink has none or the record was not accepted).
  virtual uint64_t EmitSeq(Event event) {
    Emit(std::move(event));
    return 0;
  }
  // EmitBuffered() is EmitSeq() for a sink that may keep the record in a write buffer until
  // its next Flush() or EmitSeq() (audit::Chain::EmitBuffered()); Flush() writes what is
  // buffered, false when that failed. A sink without a buffer writes at once.
  virtual uint64_t EmitBuffered(Event event) { return EmitSeq(std::move(event)); }
  virtual bool Flush() { return true; }
};

// LogEventSink: one `"msg":"event"` log line per event.
class LogEventSink final : public EventSink {
 public:
  void Emit(Event event) override;
};

// TeeEventSink: records every event in `primary` (the chain) and also logs the ones operators
// watch in logs (everything but LLM_CALL and TOOL_CALL, which the access log covers).
class TeeEventSink final : public EventSink {
 public:
  TeeEventSink(EventSink& primary, EventSink& log) : primary_(primary), log_(log) {}
  void Emit(Event event) override { EmitSeq(std::move(event)); }
  uint64_t EmitSeq(Event event) override {
    if (event.type != "LLM_CALL" && event.type != "TOOL_CALL") log_.Emit(event);
    return primary_.EmitSeq(std::move(event));
  }
  uint64_t EmitBuffered(Event event) override {
    if (event.type != "LLM_CALL" && event.type != "TOOL_CALL") log_.Emit(event);
    return primary_.EmitBuffered(std::move(event));
  }
  bool Flush() override { return primary_.Flush(); }

 private:
  EventSink& primary_;
  EventSink& log_;
};

}  // namespace pai::audit
