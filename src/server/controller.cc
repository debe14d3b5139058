#include "server/controller.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "auth/token_store.h"
#include "common/log.h"
#include "common/strings.h"
#include "config/manifest.h"
#include "resource/resource.h"
#include "server/json_access.h"
#include "server/legacy_models.h"

namespace pai::server {
namespace json = boost::json;
namespace {

const json::object* Spec(const Resource& r) { return Obj(&r.object, "spec"); }

std::string Key(const Resource& r) { return pai::StrCat(r.ns, "/", r.name); }

// SecretValue(): the base64 value of `key` in the Secret, or "" when absent.
std::string SecretValue(const Resource& secret, const std::string& key) {
  boost::system::error_code ec;
  json::value v = json::parse(secret.private_data, ec);
  if (ec || !v.is_object()) return "";
  const json::object* data = Obj(&v.as_object(), "data");
  return Str(data, key.c_str());
}

// Checked(): whether `docs` (JSON documents) form a configuration the gateway accepts.
absl::Status Checked(const std::vector<std::string>& docs) {
  std::string text;
  for (const auto& d : docs) pai::StrAppend(&text, "---\n", d, "\n");
  return config::ParseManifests({{"(render)", text}}, config::ProcessEnvironment()).status();
}

struct Snapshot {
  std::map<std::string, Resource> secrets, providers, bindings, agents, model_providers;
  std::map<std::string, std::vector<Resource>> providers_by_ns;  // ModelProviders per namespace
  std::set<std::string> skills, files;                           // "ns/name"
  std::map<std::string, int64_t> file_versions;                  // PaiFile "ns/name" -> newest
  std::set<std::string> admin_tokens;                            // names of "*" tokens
};

absl::StatusOr<Snapshot> Load(Store& store) {
  Snapshot s;
  auto load = [&](const char* kind, std::map<std::string, Resource>* into) -> absl::Status {
    auto list = store.List(kind, "", Store::Scope::kAllNamespaces);
    if (!list.ok()) return list.status();
    for (Resource& r : *list) into->emplace(Key(r), std::move(r));
    return absl::OkStatus();
  };
  std::map<std::string, Resource> skills, files;
  for (auto [kind, into] :
       std::initializer_list<std::pair<const char*, std::map<std::string, Resource>*>>{
           {"Secret", &s.secrets},
           {"ModelProvider", &s.model_providers},
           {"Provider", &s.providers},
           {"GuardBinding", &s.bindings},
           {"Agent", &s.agents},
           {"Skill", &skills},
           {"PaiFile", &files}}) {
    if (absl::Status st = load(kind, into); !st.ok()) return st;
  }
  for (const auto& [k, r] : s.model_providers) s.providers_by_ns[r.ns].push_back(r);
  auto tokens = store.List("PaiAccessToken", "", Store::Scope::kNamespace);
  if (!tokens.ok()) return tokens.status();
  for (const Resource& t : *tokens) {
    if (Str(Obj(&t.object, "spec"), "targetNamespace") == "*") s.admin_tokens.insert(t.name);
  }
  for (const auto& [k, r] : skills) s.skills.insert(k);
  for (const auto& [k, r] : files) {
    s.files.insert(k);
    auto vs = store.FileVersions(r.ns, r.name);
    s.file_versions[k] = vs.ok() && !vs->empty() ? vs->back().version : 0;
  }
  return s;
}

// EffectiveSpec(): the Agent's spec with legacy fields mapped (the same table as apply and
// migrate-agents), and the names that did not resolve.
json::object EffectiveSpec(const Snapshot& s, const Resource& agent,
                           std::vector<std::string>* unresolved) {
  if (!resource::IsLegacy(agent.object)) {
    const json::object* spec = Spec(agent);
    return spec ? *spec : json::object();
  }
  static const std::vector<Resource> kNone;
  auto it = s.providers_by_ns.find(agent.ns);
  auto mapping = resource::MapLegacy(
      agent.object, MakeModelResolver(it == s.providers_by_ns.end() ? kNone : it->second));
  if (unresolved) *unresolved = mapping.unresolved;
  return mapping.spec;
}

// KeyRef: the Secret value a resource's key reference needs.
struct KeyRef {
  std::string secret;  // "" when the resource has no apiKeySecretRef
  std::string key;
  std::string value;  // base64, as stored
};

// PlatformAuthored(): true when every token that wrote `r` (pai.io/created-by,
// pai.io/last-applied-by) is an admin token; resources the server seeded carry neither.
bool PlatformAuthored(const Snapshot& s, const Resource& r) {
  const json::object* ann = Obj(Obj(&r.object, "metadata"), "annotations");
  for (const char* a : {"pai.io/created-by", "pai.io/last-applied-by"}) {
    const std::string who = Str(ann, a);
    if (!who.empty() && !s.admin_tokens.contains(who)) return false;
  }
  return true;
}

// ResolveKeyRef(): resolves a resource's key reference (apiKeySecretRef / apiKeyEnv in
// `holder`), or says why it cannot be served.
absl::StatusOr<KeyRef> ResolveKeyRef(const Snapshot& s, const Resource& r, json::object* holder) {
  if (const json::object* ref = Obj(holder, "apiKeySecretRef")) {
    KeyRef out{Str(ref, "name"), Str(ref, "key"), ""};
    if (out.key.empty()) out.key = "api-key";  // the default of apiKeySecretRef.key
    // A reference never leaves the resource's namespace (a tenant cannot borrow a key).
    auto it = s.secrets.find(pai::StrCat(r.ns, "/", out.secret));
    if (it == s.secrets.end()) {
      return absl::NotFoundError(pai::StrCat("Secret \"", out.secret, "\" not found"));
    }
    out.value = SecretValue(it->second, out.key);
    if (out.value.empty()) {
      return absl::NotFoundError(
          pai::StrCat("Secret \"", out.secret, "\" has no key \"", out.key, "\""));
    }
    json::object copy = *ref;
    copy.erase("namespace");
    (*holder)["apiKeySecretRef"] = copy;
    return out;
  }
  // apiKeyEnv reads pai-server's (the operator's) environment: only for resources of namespace
  // "default" that admin tokens alone have written.
  if (!Str(holder, "apiKeyEnv").empty() && (r.ns != "default" || !PlatformAuthored(s, r))) {
    return absl::PermissionDeniedError(
        "apiKeyEnv reads the platform's environment and is honoured only in namespace "
        "\"default\" on resources written by admin tokens; use apiKeySecretRef");
  }
  return KeyRef{};
}

std::string SecretDoc(const std::string& ns, const std::string& name, const json::object& data) {
  return json::serialize(json::object{{"apiVersion", "v1"},
                                      {"kind", "Secret"},
                                      {"metadata", {{"name", name}, {"namespace", ns}}},
                                      {"data", data}});
}

std::string Doc(const std::string& kind, const Resource& r, json::object spec) {
  return json::serialize(json::object{{"apiVersion", "pai.io/v1"},
                                      {"kind", kind},
                                      {"metadata", {{"name", r.name}, {"namespace", r.ns}}},
                                      {"spec", std::move(spec)}});
}

// Served pieces of a namespace.
struct NsDocs {
  std::map<std::string, json::object> secrets;  // name -> the keys referenced (one document)
  std::vector<std::string> docs;                // ModelProviders and GuardBindings
  std::vector<std::pair<std::string, std::string>> agents;  // "Agent/ns/name", document
  std::vector<std::string> members;           // "Kind/ns/name" of the served providers/bindings
  std::set<std::string> providers, bindings;  // names
  std::map<std::string, std::string> binding_enforcement;

