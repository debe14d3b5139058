// The Session and workload routes of the API (docs/api.md, "Session and workload routes"):
// events, end, logs, exec, files, egress records, and the webhook trigger's /hooks/{token}.
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"
#include "server/api.h"
#include "server/api_internal.h"
#include "server/json_access.h"
#include "server/runtime.h"
#include "server/sessions.h"
#include "server/triggers.h"

namespace pai::server {
namespace json = boost::json;
using namespace api_internal;

namespace {

bool Finished(const Resource& r) {
  const std::string phase = Str(Obj(&r.object, "status"), "phase");
  return phase == "Complete" || phase == "Error";
}

// UserEvent(): a POSTed event in the stored shape, or an error message.
std::string NormaliseUserEvent(json::value& v, size_t i) {
  const std::string field = pai::StrCat("events[", i, "]");
  if (!v.is_object()) return pai::StrCat(field, ": expected an object");
  json::object& e = v.as_object();
  const std::string type = Str(&e, "type");
  if (type != "user.message" && type != "user.interrupt" && type != "user.custom_tool_result") {
    return pai::StrCat(field, ".type: \"", type,
                       "\" is not a user event (user.message, user.interrupt, "
                       "user.custom_tool_result)");
  }
  for (const char* k : {"id", "sequence", "created_at", "processed_at"}) e.erase(k);
  json::value* content = e.if_contains("content");
  if (content && content->is_string()) {
    *content = json::array{json::object{{"type", "text"}, {"text", content->as_string()}}};
  }
  if (type == "user.message") {
    if (!content || !content->is_array() || content->as_array().empty()) {
      return pai::StrCat(field, ".content: a non-empty list of {\"type\":\"text\",\"text\":...}");
    }
  }
  if (type == "user.custom_tool_result" && Str(&e, "custom_tool_use_id").empty()) {
    return pai::StrCat(field, ".custom_tool_use_id: required");
  }
  if (type == "user.custom_tool_result" && !content) e["content"] = json::array();
  return "";
}

}  // namespace

ApiResponse Api::SessionRoutes(Ctx& ctx, const std::string& ns, const std::string& kind,
                               const std::string& name, const std::vector<std::string>& rest) {
  if (!events_ || !runtime_) return Err(503, "unavailable", "this server runs no workloads");
  const std::string& m = ctx.req.method;
  auto r = store_.Get(kind, ns, name);
  if (!r.ok()) return FromStatus(r.status());
  const std::string key = pai::StrCat(ns, "/", name);
  const std::string sub = rest.empty() ? "" : rest[0];
  if (kind == "Session" && sub == "events" && rest.size() == 1) {
    if (m == "POST") return PostEvents(ctx, ns, name);
    if (m != "GET") return Err(405, "method_not_allowed", "use GET or POST");
    int64_t after = 0, limit = 1000;
    if (ctx.query.count("after") && !absl::SimpleAtoi(ctx.query["after"], &after)) {
      return Err(400, "bad_request", "after must be an integer (a sequence number)");
    }
    if (ctx.query.count("limit") &&
        (!absl::SimpleAtoi(ctx.query["limit"], &limit) || limit < 1 || limit > 10000)) {
      return Err(400, "bad_request", "limit must be an integer in 1..10000");
    }
    std::vector<std::string> types;
    if (ctx.query.count("type") && !ctx.query["type"].empty()) {
      types = absl::StrSplit(ctx.query["type"], ',', absl::SkipEmpty());
    }
    auto evs = store_.ListEvents(ns, name, after, types, limit);
    if (!evs.ok()) return FromStatus(evs.status());
    json::array items;
    int64_t last = after;
    for (auto& e : *evs) {
      if (const json::value* sq = e.if_contains("sequence"); sq && sq->is_int64()) {
        last = std::max(last, sq->as_int64());
      }
      items.push_back(std::move(e));
    }
    return Json(
        200,
        json::object{{"kind", "EventList"}, {"items", std::move(items)}, {"lastSequence", last}});
  }
  if (kind == "Session" && sub == "events" && rest.size() == 2 && rest[1] == "stream") {
    if (m != "GET") return Err(405, "method_not_allowed", "use GET");
    StreamSpec st{"events", kind, ns, name, r->uid()};
    const std::string& from =
        !ctx.req.last_event_id.empty() ? ctx.req.last_event_id : ctx.query["after"];
    if (!from.empty() && !absl::SimpleAtoi(from, &st.after)) {
      // Event ids are "sevt_<sequence>"; a bare sequence is accepted too.
      if (from.rfind("sevt_", 0) != 0 || !absl::SimpleAtoi(from.substr(5), &st.after)) {
        return Err(400, "bad_request", "Last-Event-ID / after must be an event sequence or id");
      }
    }
    ApiResponse out;
    out.stream = st;
    return out;
  }
  if (kind == "Session" && sub == "end" && rest.size() == 1) {
    if (m != "POST") return Err(405, "method_not_allowed", "use POST");
    if (Finished(*r)) return Json(200, r->object);
    if (absl::Status s = runtime_->End(key, "ended by the user"); !s.ok()) return FromStatus(s);
    if (wake_) wake_();
    return Json(200, r->object);
  }
  if (kind == "Session" && sub == "egress" && rest.size() == 1 && m == "GET") {
    int64_t limit = 100;
    if (ctx.query.count("limit") &&
        (!absl::SimpleAtoi(ctx.query["limit"], &limit) || limit < 1 || limit > 1000)) {
      return Err(400, "bad_request", "limit must be an integer in 1..1000");
    }
    auto recs = runtime_->EgressRecords(key, static_cast<size_t>(limit));
    json::array items;
    for (const std::string& line : recs.ok() ? *recs : std::vector<std::string>{}) {
      boost::system::error_code ec;
      json::value v = json::parse(line, ec);
      if (!ec) items.push_back(std::move(v));
    }
    return Json(200, json::object{{"items", std::move(items)}});
  }
  if (sub == "logs" && rest.size() == 1) {
    if (m != "GET") return Err(405, "method_not_allowed", "use GET");
    StreamSpec st{"logs", kind, ns, name, r->uid()};
    if (ctx.query.count("tailLines") &&
        (!absl::SimpleAtoi(ctx.query["tailLines"], &st.tail_lines) || st.tail_lines < 0)) {
      return Err(400, "bad_request", "tailLines must be a non-negative integer");
    }
    st.follow = ctx.query["follow"] == "true" || ctx.query["follow"] == "1";
    if (!runtime_->LogPath(kind, key, r->uid()).ok()) {
      return Err(409, "conflict",
                 pai::StrCat(kind, " \"", name, "\" has no logs yet (not started)"));
    }
    ApiResponse out;
    out.stream = st;
    return out;
  }
  if (sub == "exec" && rest.size() == 1) {
    if (m != "GET") return Err(405, "method_not_allowed", "use GET with a WebSocket upgrade");
    StreamSpec st{"exec", kind, ns, name, r->uid()};
    // Repeated `command` parameters: Boost.URL keeps them all; the query map only the last.
    auto url = boost::urls::parse_origin_form(ctx.req.target);
    if (url) {
      for (const auto& p : url->params()) {
        if (p.key == "command") st.command.push_back(p.value);
      }
    }
    st.tty = ctx.query["tty"] == "true" || ctx.query["tty"] == "1";
    st.stdin = ctx.query["stdin"] == "true" || ctx.query["stdin"] == "1";
    if (!runtime_->Status(kind, key).known || runtime_->Status(kind, key).replicas_running == 0) {
      return Err(409, "conflict", pai::StrCat(kind, " \"", name, "\" is not running"));
    }
    ApiResponse out;
    out.stream = st;
    return out;
  }
  if (sub == "files" && rest.size() == 1) return Files(ctx, kind, ns, name);
  return Err(404, "not_found", "no such route");
}

ApiResponse Api::PostEvents(Ctx& ctx, const std::string& ns, const std::string& name) {
  auto r = store_.Get("Session", ns, name);
  if (!r.ok()) return FromStatus(r.status());
  const WorkloadStatus ws = runtime_->Status("Session", pai::StrCat(ns, "/", name));
  if (Finished(*r) || ws.ending || (ws.known && (ws.phase == "Complete" || ws.phase == "Error"))) {
    return Err(409, "conflict",
               pai::StrCat("Session \"", name, "\" has finished or is ending; start a new one"));
  }
  boost::system::error_code ec;
  json::value body = json::parse(ctx.req.body, ec);
  const json::array* list = !ec && body.is_object() ? Arr(&body.as_object(), "events") : nullptr;
  if (!list || list->empty() || list->size() > 100) {
    return Err(400, "bad_request", "body: {\"events\":[...]} with 1 to 100 user events");
  }
  std::vector<json::object> events;
  for (size_t i = 0; i < list->size(); ++i) {
    json::value v = (*list)[i];
    if (std::string bad = NormaliseUserEvent(v, i); !bad.empty()) {
      return Err(422, "invalid", bad, pai::StrCat("events[", i, "]"));
    }
    events.push_back(std::move(v.as_object()));
  }
  auto stored = events_->AppendStored(ns, name, std::move(events));
  if (!stored.ok()) return FromStatus(stored.status());
  json::array items;
  for (const json::object& e : *stored) {
    // Not running yet (Pending): the controller delivers queued events once the harness starts.
    (void)runtime_->Deliver(pai::StrCat(ns, "/", name), e);
    items.push_back(e);
  }
  return Json(200, json::object{{"items", std::move(items)}});
}

ApiResponse Api::Files(Ctx& ctx, const std::string& kind, const std::string& ns,
                       const std::string& name) {
  const std::string path = ctx.query["path"];
  if (path.empty() || path[0] != '/') {
    return Err(400, "bad_request", "path: an absolute path inside the sandbox", "path");
  }
  const std::string key = pai::StrCat(ns, "/", name);
  if (ctx.req.method == "GET") {
    auto data = runtime_->ReadFile(kind, key, path);
    if (!data.ok()) {
      if (absl::IsFailedPrecondition(data.status()) &&
          data.status().message().find("directory") != std::string_view::npos) {
        return Err(422, "invalid", SV(data.status().message()), "path");
      }
      return FromStatus(data.status());
    }
    ApiResponse out{200, std::move(*data), "application/octet-stream"};
    return out;
  }
  if (ctx.req.method == "PUT") {
    if (absl::Status s = runtime_->WriteFile(kind, key, path, ctx.req.body); !s.ok()) {
      return FromStatus(s);
    }
    return {204, ""};
  }
  return Err(405, "method_not_allowed", "use GET or PUT");
}

ApiResponse Api::Hook(const ApiRequest& request, const std::string& token) {
  if (!events_ || !runtime_) return Err(503, "unavailable", "this server runs no workloads");
  WebhookResult res =
      HandleWebhook(store_, *events_, *runtime_,
                    {token, request.remote_address, request.linear_signature, request.body});
  if (res.status >= 400) return Err(res.status, res.error_code, res.message);
  if (wake_) wake_();
  return Json(202, json::object{{"session", res.session}});
}

}  // namespace pai::server
