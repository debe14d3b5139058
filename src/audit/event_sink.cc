#include "audit/event_sink.h"

#include <boost/json/parse.hpp>

#include "common/log.h"

namespace pai::audit {

void LogEventSink::Emit(Event event) {
  boost::json::object fields;
  fields["type"] = event.type;
  fields["namespace"] = event.ns;
  fields["agent"] = event.agent;
  if (!event.canonical_detail.empty()) {
    boost::system::error_code ec;
    boost::json::value detail = boost::json::parse(event.canonical_detail, ec);
    if (!ec && detail.is_object()) fields["detail"] = std::move(detail);
  } else {
    fields["detail"] = std::move(event.detail);
  }
  log::Info("event", std::move(fields));
}

}  // namespace pai::audit