  // Served(): the Secrets, ModelProviders and GuardBindings; All(): and the Agents.
  std::vector<std::string> Served() const {
    std::vector<std::string> out;
    for (const auto& [name, data] : secrets) out.push_back(SecretDoc(ns, name, data));
    out.insert(out.end(), docs.begin(), docs.end());
    return out;
  }
  std::vector<std::string> All() const {
    std::vector<std::string> out = Served();
    for (const auto& agent : agents) out.push_back(agent.second);
    return out;
  }
  std::string ns;
};

// RenderKeyed(): adds to `n` a ModelProvider or GuardBinding (`r` with `spec`) and the Secret
// key its reference needs (the reference sits in spec, or in spec.<holder>), when the pair is
// one the gateway accepts; otherwise records why in `notes` and returns false.
bool RenderKeyed(const Snapshot& s, const Resource& r, json::object& spec, const char* holder,
                 NsDocs* n, std::map<std::string, std::string>* notes) {
  json::object nested;
  if (*holder && Obj(&spec, holder)) nested = *Obj(&spec, holder);
  json::object* refs = *holder ? &nested : &spec;
  const std::string key = pai::StrCat(r.kind, "/", r.ns, "/", r.name);
  auto ref = ResolveKeyRef(s, r, refs);
  if (!ref.ok()) {
    (*notes)[key] = std::string(ref.status().message());
    return false;
  }
  if (*holder) spec[holder] = std::move(nested);
  std::vector<std::string> mine;
  if (!ref->secret.empty()) {
    mine.push_back(SecretDoc(r.ns, ref->secret, json::object{{ref->key, ref->value}}));
  }
  mine.push_back(Doc(r.kind, r, spec));
  if (absl::Status st = Checked(mine); !st.ok()) {
    (*notes)[key] = std::string(st.message());
    return false;
  }
  // One Secret document per name however many resources use it (the gateway refuses
  // duplicates).
  if (!ref->secret.empty()) n->secrets[ref->secret][ref->key] = ref->value;
  n->docs.push_back(mine.back());
  n->members.push_back(key);
  return true;
}

const char* const kBuiltinTools[] = {"bash", "read",      "write",      "edit",       "glob",
                                     "grep", "web_fetch", "web_search", "send_email", "screenshot"};

std::string ToolSummary(const json::object& spec) {
  const json::array* tools = Arr(&spec, "tools");
  if (!tools) return absl::StrJoin(std::begin(kBuiltinTools), std::end(kBuiltinTools), ",");
  std::vector<std::string> names;
  for (const json::value& t : *tools) {
    if (!t.is_object()) continue;
    const json::object& o = t.as_object();
    if (const json::value* en = o.if_contains("enabled"); en && en->is_bool() && !en->as_bool()) {
      continue;
    }
    const std::string type = Str(&o, "type");
    names.push_back(type == "custom" ? Str(&o, "name") : type);
  }
  return absl::StrJoin(names, ",");
}

}  // namespace

namespace {
Rendered Render(const Snapshot& s);
}  // namespace

Rendered RenderGatewayConfig(Store& store) {
  auto snap = Load(store);
  if (!snap.ok()) {
    Rendered out;
    out.notes["*"] = std::string(snap.status().message());
    return out;
  }
  return Render(*snap);
}

namespace {

// Render(): the gateway's manifests for one snapshot of the store.
Rendered Render(const Snapshot& s) {
  Rendered out;
  std::vector<std::string> docs;
  // Never empty (the gateway refuses an empty configuration as a half-written file): a marker.
  docs.push_back(
      R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"pai-platform","namespace":"pai-system"},"stringData":{"rendered-by":"pai-server"}})");
  std::map<std::string, NsDocs> by_ns;
  auto ns_docs = [&](const std::string& ns) -> NsDocs& {
    NsDocs& n = by_ns[ns];
    n.ns = ns;
    return n;
  };
  for (const auto& [k, r] : s.model_providers) {
    json::object spec = Spec(r) ? *Spec(r) : json::object();
    if (RenderKeyed(s, r, spec, "", &ns_docs(r.ns), &out.notes)) {
      by_ns[r.ns].providers.insert(r.name);
    }
  }
  for (const auto& [k, r] : s.bindings) {
    json::object spec = Spec(r) ? *Spec(r) : json::object();
    if (RenderKeyed(s, r, spec, "classifier", &ns_docs(r.ns), &out.notes)) {
      by_ns[r.ns].bindings.insert(r.name);
      by_ns[r.ns].binding_enforcement[r.name] = Str(&spec, "enforcement");
    }
  }
  for (const auto& [k, r] : s.agents) {
    const json::object spec = EffectiveSpec(s, r, nullptr);
    NsDocs& n = ns_docs(r.ns);
    json::array models;
    std::vector<std::string> dropped;
    if (const json::array* ms = Arr(&spec, "models")) {
      for (const json::value& m : *ms) {
        if (!m.is_string()) continue;
        const std::string ref(m.as_string());
        const std::string prov = ref.substr(0, ref.find('/'));
        if (ref.find('/') != std::string::npos && n.providers.contains(prov)) {
          models.push_back(m);
        } else {
          dropped.push_back(ref);
        }
      }
    }
    if (!dropped.empty()) {
      out.notes["Agent/" + k] = pai::StrCat("models not served: ", absl::StrJoin(dropped, ", "));
    }
    if (models.empty()) {
      out.notes["Agent/" + k] = "not served by the gateway: no model resolves to a ModelProvider";
      continue;
    }
    json::object gspec{{"models", std::move(models)}};
    for (const char* f : {"tokens", "rateLimits"}) {
      if (const json::object* o = Obj(&spec, f)) gspec[f] = *o;
    }
    bool served = true;
    if (const json::array* guards = Arr(&spec, "guards")) {
      json::array gs;
      for (const json::value& g : *guards) {
        if (!g.is_object()) continue;
        json::object go = g.as_object();
        const std::string b = Str(&go, "binding");
        if (!n.bindings.contains(b)) {
          // Fail closed: an Agent is never served without a guard it asks for.
          out.notes["Agent/" + k] =
              pai::StrCat("not served by the gateway: GuardBinding \"", b, "\" is not available");
          served = false;
          break;
        }
        if (Str(&go, "enforcement") == "audit" && n.binding_enforcement[b] == "enforce") {
          go.erase("enforcement");  // the binding became stricter: its enforce applies
        }
        gs.push_back(std::move(go));
      }
      gspec["guards"] = std::move(gs);
    }
    if (!served) continue;
    n.agents.emplace_back("Agent/" + k, Doc("Agent", r, gspec));
  }
  // Namespaces are checked one by one: one tenant's configuration the gateway would refuse
  // never holds back the others' (it is left out, and its resources say why). A namespace is
  // parsed once when it is accepted; Agents are checked one by one only when it is not.
  for (auto& [ns, n] : by_ns) {
    if (!Checked(n.All()).ok()) {
      std::vector<std::pair<std::string, std::string>> accepted;
      for (auto& agent : n.agents) {
        std::vector<std::string> alone = n.Served();
        alone.push_back(agent.second);
        if (absl::Status st = Checked(alone); !st.ok()) {
          out.notes[agent.first] = pai::StrCat("not served by the gateway: ", st.message());
        } else {
          accepted.push_back(std::move(agent));
        }
      }
      n.agents = std::move(accepted);
    }
    std::vector<std::string> mine = n.All();
    if (absl::Status st = Checked(mine); !st.ok()) {
      for (const std::string& m : n.members) {
        out.notes[m] =
            pai::StrCat("namespace configuration refused by the gateway: ", st.message());
      }
      for (const auto& agent : n.agents) {
        out.notes[agent.first] =
            pai::StrCat("namespace configuration refused by the gateway: ", st.message());
      }
      continue;
    }
    docs.insert(docs.end(), mine.begin(), mine.end());
  }
  std::string text = "# Rendered by pai-server: do not edit (rewritten on every change).\n";
  for (const auto& d : docs) pai::StrAppend(&text, "---\n", d, "\n");
  out.text = std::move(text);
  return out;
}

}  // namespace

