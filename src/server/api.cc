#include "server/api.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url_view.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "resource/resource.h"
#include "server/api_internal.h"
#include "server/json_access.h"
#include "server/legacy_models.h"
#include "server/runtime.h"

namespace pai::server {
namespace json = boost::json;

std::string ErrorJson(std::string_view code, std::string_view message, std::string_view field) {
  json::object e{{"code", code}, {"message", message}};
  if (!field.empty()) e["field"] = field;
  return json::serialize(json::object{{"error", std::move(e)}});
}

namespace {
using namespace api_internal;  // Json, Err, FromStatus

constexpr const char* kCreatedBy = "pai.io/created-by";
constexpr const char* kLastAppliedBy = "pai.io/last-applied-by";
constexpr int64_t kMaxFileVersions = 100;

// PercentEncode(): a query value or path segment, RFC 3986 unreserved characters kept.
std::string PercentEncode(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

std::string RandomSuffix(size_t n) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  unsigned char b[32];
  RAND_bytes(b, sizeof b);
  for (size_t i = 0; i < n && i < sizeof b; ++i) out.push_back(kAlphabet[b[i] % 36]);
  return out;
}

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool ValidEnvKey(std::string_view k) {
  if (k.empty() || k.size() > 128 || absl::ascii_isdigit(static_cast<unsigned char>(k[0]))) {
    return false;
  }
  // Names the platform sets in workloads, or that change how programs load, are reserved.
  if (absl::StartsWith(AV(k), "PAI_") || absl::StartsWith(AV(k), "LD_") || k == "PATH" ||
      k == "HOME" || k == "OPENAI_BASE_URL" || k == "ANTHROPIC_BASE_URL" || k == "OPENAI_API_KEY" ||
      k == "ANTHROPIC_API_KEY") {
    return false;
  }
  for (char c : k) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

// ValidationResponse(): 422 with the first error's field and every error in `details`.
ApiResponse ValidationResponse(const std::vector<resource::FieldError>& errors) {
  json::array details;
  for (const auto& e : errors)
    details.push_back(json::object{{"field", e.field}, {"message", e.message}});
  json::object err{
      {"code", "invalid"},
      {"message", errors[0].field.empty() ? errors[0].message
                                          : pai::StrCat(errors[0].field, ": ", errors[0].message)},
      {"field", errors[0].field},
      {"details", std::move(details)}};
  return Json(422, json::object{{"error", std::move(err)}});
}

json::object OwnerRef(const Resource& owner) {
  return {{"apiVersion", "pai.io/v1"}, {"kind", owner.kind}, {"name", owner.name},
          {"uid", owner.uid()},        {"controller", true}, {"blockOwnerDeletion", true}};
}

// MoveSecretValues(): a Secret's `data` (base64) and `stringData` move to the server-only
// part; the object keeps their names in `keys`. Status 0 when the values are well-formed.
ApiResponse MoveSecretValues(json::object& doc, std::string* private_data) {
  // Values move to the server-only part; the object keeps their names.
  json::object data;
  if (const json::object* d = Obj(doc, "data")) {
    for (const auto& [key, val] : *d) {
      // resource::Validate() already refused data that is not base64.
      if (!val.is_string()) {
        return Err(422, "invalid", pai::StrCat("data.", key, ": expected base64"),
                   pai::StrCat("data.", key));
      }
      data[key] = val;
    }
  }
  if (const json::object* d = Obj(doc, "stringData")) {
    for (const auto& [key, val] : *d) {
      if (!val.is_string()) {
        return Err(422, "invalid", pai::StrCat("stringData.", key, ": expected a string"),
                   pai::StrCat("stringData.", key));
      }
      data[key] = Base64(val.as_string());  // stringData wins, as in Kubernetes
    }
  }
  json::array keys;
  std::vector<std::string> names;
  for (const auto& [key, val] : data) names.emplace_back(key);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) keys.push_back(json::string(n));
  doc.erase("data");
  doc.erase("stringData");
  doc["keys"] = std::move(keys);
  if (!doc.contains("type")) doc["type"] = "Opaque";
  *private_data = json::serialize(json::object{{"data", std::move(data)}});
  return {0, ""};
}

}  // namespace

Api::Api(Store& store, AccessTokens& access, GatewayAdmin* gateway, GatewayTokens* tokens,
         std::function<void()> wake_controller, ApiOptions options)
    : store_(store),
      access_(access),
      gateway_(gateway),
      tokens_(tokens),
      wake_(std::move(wake_controller)),
      options_(std::move(options)) {}

ApiResponse Api::Handle(const ApiRequest& request) {
  const std::string_view target = request.target;
  const std::string_view path = target.substr(0, target.find('?'));
  Ctx ctx{request, {}, {}, {}};
  // Boost.URL decodes the path segments and the query (`+` is a space there, as in forms).
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return Err(400, "bad_request", "the request target is not a valid URL path");
  for (std::string seg : url->segments()) {
    if (!seg.empty()) ctx.segments.push_back(std::move(seg));
  }
  boost::urls::encoding_opts plus_is_space;
  plus_is_space.space_as_plus = true;
  for (const boost::urls::param& p : url->params(plus_is_space)) ctx.query[p.key] = p.value;
  const auto& s = ctx.segments;
  if (request.method == "GET" && s.size() == 1) {
    if (s[0] == "healthz") return Json(200, json::object{{"status", "ok"}});
    if (s[0] == "readyz") {
      // Ready: the store answers and, when the server has a gateway, the gateway does too.
      if (auto ns = store_.Namespaces(); !ns.ok()) {
        return Err(503, "unavailable", pai::StrCat("store: ", ns.status().message()));
      }
      if (gateway_) {
        if (auto g = gateway_->Get("/readyz"); !g.ok()) {
          return Err(503, "gateway_unavailable", SV(g.status().message()));
        }
      }
      return Json(200, json::object{{"status", "ready"}});
    }
    if (s[0] == "version") {
      return Json(200, json::object{{"version", options_.version}, {"apiVersion", "pai.io/v1"}});
    }
  }
  if (s.size() == 2 && s[0] == "hooks") {
    if (request.method != "POST") return Err(405, "method_not_allowed", "use POST");
    if (request.body.size() > (1u << 20)) {
      return Err(413, "payload_too_large", "a webhook body is at most 1 MiB");
    }
    return Hook(request, s[1]);
  }
  if (s.size() < 3 || s[0] != "apis" || s[1] != "pai.io" || s[2] != "v1") {
    return Err(404, "not_found", pai::StrCat("no route ", path));
  }
  if (request.body.size() > options_.max_body_bytes) {
    return Err(413, "payload_too_large", "request body too large");
  }
  const bool raw_body = s.back() == "files";  // file uploads are bytes, not JSON
  if ((request.method == "POST" || request.method == "PUT") && !request.content_type.empty() &&
      !raw_body) {
    const std::string type = absl::AsciiStrToLower(
        AV(std::string_view(request.content_type).substr(0, request.content_type.find(';'))));
    if (absl::StripAsciiWhitespace(type) != "application/json") {
      return Err(
          400, "bad_request",
          pai::StrCat("Content-Type must be application/json, not \"", request.content_type, "\""));
    }
  }
  const std::string bearer = ParseBearer(request.authorization);
  if (bearer.empty()) {
    return Err(401, "unauthenticated", "missing bearer token (Authorization: Bearer <token>)");
  }
  auto caller = access_.Authenticate(bearer);
  if (absl::IsUnavailable(caller.status())) {
    return Err(503, "unavailable", pai::StrCat("store: ", caller.status().message()));
  }
  if (!caller.ok()) return Err(401, "unauthenticated", SV(caller.status().message()));
  ctx.caller = *caller;
  ctx.segments.erase(ctx.segments.begin(), ctx.segments.begin() + 3);
  return Route(ctx);
}

ApiResponse Api::Route(Ctx& ctx) {
  const auto& s = ctx.segments;
  const std::string& m = ctx.req.method;
  if (s.empty()) return Err(404, "not_found", "no route");
  if (s[0] == "whoami") return WhoAmI(ctx, {s.begin() + 1, s.end()});
  if (s[0] == "paiaccesstokens") {
    if (!ctx.caller.admin()) {
      return Err(403, "forbidden", "access tokens are managed with an admin token");
    }
    return Tokens(ctx, {s.begin() + 1, s.end()});
  }
  if (s[0] == "audit" && s.size() == 2 && s[1] == "verify" && m == "GET") return Verify(ctx);
  if (s[0] == "testing" && s.size() == 2 && s[1] == "clock" && m == "POST" && test_clock_) {
    if (!ctx.caller.admin()) return Err(403, "forbidden", "the test clock needs an admin token");
    boost::system::error_code ec;
    json::value body = json::parse(ctx.req.body, ec);
    const json::value* adv =
        !ec && body.is_object() ? body.as_object().if_contains("advanceSeconds") : nullptr;
    if (!adv || !adv->is_int64() || adv->as_int64() < 0) {
      return Err(400, "bad_request", "body: {\"advanceSeconds\": N} with N >= 0");
    }
    return Json(200, json::object{{"now", test_clock_(adv->as_int64())}});
  }
  if (s[0] == "metrics" && s.size() == 1 && m == "GET") {
    if (!ctx.caller.admin()) {
      return Err(403, "forbidden", "metrics of every namespace need an admin token");
    }
    return Metrics(ctx, "");
  }
  if (s[0] == "namespaces") {
    if (s.size() == 1) {
      if (m != "GET") return Err(405, "method_not_allowed", "namespaces are created by writes");
      if (!ctx.caller.admin()) {
        return Err(403, "forbidden", "listing namespaces needs an admin token");
      }
      auto ns = store_.Namespaces();
      if (!ns.ok()) return FromStatus(ns.status());
      json::array items;
      for (const auto& n : *ns)
        items.push_back(json::object{{"metadata", json::object{{"name", n}}}});
      return Json(200, json::object{{"kind", "NamespaceList"}, {"items", std::move(items)}});
    }
    const std::string& ns = s[1];
    if (!ctx.caller.May(ns)) {
      return Err(403, "forbidden",
                 pai::StrCat("this token is scoped to namespace \"", ctx.caller.ns,
                             "\" and may not access namespace \"", ns, "\""));
    }
    if (s.size() == 3 && s[2] == "metrics" && m == "GET") return Metrics(ctx, ns);
    if (s.size() == 3 && s[2] == "migrate-agents" && m == "POST") return Migrate(ctx, ns);
    if (s.size() == 3) return Collection(ctx, ns, s[2]);
    if (s.size() == 4) return Item(ctx, ns, s[2], s[3]);
    if (s[2] == "agents") return AgentSub(ctx, ns, s[3], {s.begin() + 4, s.end()});
    if (s[2] == "sessions" && s.size() >= 5) {
      return SessionRoutes(ctx, ns, "Session", s[3], {s.begin() + 4, s.end()});
    }
    return Err(404, "not_found", "no such route");
  }
  if (s.size() == 1 && m == "GET") {
    const resource::KindInfo* k = resource::FindKind(s[0]);
    if (!k || k->plural != s[0] || !k->namespaced) return Err(404, "not_found", "no such route");
    if (!ctx.caller.admin()) {
      return Err(403, "forbidden", "listing every namespace needs an admin token");
    }
    return Collection(ctx, "", s[0]);
  }
  return Err(404, "not_found", "no such route");
}

absl::StatusOr<json::object> Api::UsageByAgent() {
  if (!gateway_) return absl::UnavailableError("no gateway");
  // A gateway that did not answer is not asked again for a second: every agent list reads
  // usage, and the API's threads must not all queue on a gateway that is down. Answers are
  // never cached (TOKENS/DAY is read fresh).
  {
    std::lock_guard<std::mutex> lock(usage_mu_);
    if (!usage_failure_.ok() &&
        std::chrono::steady_clock::now() - usage_failed_at_ < std::chrono::seconds(1)) {
      return usage_failure_;
    }
  }
  auto body = gateway_->Get("/usage");
  if (!body.ok()) {
    std::lock_guard<std::mutex> lock(usage_mu_);
    usage_failure_ = body.status();
    usage_failed_at_ = std::chrono::steady_clock::now();
    return body.status();
  }
  boost::system::error_code ec;
  json::value v = json::parse(*body, ec);
  if (ec || !v.is_object()) return absl::UnavailableError("the gateway's /usage is not JSON");
  json::object out;
  if (const json::value* a = v.as_object().if_contains("agents"); a && a->is_array()) {
    for (const json::value& e : a->as_array()) {
      if (!e.is_object()) continue;
      const json::object& o = e.as_object();
      out[pai::StrCat(Str(&o, "namespace"), "/", Str(&o, "agent"))] = o;
    }
  }
  std::lock_guard<std::mutex> lock(usage_mu_);
  usage_failure_ = absl::OkStatus();
  return out;
}

json::object Api::Output(const Resource& r, const json::object* usage) {
  json::object o = r.object;
  if (r.kind == "Agent" && usage) {
    json::value& st = o["status"];
    if (!st.is_object()) st = json::object();
    int64_t tokens = 0;
    if (const json::value* u = usage->if_contains(pai::StrCat(r.ns, "/", r.name));
        u && u->is_object()) {
      if (const json::value* t = u->as_object().if_contains("tokensToday"); t && t->is_int64()) {
        tokens = t->as_int64();
      }
    }
    st.as_object()["tokensToday"] = tokens;
  }
  return o;
}

ApiResponse Api::Collection(Ctx& ctx, const std::string& ns, const std::string& plural) {
  const resource::KindInfo* k = resource::FindKind(plural);
  if (!k || k->plural != plural || !k->namespaced) {
    return Err(404, "not_found", pai::StrCat("unknown resource type \"", plural, "\""));
  }
  const std::string& m = ctx.req.method;
  if (m == "POST") return Write(ctx, ns, plural, "", /*create_only=*/true);
  if (m != "GET") return Err(405, "method_not_allowed", "use GET or POST");
  auto list = store_.List(std::string(k->kind), ns,
                          ns.empty() ? Store::Scope::kAllNamespaces : Store::Scope::kNamespace);
  if (!list.ok()) return FromStatus(list.status());
  std::optional<json::object> usage;
  if (k->kind == "Agent") {
    auto u = UsageByAgent();
    if (u.ok()) usage = std::move(*u);
  }
  const std::string agent_filter = ctx.query.count("agent") ? ctx.query["agent"] : "";
  const std::string phase_filter = ctx.query.count("phase") ? ctx.query["phase"] : "";
  json::array items;
  for (const Resource& r : *list) {
    if (k->kind == "Session") {
      const json::object* spec = Obj(r.object, "spec");
      const json::object* status = Obj(r.object, "status");
      if (!agent_filter.empty() && Str(spec, "agent") != agent_filter) continue;
      if (!phase_filter.empty() &&
          !absl::EqualsIgnoreCase(AV(Str(status, "phase")), AV(phase_filter))) {
        continue;
      }
    }
    items.push_back(Output(r, usage ? &*usage : nullptr));
  }
  return Json(200,
              json::object{{"apiVersion", k->api_version},
                           {"kind", pai::StrCat(k->kind, "List")},
                           {"metadata", {{"resourceVersion", std::to_string(store_.Version())}}},
                           {"items", std::move(items)}});
}

ApiResponse Api::Item(Ctx& ctx, const std::string& ns, const std::string& plural,
                      const std::string& name) {
  const resource::KindInfo* k = resource::FindKind(plural);
  if (!k || k->plural != plural || !k->namespaced) {
    return Err(404, "not_found", pai::StrCat("unknown resource type \"", plural, "\""));
  }
  const std::string& m = ctx.req.method;
  const std::string kind(k->kind);
  if (m == "PUT") return Write(ctx, ns, plural, name, false);
  if (m == "GET") {
    auto r = store_.Get(kind, ns, name);
    if (!r.ok()) return FromStatus(r.status());
    if (kind == "PaiFile" && ctx.query.count("version")) {
      int64_t version = 0;
      if (!absl::SimpleAtoi(ctx.query["version"], &version) || version < 1) {
        return Err(400, "bad_request", "version must be a positive integer");
      }
      auto data = store_.FileVersionData(ns, name, version);
      if (!data.ok()) return FromStatus(data.status());
      json::object out = r->object;
      json::value& spec = out["spec"];
      if (!spec.is_object()) spec = json::object();
      spec.as_object()["data"] = *data;
      json::value& st = out["status"];
      if (!st.is_object()) st = json::object();
      st.as_object()["servedVersion"] = version;
      return Json(200, out);
    }
    std::optional<json::object> usage;
    if (kind == "Agent") {
      auto u = UsageByAgent();
      if (u.ok()) usage = std::move(*u);
    }
    return Json(200, Output(*r, usage ? &*usage : nullptr));
  }
  if (m == "DELETE") {
    auto deleted = store_.Delete(kind, ns, name);
    if (!deleted.ok()) return FromStatus(deleted.status());
    if (wake_) wake_();
    json::array gone;
    for (const Resource& r : *deleted) {
      gone.push_back(json::object{{"kind", r.kind}, {"namespace", r.ns}, {"name", r.name}});
      // Deleted Sessions and Agents stop at once and leave no files behind.
      if (runtime_ && (r.kind == "Session" || r.kind == "Agent")) {
        runtime_->Purge(r.kind, pai::StrCat(r.ns, "/", r.name), r.uid());
      }
    }
    return Json(200,
                json::object{{"kind", "Status"},
                             {"status", "Success"},
                             {"details", {{"kind", kind}, {"name", name}, {"deleted", gone}}}});
  }
  return Err(405, "method_not_allowed", "use GET, PUT or DELETE");
}

ApiResponse Api::Write(Ctx& ctx, const std::string& ns, const std::string& plural,
                       const std::string& url_name, bool create_only) {
  const resource::KindInfo* k = resource::FindKind(plural);
  boost::system::error_code ec;
  json::value body = json::parse(ctx.req.body, ec);
  if (ec || !body.is_object()) {
    return Err(400, "bad_request", "the request body must be a JSON object");
  }
  json::object& doc = body.as_object();
  // kind / apiVersion: filled from the URL when absent, checked when present.
  if (const json::value* kv = doc.if_contains("kind"); kv && !kv->is_string()) {
    return Err(422, "invalid", "kind: expected a string", "kind");
  }
  std::string kind = Str(&doc, "kind");
  if (kind.empty()) kind = std::string(k->kind);
  const resource::KindInfo* dk = resource::FindKind(kind);
  if (!dk || dk->kind != k->kind) {
    return Err(422, "invalid", pai::StrCat("kind: \"", kind, "\" does not belong in ", plural),
               "kind");
  }
  if (!doc.contains("apiVersion")) doc["apiVersion"] = k->api_version;
  if (!doc.contains("kind")) doc["kind"] = kind;
  json::value& meta_v = doc["metadata"];
  if (!meta_v.is_object()) {
    if (!meta_v.is_null()) return Err(422, "invalid", "metadata: expected an object", "metadata");
    meta_v = json::object();
  }
  json::object& meta = meta_v.as_object();
  std::string name = Str(&meta, "name");
  if (!url_name.empty()) {
    if (!name.empty() && name != url_name) {
      return Err(
          422, "invalid",
          pai::StrCat("metadata.name: \"", name, "\" does not match the URL's \"", url_name, "\""),
          "metadata.name");
    }
    name = url_name;
  }
  if (name.empty()) return Err(422, "invalid", "metadata.name: required", "metadata.name");
  meta["name"] = name;
  if (const std::string body_ns = Str(&meta, "namespace"); !body_ns.empty() && body_ns != ns) {
    return Err(
        422, "invalid",
        pai::StrCat("metadata.namespace: \"", body_ns, "\" does not match the URL's \"", ns, "\""),
        "metadata.namespace");
  }
  meta["namespace"] = ns;
  std::optional<int64_t> expected;
  if (const json::value* rv = meta.if_contains("resourceVersion"); rv && !create_only) {
    int64_t v = 0;
    if (rv->is_int64()) {
      expected = rv->as_int64();
    } else if (rv->is_string() && absl::SimpleAtoi(std::string(rv->as_string()), &v)) {
      expected = v;
    } else if (!rv->is_null()) {
      return Err(422, "invalid", "metadata.resourceVersion: expected a number",
                 "metadata.resourceVersion");
    }
  }
  for (const char* owned : {"uid", "generation", "resourceVersion", "creationTimestamp",
                            "managedFields", "deletionTimestamp"}) {
    meta.erase(owned);
  }
  doc.erase("status");
  if (ApiResponse bad = CheckOwnerReferences(meta, ns); bad.status != 0) return bad;

  // Validation: the kind's schema and the cross-field rules; GuardBindings of this namespace
  // are read for the "may only tighten" rule.
  resource::Lookup lookup;
  lookup.guard_binding = [&](std::string_view binding) -> std::optional<json::object> {
    auto b = store_.Get("GuardBinding", ns, std::string(binding));
    if (!b.ok()) return std::nullopt;
    const json::object* spec = Obj(b->object, "spec");
    return spec ? std::optional<json::object>(*spec) : std::optional<json::object>(json::object());
  };
  if (auto errors = resource::Validate(body, lookup); !errors.empty()) {
    return ValidationResponse(errors);
  }

  Resource r;
  r.kind = std::string(k->kind);
  r.ns = ns;
  r.name = name;
  {
    // Who created it: a Session started by a trigger gets the env variables of the token that
    // created its Agent (docs/api.md). Kept across updates; never taken from the body.
    std::string creator = ctx.caller.token_name;
    if (auto existing = store_.Get(r.kind, ns, name); existing.ok()) {
      const json::object* em = Obj(existing->object, "metadata");
      const json::object* ea = em ? Obj(*em, "annotations") : nullptr;
      if (ea && !Str(ea, kCreatedBy).empty()) creator = Str(ea, kCreatedBy);
    }
    json::value& ann = meta["annotations"];
    if (!ann.is_object()) ann = json::object();
    ann.as_object()[kCreatedBy] = creator;
    // Who wrote this spec: a workload gets the env of this token when it is not the creator's
    // (a tenant never runs its spec with another token's variables).
    ann.as_object()[kLastAppliedBy] = ctx.caller.token_name;
  }
  if (kind == "AgentWorkload") {
    // Stored as an Agent with the fields as written (docs/resources.md, "Legacy mapping").
    doc["kind"] = "Agent";
    json::value& ann = meta["annotations"];
    if (!ann.is_object()) ann = json::object();
    ann.as_object()["pai.io/legacy-kind"] = "AgentWorkload";
  }
  if (r.kind == "Secret") {
    if (ApiResponse bad = MoveSecretValues(doc, &r.private_data); bad.status != 0) return bad;
  }
  if (r.kind == "Session") {
    const std::string agent = Str(Obj(doc, "spec"), "agent");
    auto owner = store_.Get("Agent", ns, agent);
    if (!owner.ok()) {
      return Err(422, "invalid", pai::StrCat("spec.agent: Agent \"", agent, "\" not found"),
                 "spec.agent");
    }
    meta["ownerReferences"] = json::array{OwnerRef(*owner)};
    if (auto existing = store_.Get("Session", ns, name); existing.ok() && !create_only) {
      const json::object* old_spec = Obj(existing->object, "spec");
      const json::object* new_spec = Obj(doc, "spec");
      if (!old_spec || !new_spec || *old_spec != *new_spec) {
        return Err(422, "invalid", "spec: a Session is immutable once created", "spec");
      }
    }
  }
  // Each change of a PaiFile's spec.data is a new version; every version stays readable
  // (GET ...?version=N) for Agents that pin one (spec.files[].version).
  const std::string file_data = r.kind == "PaiFile" ? Str(Obj(doc, "spec"), "data") : "";
  if (r.kind == "PaiFile") {
    if (auto vs = store_.FileVersions(ns, name); vs.ok() && vs->size() >= kMaxFileVersions) {
      return Err(422, "invalid",
                 pai::StrCat("spec.data: PaiFile \"", name, "\" keeps ", kMaxFileVersions,
                             " versions at most; delete it and create it again"),
                 "spec.data");
    }
  }
  r.object = std::move(doc);
  PutResult stored;
  if (create_only) {
    auto created = store_.Create(std::move(r));
    if (!created.ok()) return FromStatus(created.status());
    stored = {std::move(*created), true};
  } else {
    auto put = store_.Put(std::move(r), expected);
    if (!put.ok()) return FromStatus(put.status());
    stored = std::move(*put);
  }
  if (stored.resource.kind == "PaiFile") {
    auto v = store_.AppendFileVersion(ns, name, file_data, kMaxFileVersions);
    if (!v.ok()) return FromStatus(v.status());
  }
  if (wake_) wake_();
  return Json(stored.created ? 201 : 200, Output(stored.resource, nullptr));
}

// CheckOwnerReferences(): every ownerReference must name an existing object of the same
// namespace by kind, name and uid (cascading deletion never crosses namespaces, and a tenant
// cannot attach its objects to another's). Returns status 0 when they all do.
ApiResponse Api::CheckOwnerReferences(const json::object& meta, const std::string& ns) {
  const json::value* refs = meta.if_contains("ownerReferences");
  if (!refs || refs->is_null()) return {0, ""};
  if (!refs->is_array()) {
    return Err(422, "invalid", "metadata.ownerReferences: expected a list",
               "metadata.ownerReferences");
  }
  for (size_t i = 0; i < refs->as_array().size(); ++i) {
    const json::value& ref = refs->as_array()[i];
    const std::string field = pai::StrCat("metadata.ownerReferences[", i, "]");
    const json::object* o = ref.is_object() ? &ref.as_object() : nullptr;
    const resource::KindInfo* k = resource::FindKind(Str(o, "kind"));
    auto owner = k ? store_.Get(std::string(k->kind), ns, Str(o, "name"))
                   : absl::StatusOr<Resource>(absl::NotFoundError(""));
    if (!owner.ok() || owner->uid() != Str(o, "uid")) {
      return Err(422, "invalid",
                 pai::StrCat(field, ": no ", Str(o, "kind"), " \"", Str(o, "name"),
                             "\" with that uid in namespace ", ns),
                 field);
    }
  }
  return {0, ""};
}

ApiResponse Api::AgentSub(Ctx& ctx, const std::string& ns, const std::string& agent,
                          const std::vector<std::string>& rest) {
  const std::string& m = ctx.req.method;
  if (rest.size() == 1 && rest[0] == "sessions") {
    if (m == "POST") return CreateSession(ctx, ns, agent);
    if (m != "GET") return Err(405, "method_not_allowed", "use GET or POST");
    ctx.query["agent"] = agent;
    return Collection(ctx, ns, "sessions");
  }
  if (rest.size() == 1 && rest[0] == "audit" && m == "GET") return Audit(ctx, ns, agent);
  if (rest.size() == 1 && (rest[0] == "logs" || rest[0] == "exec" || rest[0] == "files")) {
    return SessionRoutes(ctx, ns, "Agent", agent, rest);
  }
  if (!rest.empty() && rest[0] == "gatewaytokens") {
    return GatewayTokenRoutes(ctx, ns, agent, {rest.begin() + 1, rest.end()});
  }
  return Err(404, "not_found", "no such route");
}

ApiResponse Api::CreateSession(Ctx& ctx, const std::string& ns, const std::string& agent) {
  auto owner = store_.Get("Agent", ns, agent);
  if (!owner.ok()) return FromStatus(owner.status());
  boost::system::error_code ec;
  json::value body =
      ctx.req.body.empty() ? json::value(json::object()) : json::parse(ctx.req.body, ec);
  if (ec || !body.is_object()) {
    return Err(400, "bad_request", "the request body must be a JSON object");
  }
  json::object& doc = body.as_object();
  json::value& spec = doc["spec"];
  if (!spec.is_object()) spec = json::object();
  spec.as_object()["agent"] = agent;
  json::value& meta = doc["metadata"];
  if (!meta.is_object()) meta = json::object();
  if (Str(&meta.as_object(), "name").empty()) {
    meta.as_object()["name"] = pai::StrCat(agent.substr(0, 56), "-", RandomSuffix(5));
  }
  doc["apiVersion"] = "pai.io/v1";
  doc["kind"] = "Session";
  ApiRequest inner = ctx.req;
  inner.body = json::serialize(doc);
  Ctx ictx{inner, ctx.segments, ctx.query, ctx.caller};
  return Write(ictx, ns, "sessions", "", /*create_only=*/true);
}

ApiResponse Api::Audit(Ctx& ctx, const std::string& ns, const std::string& agent) {
  if (!gateway_) return Err(503, "gateway_unavailable", "no gateway is configured");
  std::string target = pai::StrCat("/audit?agent=", PercentEncode(pai::StrCat(ns, "/", agent)));
  const std::string limit = ctx.query.count("limit") ? ctx.query["limit"] : "50";
  if (int64_t n = 0; !absl::SimpleAtoi(limit, &n) || n < 1 || n > 100000) {
    return Err(400, "bad_request", "limit must be an integer in 1..100000");
  }
  if (ctx.query.count("since") && !ctx.query["since"].empty()) {
    absl::Duration d;
    absl::Time t;
    std::string err;
    if (!absl::ParseDuration(ctx.query["since"], &d) &&
        !absl::ParseTime(absl::RFC3339_full, ctx.query["since"], &t, &err)) {
      return Err(400, "bad_request", "since must be a duration (1h, 24h) or an RFC 3339 time");
    }
  }
  pai::StrAppend(&target, "&limit=", PercentEncode(limit));
  for (const char* p : {"since", "type"}) {
    if (ctx.query.count(p) && !ctx.query[p].empty()) {
      pai::StrAppend(&target, "&", p, "=", PercentEncode(ctx.query[p]));
    }
  }
  auto body = gateway_->Get(target);
  if (!body.ok()) return FromStatus(body.status());
  return {200, *body};
}

ApiResponse Api::Verify(Ctx& ctx) {
  if (!gateway_) return Err(503, "gateway_unavailable", "no gateway is configured");
  auto body = gateway_->Get("/audit/verify");
  if (!body.ok()) return FromStatus(body.status());
  boost::system::error_code ec;
  json::value v = json::parse(*body, ec);
  if (ec || !v.is_object()) return Err(502, "gateway_unavailable", "bad answer from the gateway");
  json::object& o = v.as_object();
  o["scope"] = "gateway";
  if (!ctx.caller.admin()) {
    // The platform-wide chain holds every tenant's records: only admins see where it broke.
    o.erase("first_bad_seq");
    o.erase("reason");
  }
  return Json(200, o);
}

ApiResponse Api::Metrics(Ctx& ctx, const std::string& ns) {
  (void)ctx;
  auto usage = UsageByAgent();
  if (!usage.ok()) return FromStatus(usage.status());
  // The gateway's answer is read defensively: a missing member is 0, never an exception.
  const auto num = [](const json::object* o, const char* key) -> json::value {
    const json::value* v = o ? o->if_contains(key) : nullptr;
    return v && v->is_number() ? *v : json::value(0);
  };
  json::array items, agents;
  for (const auto& [key, v] : *usage) {
    const json::object* a = v.is_object() ? &v.as_object() : nullptr;
    if (!a || (!ns.empty() && Str(a, "namespace") != ns)) continue;
    agents.push_back(json::object{{"namespace", Str(a, "namespace")},
                                  {"agent", Str(a, "agent")},
                                  {"tokensToday", num(a, "tokensToday")},
                                  {"costTodayUSD", num(a, "costTodayUSD")}});
    const json::value* ms = a->if_contains("models");
    for (const json::value& mv : ms && ms->is_array() ? ms->as_array() : json::array()) {
      const json::object* mo = mv.is_object() ? &mv.as_object() : nullptr;
      if (!mo) continue;
      items.push_back(json::object{{"namespace", Str(a, "namespace")},
                                   {"agent", Str(a, "agent")},
                                   {"model", Str(mo, "model")},
                                   {"requests", num(mo, "calls")},
                                   {"inputTokens", num(mo, "inputTokens")},
                                   {"outputTokens", num(mo, "outputTokens")},
                                   {"costUSD", num(mo, "costUSD")}});
    }
  }
  return Json(200, json::object{{"items", std::move(items)}, {"agents", std::move(agents)}});
}

ApiResponse Api::Migrate(Ctx& ctx, const std::string& ns) {
  const bool dry =
      ctx.query.count("dryRun") &&
      (ctx.query["dryRun"] == "true" || ctx.query["dryRun"] == "1" || ctx.query["dryRun"] == "All");
  auto agents = store_.List("Agent", ns, Store::Scope::kNamespace);
  if (!agents.ok()) return FromStatus(agents.status());
  auto providers = store_.List("ModelProvider", ns, Store::Scope::kNamespace);
  if (!providers.ok()) return FromStatus(providers.status());
  const resource::ModelAliasResolver resolve = MakeModelResolver(*providers);
  json::array items;
  for (Resource& r : *agents) {
    if (!resource::IsLegacy(r.object)) continue;
    resource::LegacyMapping mapping = resource::MapLegacy(r.object, resolve);
    json::array changes, unresolved;
    for (const auto& n : mapping.notes) changes.push_back(json::string(n));
    for (const auto& u : mapping.unresolved) unresolved.push_back(json::string(u));
    json::value session_name = nullptr;
    if (mapping.session_spec) session_name = r.name;
    if (!dry) {
      Resource next = r;
      next.object["kind"] = "Agent";
      next.object["spec"] = mapping.spec;
      if (json::value* meta = next.object.if_contains("metadata"); meta && meta->is_object()) {
        if (json::value* ann = meta->as_object().if_contains("annotations");
            ann && ann->is_object()) {
          ann->as_object().erase("pai.io/legacy-kind");
        }
      }
      auto put = store_.Put(std::move(next), r.resource_version());
      if (!put.ok()) return FromStatus(put.status());
      if (mapping.session_spec) {
        const std::string owner_name = Str(&*mapping.session_spec, "agent");
        auto owner = store_.Get("Agent", ns, owner_name.empty() ? r.name : owner_name);
        const Resource& own = owner.ok() ? *owner : put->resource;
        Resource session;
        session.kind = "Session";
        session.ns = ns;
        session.name = r.name;
        json::object sspec = *mapping.session_spec;
        sspec["agent"] = own.name;
        session.object = {{"apiVersion", "pai.io/v1"},
                          {"kind", "Session"},
                          {"metadata",
                           {{"name", r.name},
                            {"namespace", ns},
                            {"ownerReferences", json::array{OwnerRef(own)}}}},
                          {"spec", std::move(sspec)}};
        auto created = store_.Create(std::move(session));
        if (!created.ok() && !absl::IsAlreadyExists(created.status())) {
          return FromStatus(created.status());
        }
      }
    }
    items.push_back(json::object{{"name", r.name},
                                 {"changes", std::move(changes)},
                                 {"session", session_name},
                                 {"unresolved", std::move(unresolved)}});
  }
  if (!dry && wake_) wake_();
  return Json(200, json::object{{"dryRun", dry}, {"items", std::move(items)}});
}

ApiResponse Api::GatewayTokenRoutes(Ctx& ctx, const std::string& ns, const std::string& agent,
                                    const std::vector<std::string>& rest) {
  if (!ctx.caller.admin()) {
    return Err(403, "forbidden", "gateway identities are minted with an admin token");
  }
  if (!tokens_) return Err(503, "gateway_unavailable", "no gateway is configured");
  const std::string& m = ctx.req.method;
  const std::string key = pai::StrCat(ns, "/", agent);
  if (rest.empty() && m == "POST") {
    auto owner = store_.Get("Agent", ns, agent);
    if (!owner.ok()) return FromStatus(owner.status());
    auto minted = tokens_->Mint(key, "");
    if (!minted.ok()) return FromStatus(minted.status());
    GatewayIdentity id{minted->first, ns, agent, owner->uid(), "external", "", NowRfc3339(), ""};
    if (absl::Status s = store_.AddIdentity(id); !s.ok()) return FromStatus(s);
    return Json(201, json::object{{"id", minted->first},
                                  {"token", minted->second},
                                  {"agent", key},
                                  {"created", id.created}});
  }
  auto ids = store_.Identities();
  if (!ids.ok()) return FromStatus(ids.status());
  if (rest.empty() && m == "GET") {
    json::array items;
    for (const GatewayIdentity& id : *ids) {
      if (id.ns != ns || id.agent != agent) continue;
      items.push_back(json::object{
          {"id", id.id},
          {"agent", key},
          {"purpose", id.purpose},
          {"created", id.created},
          {"revoked", id.revoked.empty() ? json::value(nullptr) : json::value(id.revoked)}});
    }
    return Json(200, json::object{{"items", std::move(items)}});
  }
  if (rest.size() == 1 && m == "DELETE") {
    for (const GatewayIdentity& id : *ids) {
      if (id.id != rest[0] || id.ns != ns || id.agent != agent) continue;
      if (absl::Status s = tokens_->Revoke(id.id); !s.ok() && !absl::IsNotFound(s)) {
        return FromStatus(s);
      }
      const std::string when = id.revoked.empty() ? NowRfc3339() : id.revoked;
      if (absl::Status s = store_.MarkIdentityRevoked(id.id, when); !s.ok()) return FromStatus(s);
      return Json(200, json::object{{"id", id.id}, {"agent", key}, {"revoked", when}});
    }
    return Err(404, "not_found", pai::StrCat("no gateway token \"", rest[0], "\" for ", key));
  }
  return Err(405, "method_not_allowed", "use POST, GET or DELETE");
}

ApiResponse Api::Tokens(Ctx& ctx, const std::vector<std::string>& rest) {
  const std::string& m = ctx.req.method;
  if (rest.empty() && m == "GET") {
    auto list = store_.List("PaiAccessToken", "", Store::Scope::kNamespace);
    if (!list.ok()) return FromStatus(list.status());
    json::array items;
    for (const Resource& r : *list) {
      // Users' env values are theirs (they may hold credentials): names only.
      json::object o = r.object;
      if (json::value* spec = o.if_contains("spec"); spec && spec->is_object()) {
        if (json::value* env = spec->as_object().if_contains("env"); env && env->is_object()) {
          json::array names;
          for (const auto& [k, v] : env->as_object()) names.push_back(json::string(k));
          spec->as_object().erase("env");
          spec->as_object()["envKeys"] = std::move(names);
        }
      }
      items.push_back(std::move(o));
    }
    return Json(200, json::object{{"apiVersion", "pai.io/v1"},
                                  {"kind", "PaiAccessTokenList"},
                                  {"items", std::move(items)}});
  }
  if (rest.empty() && m == "POST") {
    boost::system::error_code ec;
    json::value body = json::parse(ctx.req.body, ec);
    if (ec || !body.is_object()) {
      return Err(400, "bad_request", "the request body must be a JSON object");
    }
    const json::object* spec = Obj(body.as_object(), "spec");
    if (!spec) return Err(422, "invalid", "spec: required", "spec");
    const std::string target = Str(spec, "targetNamespace");
    if (target.empty()) {
      return Err(422, "invalid", "spec.targetNamespace: required", "spec.targetNamespace");
    }
    auto minted = access_.Create(target, Str(spec, "description"), Str(spec, "expiresAt"));
    if (!minted.ok()) {
      const std::string msg(minted.status().message());
      return Err(422, "invalid", msg, msg.substr(0, msg.find(':')));
    }
    json::object out = minted->resource.object;
    out["token"] = minted->token;
    return Json(201, out);
  }
  if (rest.size() == 1 && (m == "GET" || m == "DELETE")) {
    if (m == "DELETE") {
      if (absl::Status s = access_.Revoke(rest[0]); !s.ok()) return FromStatus(s);
    }
    auto r = store_.Get("PaiAccessToken", "", rest[0]);
    if (!r.ok()) return FromStatus(r.status());
    return Json(200, r->object);
  }
  return Err(405, "method_not_allowed", "use GET, POST or DELETE");
}

ApiResponse Api::WhoAmI(Ctx& ctx, const std::vector<std::string>& rest) {
  auto r = store_.Get("PaiAccessToken", "", ctx.caller.token_name);
  if (!r.ok()) return FromStatus(r.status());
  json::object spec;
  if (const json::object* s = Obj(r->object, "spec")) spec = *s;
  json::object env;
  if (const json::object* e = Obj(spec, "env")) env = *e;
  const std::string& m = ctx.req.method;
  if (rest.empty() && m == "GET") {
    return Json(200, json::object{{"name", ctx.caller.token_name},
                                  {"namespace", ctx.caller.ns},
                                  {"admin", ctx.caller.admin()},
                                  {"env", env}});
  }
  if (rest.size() == 2 && rest[0] == "env" && (m == "PUT" || m == "DELETE")) {
    const std::string& key = rest[1];
    if (!ValidEnvKey(key)) {
      return Err(422, "invalid", pai::StrCat("env: \"", key, "\" is not a valid variable name"),
                 "env");
    }
    if (m == "PUT") {
      boost::system::error_code ec;
      json::value body = json::parse(ctx.req.body, ec);
      const json::value* value =
          !ec && body.is_object() ? body.as_object().if_contains("value") : nullptr;
      if (!value || !value->is_string()) {
        return Err(400, "bad_request", "body must be {\"value\": \"...\"}");
      }
      env[key] = *value;
    } else if (!env.erase(key)) {
      return Err(404, "not_found", pai::StrCat("env variable ", key, " is not set"));
    }
    spec["env"] = env;
    Resource next = *r;
    next.object["spec"] = spec;
    auto put = store_.Put(std::move(next), std::nullopt);
    if (!put.ok()) return FromStatus(put.status());
    return Json(200, json::object{{"env", env}});
  }
  return Err(404, "not_found", "no such route");
}

}  // namespace pai::server
