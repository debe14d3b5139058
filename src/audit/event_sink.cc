#include "audit/event_sink.h"

#include "common/log.h"

namespace pai::audit {

void LogEventSink::Emit(Event event) {
  boost::json::object fields;
  fields["type"] = event.type;
  fields["namespace"] = event.ns;
  fields["agent"] = event.agent;
  fields["detail"] = std::move(event.detail);
  log::Info("event", std::move(fields));
}

}  // namespace pai::audit