absl::StatusOr<std::pair<std::string, std::string>> FileGatewayTokens::Mint(
    const std::string& agent, const std::string& session) {
  auto m = auth::MintToken(dir_, agent, session);
  if (!m.ok()) return m.status();
  return std::make_pair(m->id, m->token);
}

absl::Status FileGatewayTokens::Revoke(const std::string& id) {
  return auth::RevokeToken(dir_, id);
}

Controller::Controller(Store& store, Runtime& runtime, GatewayTokens& tokens,
                       ControllerOptions options)
    : store_(store), runtime_(runtime), tokens_(tokens), options_(std::move(options)) {}

Controller::~Controller() { Stop(); }

bool Controller::WakeAndWait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(pass_mu_);
  // A pass that starts after this point sees everything done before the call.
  const int64_t target = passes_started_ + 1;
  Wake();
  return pass_cv_.wait_for(lock, timeout, [&] { return passes_done_ >= target; });
}

absl::Time Controller::Now() const { return options_.clock ? options_.clock->Now() : absl::Now(); }

void Controller::Start() {
  started_.store(true);
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      const int64_t seen = store_.Version();
      const int64_t woken = wakes_.load();
      {
        std::lock_guard<std::mutex> lock(pass_mu_);
        ++passes_started_;
      }
      if (absl::Status s = ReconcileOnce(); !s.ok()) {
        log::Error("reconcile failed", {{"error", std::string(s.message())}});
      }
      {
        std::lock_guard<std::mutex> lock(pass_mu_);
        ++passes_done_;
      }
      pass_cv_.notify_all();
      // A pass that wrote statuses moved the version: the next pass starts at once and, having
      // nothing to change, writes nothing. Otherwise wait for a change or the resync period.
      // In slices, so that Stop() is not held up by a quiet store.
      const auto deadline = std::chrono::steady_clock::now() + options_.resync;
      while (!stop_.load() && std::chrono::steady_clock::now() < deadline &&
             wakes_.load() == woken &&
             store_.WaitForChange(seen, std::chrono::milliseconds(50)) == seen) {
      }
    }
  });
}

void Controller::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

namespace {

absl::Status WriteFileAtomic(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const std::string tmp = path + ".tmp";
  {
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) return absl::InternalError(pai::StrCat("cannot write ", tmp));
    ::fchmod(fileno(f), 0600);  // it carries provider keys
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() &&
                    std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
    std::fclose(f);
    if (!ok) return absl::InternalError(pai::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(pai::StrCat("cannot rename ", tmp));
  }
  return absl::OkStatus();
}

void SetStatus(Store& store, const Resource& r, json::object status) {
  const json::value* old = r.object.if_contains("status");
  // Fields other writers own (runtime phases of the next issue) are kept.
  if (old && old->is_object()) {
    for (const auto& [k, v] : old->as_object()) {
      if (!status.contains(k)) status[k] = v;
    }
    if (old->as_object() == status) return;
  }
  if (absl::Status s = store.UpdateStatus(r.kind, r.ns, r.name, r.uid(), status);
      !s.ok() && !absl::IsNotFound(s) && !absl::IsAborted(s)) {
    log::Warn("status update failed", {{"resource", Key(r)}, {"error", std::string(s.message())}});
  }
}

std::string Unbase64(const std::string& b64) {
  std::string out;
  return absl::Base64Unescape(b64, &out) ? out : std::string();
}

// WorkloadInputs(): the Agent's env (secretRef values resolved, then the creator's variables
// where the Agent does not set them) and files (skills, PaiFile versions, configFiles).
void WorkloadInputs(Store& store, const Snapshot& s, const Resource& r, const json::object& spec,
                    AgentInfo& info) {
  if (const json::array* env = Arr(&spec, "env")) {
    for (const json::value& e : *env) {
      if (!e.is_object()) continue;
      const std::string name = Str(&e.as_object(), "name");
      if (name.empty()) continue;
      if (const json::object* ref = Obj(&e.as_object(), "secretRef")) {
        auto sec = s.secrets.find(pai::StrCat(r.ns, "/", Str(ref, "name")));
        if (sec == s.secrets.end()) continue;
        const std::string key = Str(ref, "key").empty() ? "api-key" : Str(ref, "key");
        info.env[name] = Unbase64(SecretValue(sec->second, key));
      } else {
        info.env[name] = Str(&e.as_object(), "value");
      }
    }
  }
  if (const json::array* skills = Arr(&spec, "skills")) {
    for (const json::value& x : *skills) {
      const std::string name = x.is_object() ? Str(&x.as_object(), "name") : "";
      if (name.empty()) continue;
      std::string mount = Str(&x.as_object(), "mountPath");
      if (mount.empty()) mount = "/skills";
      auto skill = store.Get("Skill", r.ns, name);
      if (!skill.ok()) continue;
      if (const json::array* files = Arr(Spec(*skill), "files")) {
        for (const json::value& f : *files) {
          if (!f.is_object()) continue;
          info.files.push_back({pai::StrCat(mount, "/", name, "/", Str(&f.as_object(), "path")),
                                Unbase64(Str(&f.as_object(), "data")), true, false});
        }
      }
    }
  }
  if (const json::array* files = Arr(&spec, "files")) {
    for (const json::value& x : *files) {
      if (!x.is_object()) continue;
      const json::object& f = x.as_object();
      const std::string name = Str(&f, "name");
      int64_t version = 0;
      if (const json::value* pin = f.if_contains("version")) {
        if (pin->is_int64()) version = pin->as_int64();
        if (pin->is_string()) (void)absl::SimpleAtoi(std::string(pin->as_string()), &version);
      }
      if (version <= 0) {
        auto fv = s.file_versions.find(pai::StrCat(r.ns, "/", name));
        if (fv == s.file_versions.end()) continue;
        version = fv->second;
      }
      auto data = store.FileVersionData(r.ns, name, version);
      if (!data.ok()) continue;
      std::string mount = Str(&f, "mountPath");
      if (mount.empty()) mount = pai::StrCat("/files/", name);
      const json::value* ro = f.if_contains("readOnly");
      info.files.push_back({mount, Unbase64(*data), ro && ro->is_bool() && ro->as_bool(), false});
    }
  }
  if (const json::array* cfs = Arr(&spec, "configFiles")) {
    for (const json::value& x : *cfs) {
      if (!x.is_object()) continue;
      info.files.push_back(
          {Str(&x.as_object(), "path"), Str(&x.as_object(), "content"), false, true});
    }
  }
}

}  // namespace

// CreatorEnv(): the `pai config set-env` variables of the token that created `r` (its
// pai.io/created-by annotation), as they are now: the runtime snapshots them at start.
std::map<std::string, std::string> CreatorEnv(Store& store, const Resource& r) {
  std::map<std::string, std::string> env;
  const json::object* meta = Obj(&r.object, "metadata");
  // The token that wrote the spec when it is not the creator: its own env, never the creator's.
  std::string creator = Str(Obj(meta, "annotations"), "pai.io/last-applied-by");
  if (creator.empty()) creator = Str(Obj(meta, "annotations"), "pai.io/created-by");
  if (creator.empty()) return env;
  auto token = store.Get("PaiAccessToken", "", creator);
  if (!token.ok()) return env;
  if (const json::object* e = Obj(Obj(&token->object, "spec"), "env")) {
    for (const auto& [k, v] : *e) {
      if (v.is_string()) env[std::string(k)] = std::string(v.as_string());
    }
  }
  return env;
}

absl::Status Controller::ReconcileOnce() {
  // 1. The gateway's configuration.
  // One snapshot of the store for the whole pass.
  auto snap = Load(store_);
  if (!snap.ok()) return snap.status();
  const Snapshot& s = *snap;
  Rendered rendered = Render(s);
  if (!rendered.text.empty() && rendered.text != last_render_) {
    if (absl::Status s = Checked({rendered.text}); !s.ok()) {
      log::Error("rendered gateway configuration rejected; keeping the previous one",
                 {{"error", std::string(s.message())}});
      rendered.notes["*"] =
          pai::StrCat("the gateway configuration could not be updated: ", s.message());
    } else if (absl::Status w = WriteFileAtomic(options_.gateway_config_path, rendered.text);
               !w.ok()) {
      return w;
    } else {
      last_render_ = rendered.text;
      log::Info("gateway configuration written", {{"path", options_.gateway_config_path}});
    }
  }

  // 2. Gateway identities: one per Agent (uid), revoked when the Agent is gone.
  auto ids = store_.Identities();
  if (!ids.ok()) return ids.status();
  std::map<std::string, std::string> agent_token;  // "ns/name" -> plaintext
  for (const GatewayIdentity& id : *ids) {
    if (!id.revoked.empty()) continue;
    if (id.purpose.rfind("session:", 0) == 0) continue;  // a Session's: ReconcileSessions()
    auto it = s.agents.find(pai::StrCat(id.ns, "/", id.agent));
    if (it == s.agents.end() || it->second.uid() != id.agent_uid) {
      if (absl::Status r = tokens_.Revoke(id.id); !r.ok() && !absl::IsNotFound(r)) {
        log::Warn("cannot revoke gateway token",
                  {{"id", id.id}, {"error", std::string(r.message())}});
        continue;
      }
      (void)store_.MarkIdentityRevoked(id.id, NowRfc3339());
      log::Info("gateway identity revoked",
                {{"agent", pai::StrCat(id.ns, "/", id.agent)}, {"id", id.id}});
      continue;
    }
    if (id.purpose == "agent") agent_token[it->first] = id.token;
  }
  for (const auto& [k, r] : s.agents) {
    if (agent_token.contains(k)) continue;
    auto minted = tokens_.Mint(k, "");
    if (!minted.ok()) return minted.status();
    GatewayIdentity id{minted->first, r.ns,           r.name,       r.uid(),
                       "agent",       minted->second, NowRfc3339(), ""};
    if (absl::Status st = store_.AddIdentity(id); !st.ok()) return st;
    agent_token[k] = minted->second;
  }

  // 3. Status.
  // ModelProviders and GuardBindings are ready when the gateway serves them.
  for (const auto* kind : {&s.model_providers, &s.bindings}) {
    for (const auto& [k, r] : *kind) {
      auto note = rendered.notes.find(pai::StrCat(r.kind, "/", k));
      const bool served = note == rendered.notes.end();
      SetStatus(store_, r,
                {{"ready", served},
                 {"observedGeneration", r.generation()},
                 {"message", served ? "" : note->second}});
    }
  }
  for (const auto& [k, r] : s.providers) {
    const std::string secret =
        Str(Spec(r), "secretRef").empty() ? Str(Spec(r), "secretToken") : Str(Spec(r), "secretRef");
    const bool ok = secret.empty() || s.secrets.contains(pai::StrCat(r.ns, "/", secret));
    SetStatus(store_, r,
              {{"ready", ok},
               {"observedGeneration", r.generation()},
               {"message", ok ? "" : pai::StrCat("Secret \"", secret, "\" not found")}});
  }
  std::map<std::string, AgentInfo> infos;
  std::map<std::string, json::object> statuses;
  for (const auto& [k, r] : s.agents) {
    std::vector<std::string> unresolved;
    const json::object spec = EffectiveSpec(s, r, &unresolved);
    std::vector<std::string> missing;
    for (const auto& u : unresolved) {
      missing.push_back(pai::StrCat("modelBindings \"", u, "\" does not resolve to a model"));
    }
    std::set<std::string> mps;
    if (const json::array* ms = Arr(&spec, "models")) {
      for (const json::value& m : *ms) {
        if (!m.is_string()) continue;
        const std::string ref(m.as_string());
        mps.insert(ref.substr(0, ref.find('/')));
      }
    }
    for (const auto& mp : mps) {
      const std::string key = pai::StrCat(r.ns, "/", mp);
      if (!s.model_providers.contains(key)) {
        missing.push_back(pai::StrCat("ModelProvider \"", mp, "\" not found"));
      } else if (auto n = rendered.notes.find("ModelProvider/" + key); n != rendered.notes.end()) {
        missing.push_back(pai::StrCat("ModelProvider \"", mp, "\" not ready: ", n->second));
      }
    }
    if (const json::array* ps = Arr(&spec, "providers")) {
      for (const json::value& p : *ps) {
        const std::string name = p.is_string()   ? std::string(p.as_string())
                                 : p.is_object() ? Str(&p.as_object(), "name")
                                                 : "";
        if (!name.empty() && !s.providers.contains(pai::StrCat(r.ns, "/", name))) {
          missing.push_back(pai::StrCat("Provider \"", name, "\" not found"));
        }
      }
    }
    if (const json::array* gs = Arr(&spec, "guards")) {
      for (const json::value& g : *gs) {
        const std::string b = g.is_object() ? Str(&g.as_object(), "binding") : "";
        if (!b.empty() && !s.bindings.contains(pai::StrCat(r.ns, "/", b))) {
          missing.push_back(pai::StrCat("GuardBinding \"", b, "\" not found"));
        }
      }
    }
    if (const json::array* env = Arr(&spec, "env")) {
      for (const json::value& e : *env) {
        const json::object* ref = e.is_object() ? Obj(&e.as_object(), "secretRef") : nullptr;
        if (!ref) continue;
        auto sec = s.secrets.find(pai::StrCat(r.ns, "/", Str(ref, "name")));
        if (sec == s.secrets.end()) {
          missing.push_back(pai::StrCat("Secret \"", Str(ref, "name"), "\" not found"));
        } else if (SecretValue(sec->second, Str(ref, "key").empty() ? "api-key" : Str(ref, "key"))
                       .empty()) {
          missing.push_back(pai::StrCat("Secret \"", Str(ref, "name"), "\" has no key \"",
                                        Str(ref, "key"), "\""));
        }
      }
    }
    for (auto [field, set, kind] :
         {std::tuple{"skills", &s.skills, "Skill"}, std::tuple{"files", &s.files, "PaiFile"}}) {
      if (const json::array* xs = Arr(&spec, field)) {
        for (const json::value& x : *xs) {
          const std::string name = x.is_object() ? Str(&x.as_object(), "name") : "";
          if (!name.empty() && !set->contains(pai::StrCat(r.ns, "/", name))) {
            missing.push_back(pai::StrCat(kind, " \"", name, "\" not found"));
            continue;
          }
          // A pinned PaiFile version must exist.
          const json::value* pin = x.is_object() ? x.as_object().if_contains("version") : nullptr;
          int64_t want = 0;
          if (pin && pin->is_int64()) want = pin->as_int64();
          if (pin && pin->is_string()) (void)absl::SimpleAtoi(std::string(pin->as_string()), &want);
          auto fv = s.file_versions.find(pai::StrCat(r.ns, "/", name));
          if (want > 0 && (fv == s.file_versions.end() || want > fv->second)) {
            missing.push_back(pai::StrCat("PaiFile \"", name, "\" has no version ", want));
          }
        }
      }
    }
    if (auto all = rendered.notes.find("*"); all != rendered.notes.end()) {
      missing.push_back(all->second);  // what the gateway serves is not what the store says
    }
    std::string message = absl::StrJoin(missing, "; ");
    if (auto n = rendered.notes.find("Agent/" + k); n != rendered.notes.end()) {
      message = message.empty() ? n->second : pai::StrCat(message, "; ", n->second);
    }
    if (resource::IsLegacy(r.object)) {
      message = message.empty()
                    ? "legacy fields in use: run pai migrate-agents"
                    : pai::StrCat(message, "; legacy fields in use: run pai migrate-agents");
    }
    json::object st{{"ready", missing.empty() && !rendered.notes.contains("Agent/" + k)},
                    {"message", message},
                    {"observedGeneration", r.generation()},
                    {"toolSummary", ToolSummary(spec)}};
    AgentInfo info;
    info.agent = r;
    info.spec = spec;
    info.ready = st["ready"].as_bool();
    info.message = message;
    info.token = agent_token[k];
    WorkloadInputs(store_, s, r, spec, info);
    const json::value* lr = spec.if_contains("longRunning");
    if (lr && lr->is_bool() && lr->as_bool()) {
      if (info.ready) {
        Workload w;
        w.kind = "Agent";
        w.ns = r.ns;
        w.name = r.name;
        w.uid = r.uid();
        w.agent = r.name;
        w.spec = spec;
        w.gateway_url = options_.gateway_url;
        w.gateway_token = agent_token[k];
        w.env = CreatorEnv(store_, r);  // the Agent's own env[] wins over its creator's
        for (const auto& [k, v] : info.env) w.env[k] = v;
        w.files = info.files;
        (void)runtime_.Start(w);
      }
      WorkloadStatus ws = runtime_.Status("Agent", k);
      st["phase"] = info.ready ? ws.phase : "Pending";
      if (!ws.message.empty() && st["ready"].as_bool()) st["message"] = ws.message;
      if (ws.replicas_running > 0) st["readyReplicas"] = ws.replicas_running;
    }
    statuses[k] = std::move(st);
    infos.emplace(k, std::move(info));
  }
  ReconcileTriggers(infos, statuses);
  for (auto& [k, st] : statuses) SetStatus(store_, s.agents.at(k), std::move(st));
  // Long-running Agents that are gone (or no longer long-running) stop.
  for (const std::string& key : runtime_.Keys()) {
    if (key.rfind("Agent/", 0) != 0) continue;
    auto it = infos.find(key.substr(6));
    const json::value* lr =
        it == infos.end() ? nullptr : it->second.spec.if_contains("longRunning");
    if (!lr || !lr->is_bool() || !lr->as_bool()) (void)runtime_.Stop("Agent", key.substr(6));
  }
  if (started_.load()) {
    if (absl::Status st = ReconcileSessions(infos); !st.ok()) return st;
  }
  for (const char* kind : {"Skill", "PaiFile"}) {
    auto list = store_.List(kind, "", Store::Scope::kAllNamespaces);
    if (!list.ok()) return list.status();
    for (const Resource& r : *list) {
      json::object st{{"observedGeneration", r.generation()}};
      if (std::string(kind) == "PaiFile") {
        json::array versions;
        auto vs = store_.FileVersions(r.ns, r.name);
        for (const FileVersion& v : vs.ok() ? *vs : std::vector<FileVersion>{}) {
          versions.push_back(json::object{{"version", v.version},
                                          {"sha256", v.sha256},
                                          {"size", v.size},
                                          {"createdAt", v.created}});
        }
        st["currentVersion"] = versions.empty() ? 0 : versions.back().as_object().at("version");
        st["versions"] = std::move(versions);
      } else {
        const json::array* files = Arr(Spec(r), "files");
        st["files"] = files ? static_cast<int64_t>(files->size()) : 0;
      }
      SetStatus(store_, r, std::move(st));
    }
  }
  return absl::OkStatus();
}

}  // namespace pai::server
