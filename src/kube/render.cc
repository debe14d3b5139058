#include "kube/render.h"

#include <boost/json.hpp>
#include <set>

#include "absl/strings/escaping.h"
#include "common/strings.h"
#include "server/json_access.h"
#include "simdjson.h"

namespace pai::kube {
namespace {

namespace json = boost::json;
using server::Arr;
using server::Int;
using server::Obj;
using server::Str;
using server::Workload;

constexpr int64_t kDefaultUser = 65532;
constexpr const char* kIdentityDir = "/var/run/secrets/pai";
constexpr const char* kFilesDir = "/var/run/pai-files";

absl::Status Invalid(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(pai::StrCat(field, ": ", why));
}

json::object Labels(const Workload& w) {
  json::object l{{"app.kubernetes.io/name", "pai-agent"},
                 {"app.kubernetes.io/managed-by", "pai"},
                 {"pai.io/agent", w.kind == "Session" ? w.agent : w.name}};
  if (w.kind == "Session") l["pai.io/session"] = w.name;
  if (!w.uid.empty()) l["pai.io/uid"] = w.uid;  // the Pai resource's uid (a label value: <= 63)
  return l;
}

json::object SelectorLabels(const Workload& w) {
  json::object l{{"pai.io/agent", w.kind == "Session" ? w.agent : w.name}};
  if (w.kind == "Session") l["pai.io/session"] = w.name;
  return l;
}

json::object FromMap(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

// Metadata(): name, namespace, labels and the ownerReference: the controller reference to the
// Pai resource, or RenderOptions::owner (which the identity Secret itself does not carry; it is
// owned by the Pai resource with identity_owned_by_resource).
json::object Metadata(const Workload& w, const RenderOptions& o, const std::string& name) {
  json::object meta{{"name", name}, {"namespace", w.ns}, {"labels", Labels(w)}};
  const bool identity = name == BaseName(w) + "-identity";
  if (!o.owner || (identity && o.identity_owned_by_resource)) {
    meta["ownerReferences"] = json::array{json::object{{"apiVersion", "pai.io/v1"},
                                                       {"kind", w.kind},
                                                       {"name", w.name},
                                                       {"uid", w.uid},
                                                       {"controller", true},
                                                       {"blockOwnerDeletion", true}}};
  } else if (!identity) {
    meta["ownerReferences"] = json::array{json::object{{"apiVersion", o.owner->api_version},
                                                       {"kind", o.owner->kind},
                                                       {"name", o.owner->name},
                                                       {"uid", o.owner->uid}}};
  }
  return meta;
}

// Under(): `path` is `dir` or inside it.
bool Under(std::string_view path, std::string_view dir) {
  if (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  return path == dir ||
         (path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/');
}

// Quoted(): `s` as one single-quoted shell word.
std::string Quoted(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Volume: one `spec.volumes` entry.
struct Volume {
  std::string name, mount, size, claim;
};

absl::StatusOr<std::vector<Volume>> Volumes(const Workload& w, const std::string& base) {
  std::vector<Volume> out;
  if (const json::array* vs = Arr(&w.spec, "volumes")) {
    for (size_t i = 0; i < vs->size(); ++i) {
      const json::object* v = (*vs)[i].if_object();
      const std::string at = pai::StrCat("spec.volumes[", i, "]");
      Volume vol{Str(v, "name"), Str(v, "mountPath"), Str(v, "size"), ""};
      if (vol.name.empty()) return Invalid(at + ".name", "required");
      if (vol.mount.empty() || vol.mount[0] != '/')
        return Invalid(at + ".mountPath", "absolute path required");
      if (const json::value* s = v->if_contains("size"); s && s->is_int64()) {
        vol.size = std::to_string(s->as_int64());
      }
      if (vol.size.empty()) vol.size = "1Gi";
      vol.claim = pai::StrCat(base, "-", vol.name);
      out.push_back(std::move(vol));
    }
  }
  return out;
}

// Env(): the container's environment: the Agent's env (secretRef → secretKeyRef), the creator's
// variables, then what Pai owns (never overridden).
json::array Env(const Workload& w, const RenderOptions& o, const std::string& identity) {
  json::array env;
  std::set<std::string> named;
  // add(): a variable; a later one of the same name replaces the earlier (Pai's own last).
  auto add = [&](const std::string& name, json::value v, bool value_from) {
    json::object entry{{"name", name}, {value_from ? "valueFrom" : "value", std::move(v)}};
    if (named.insert(name).second) {
      env.push_back(std::move(entry));
      return;
    }
    for (json::value& e : env) {
      if (e.as_object()["name"] == name.c_str()) {
        e = std::move(entry);
        break;
      }
    }
  };
  if (const json::array* spec_env = Arr(&w.spec, "env")) {
    for (const json::value& x : *spec_env) {
      const json::object* e = x.if_object();
      const std::string name = Str(e, "name");
      if (name.empty()) continue;
      if (const json::object* ref = Obj(e, "secretRef")) {
        const json::object key_ref =
            o.secrets_in_identity
                ? json::object{{"name", identity}, {"key", "env." + name}}
                : json::object{{"name", Str(ref, "name")}, {"key", Str(ref, "key")}};
        add(name, json::object{{"secretKeyRef", key_ref}}, true);
      } else {
        add(name, json::value(Str(e, "value")), false);
      }
    }
  }
  for (const auto& [k, v] : w.env) {
    if (!named.count(k)) add(k, json::value(v), false);  // the creator's `pai config set-env`
  }
  const std::string gw = o.gateway_url;
  add("OPENAI_BASE_URL", json::value(pai::StrCat(gw, "/v1")), false);
  add("PAI_GATEWAY_URL", json::value(gw), false);
  add("OPENAI_API_KEY",
      json::object{{"secretKeyRef", json::object{{"name", identity}, {"key", "token"}}}}, true);
  if (!o.egress_proxy_url.empty()) {
    for (const char* k : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"}) {
      add(k, json::value(o.egress_proxy_url), false);
    }
    std::string host = gw;
    if (const size_t p = host.find("://"); p != std::string::npos) host = host.substr(p + 3);
    if (const size_t p = host.find_first_of(":/"); p != std::string::npos) host.resize(p);
    for (const char* k : {"NO_PROXY", "no_proxy"}) add(k, json::value(host), false);
  }
  if (o.auth_grace_ms > 0)
    add("PAI_AUTH_GRACE_MS", json::value(std::to_string(o.auth_grace_ms)), false);
  add("HOME", json::value("/workspace"), false);
  add("PAI_NAMESPACE", json::value(w.ns), false);
  add("PAI_AGENT", json::value(w.kind == "Session" ? w.agent : w.name), false);
  if (w.kind == "Session") add("PAI_SESSION", json::value(w.name), false);
  return env;
}

json::object Resources(const Workload& w) {
  json::object out;
  const json::object* r = Obj(&w.spec, "resources");
  for (const char* part : {"requests", "limits"}) {
    json::object q;
    if (const json::object* p = Obj(r, part)) {
      for (const char* k : {"cpu", "memory"}) {
        const json::value* v = p->if_contains(k);
        if (v && v->is_string()) q[k] = v->as_string();
        if (v && (v->is_int64() || v->is_double())) q[k] = json::serialize(*v);
      }
    }
    if (!q.empty()) out[part] = std::move(q);
  }
  return out;
}

json::object NetworkPolicy(const Workload& w, const RenderOptions& o, const std::string& base) {
  json::array egress;
  egress.push_back(json::object{
      {"to", json::array{json::object{
                 {"namespaceSelector",
                  json::object{{"matchLabels", json::object{{"kubernetes.io/metadata.name",
                                                             o.gateway_namespace}}}}},
                 {"podSelector", json::object{{"matchLabels", FromMap(o.gateway_pod_labels)}}}}}},
      {"ports", json::array{json::object{{"protocol", "TCP"}, {"port", 4000}}}}});
  if (!o.egress_proxy_url.empty()) {
    egress.push_back(json::object{
        {"to",
         json::array{json::object{
             {"namespaceSelector",
              json::object{{"matchLabels",
                            json::object{{"kubernetes.io/metadata.name", o.gateway_namespace}}}}},
             {"podSelector", json::object{{"matchLabels", FromMap(o.egress_proxy_pod_labels)}}}}}},
        {"ports", json::array{json::object{{"protocol", "TCP"}, {"port", o.egress_proxy_port}}}}});
  }
  egress.push_back(json::object{
      {"to",
       json::array{json::object{
           {"namespaceSelector",
            json::object{
                {"matchLabels", json::object{{"kubernetes.io/metadata.name", "kube-system"}}}}},
           {"podSelector", json::object{{"matchLabels", json::object{{"k8s-app", "kube-dns"}}}}}}}},
      {"ports", json::array{json::object{{"protocol", "UDP"}, {"port", 53}},
                            json::object{{"protocol", "TCP"}, {"port", 53}}}}});
  json::array ingress;
  const json::object* inbound = Obj(&w.spec, "inbound");
  const int64_t port = Int(inbound, "port", 0);
  if (port > 0) {
    json::array from;
    if (const json::array* cidrs = Arr(inbound, "allowCIDRs")) {
      for (const json::value& c : *cidrs) {
        if (c.is_string()) from.push_back(json::object{{"ipBlock", json::object{{"cidr", c}}}});
      }
    }
    if (!from.empty()) {
      ingress.push_back(
          json::object{{"from", std::move(from)},
                       {"ports", json::array{json::object{{"protocol", "TCP"}, {"port", port}}}}});
    }
  }
  json::object spec{{"podSelector", json::object{{"matchLabels", SelectorLabels(w)}}},
                    {"policyTypes", json::array{"Ingress", "Egress"}},
                    {"egress", std::move(egress)}};
  if (!ingress.empty()) spec["ingress"] = std::move(ingress);  // none: all ingress denied
  return json::object{{"apiVersion", "networking.k8s.io/v1"},
                      {"kind", "NetworkPolicy"},
                      {"metadata", Metadata(w, o, base)},
                      {"spec", std::move(spec)}};
}

}  // namespace

std::string BaseName(const Workload& w) {
  return pai::StrCat(w.kind == "Session" ? "session-" : "agent-", w.name);
}

absl::StatusOr<std::vector<json::value>> RenderWorkload(const Workload& w, const RenderOptions& o) {
  if (w.kind != "Agent" && w.kind != "Session") {
    return absl::InvalidArgumentError(pai::StrCat("kind ", w.kind, " has no workload"));
  }
  const std::string base = BaseName(w);
  const std::string identity = base + "-identity";
  const int64_t uid = Int(&w.spec, "runAsUser", kDefaultUser);
  if (uid <= 0) return Invalid("spec.runAsUser", "0 (root) is refused");
  auto volumes = Volumes(w, base);
  if (!volumes.ok()) return volumes.status();

  std::vector<json::value> out;
  // The gateway identity.
  json::object identity_data{{"token", w.gateway_token}};
  if (o.secrets_in_identity) {
    if (const json::array* spec_env = Arr(&w.spec, "env")) {
      for (const json::value& x : *spec_env) {
        const std::string name = Str(x.if_object(), "name");
        auto value = w.env.find(name);
        if (Obj(x.if_object(), "secretRef") && value != w.env.end()) {
          identity_data["env." + name] = value->second;
        }
      }
    }
  }
  out.push_back(json::object{{"apiVersion", "v1"},
                             {"kind", "Secret"},
                             {"metadata", Metadata(w, o, identity)},
                             {"type", "Opaque"},
                             {"stringData", std::move(identity_data)}});
  for (const Volume& v : *volumes) {
    out.push_back(json::object{
        {"apiVersion", "v1"},
        {"kind", "PersistentVolumeClaim"},
        {"metadata", Metadata(w, o, v.claim)},
        {"spec", json::object{{"accessModes", json::array{"ReadWriteOnce"}},
                              {"resources",
                               json::object{{"requests", json::object{{"storage", v.size}}}}}}}});
  }

  // Files: in one ConfigMap; seeded by the init container or mounted from it.
  json::object data, binary;
  json::array mounts{
      json::object{{"name", "identity"}, {"mountPath", kIdentityDir}, {"readOnly", true}},
      json::object{{"name", "tmp"}, {"mountPath", "/tmp"}}};
  json::array pod_volumes{
      json::object{{"name", "identity"},
                   {"projected",
                    json::object{{"defaultMode", 0440},
                                 {"sources", json::array{json::object{
                                                 {"secret", json::object{{"name", identity}}}}}}}}},
      json::object{{"name", "tmp"}, {"emptyDir", json::object{}}}};
  bool workspace_volume = false;
  for (const Volume& v : *volumes) {
    mounts.push_back(json::object{{"name", "vol-" + v.name}, {"mountPath", v.mount}});
    pod_volumes.push_back(
        json::object{{"name", "vol-" + v.name},
                     {"persistentVolumeClaim", json::object{{"claimName", v.claim}}}});
    workspace_volume = workspace_volume || v.mount == "/workspace";
  }
  if (!workspace_volume) {
    mounts.push_back(json::object{{"name", "workspace"}, {"mountPath", "/workspace"}});
    pod_volumes.push_back(json::object{{"name", "workspace"}, {"emptyDir", json::object{}}});
  }
  if (const json::array* writable = Arr(Obj(&w.spec, "filesystem"), "writablePaths")) {
    for (size_t i = 0; i < writable->size(); ++i) {
      if (!(*writable)[i].is_string()) continue;
      const std::string name = pai::StrCat("writable-", i);
      mounts.push_back(json::object{{"name", name}, {"mountPath", (*writable)[i]}});
      pod_volumes.push_back(json::object{{"name", name}, {"emptyDir", json::object{}}});
    }
  }
  std::vector<server::WorkloadFile> files = w.files;
  if (w.kind == "Session") {
    files.push_back({"/run/pai/session.json", json::serialize(w.session), true, false});
  }
  std::string seed_script;
  json::array seed_mounts{
      json::object{{"name", "files"}, {"mountPath", kFilesDir}, {"readOnly", true}}};
  std::set<std::string> seeded_volumes;
  for (size_t i = 0; i < files.size(); ++i) {
    const server::WorkloadFile& f = files[i];
    if (f.path.empty() || f.path[0] != '/') {
      return Invalid(pai::StrCat("file ", f.path), "absolute path required");
    }
    const std::string key = pai::StrCat("f", i);
    // ConfigMap `data` holds UTF-8 text; anything else goes to `binaryData` (base64).
    if (simdjson::validate_utf8(f.content.data(), f.content.size())) {
      data[key] = f.content;
    } else {
      binary[key] = absl::Base64Escape(f.content);
    }
    const Volume* in = nullptr;
    for (const Volume& v : *volumes) {
      if (Under(f.path, v.mount)) in = &v;
    }
    if (f.no_clobber && in) {
      // Written once: an edit the agent makes survives restarts.
      const std::string dir = f.path.substr(0, f.path.rfind('/'));
      pai::StrAppend(&seed_script, "[ -e ", Quoted(f.path), " ] || { mkdir -p ", Quoted(dir),
                     " && cp ", kFilesDir, "/", key, " ", Quoted(f.path), "; }\n");
      if (seeded_volumes.insert(in->name).second) {
        seed_mounts.push_back(json::object{{"name", "vol-" + in->name}, {"mountPath", in->mount}});
      }
    } else {
      // A ConfigMap volume is read-only whatever the mount says: say so.
      mounts.push_back(json::object{
          {"name", "files"}, {"mountPath", f.path}, {"subPath", key}, {"readOnly", true}});
    }
  }
  if (!files.empty()) {
    json::object cm{
        {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", Metadata(w, o, base + "-files")}};
    if (!data.empty()) cm["data"] = std::move(data);
    if (!binary.empty()) cm["binaryData"] = std::move(binary);
    out.push_back(std::move(cm));
    pod_volumes.push_back(
        json::object{{"name", "files"}, {"configMap", json::object{{"name", base + "-files"}}}});
  }

  json::object container_security{{"allowPrivilegeEscalation", false},
                                  {"readOnlyRootFilesystem", true},
                                  {"capabilities", json::object{{"drop", json::array{"ALL"}}}}};
  const std::string image = Str(&w.spec, "image");
  json::object container{{"name", "agent"},
                         {"image", image.empty() ? o.pai_image : image},
                         {"env", Env(w, o, identity)},
                         {"volumeMounts", std::move(mounts)},
                         {"securityContext", container_security},
                         {"workingDir", "/workspace"}};
  if (const json::array* cmd = Arr(&w.spec, "command"); cmd && !cmd->empty()) {
    container["command"] = *cmd;
  } else if (image.empty()) {
    // No control socket in a pod: the harness's events go to stdout, which the runtime reads.
    container["command"] = json::array{"pai-harness", "--events-fd", "1"};
  }
  if (json::object res = Resources(w); !res.empty()) container["resources"] = std::move(res);
  const int64_t port = Int(Obj(&w.spec, "inbound"), "port", 0);
  if (port > 0) {
    container["ports"] = json::array{json::object{{"name", "inbound"}, {"containerPort", port}}};
  }
  json::object pod{{"automountServiceAccountToken", false},
                   {"enableServiceLinks", false},
                   {"securityContext",
                    json::object{{"runAsUser", uid},
                                 {"runAsGroup", uid},
                                 {"runAsNonRoot", true},
                                 {"fsGroup", uid},
                                 {"seccompProfile", json::object{{"type", "RuntimeDefault"}}}}},
                   {"containers", json::array{std::move(container)}},
                   {"volumes", std::move(pod_volumes)}};
  if (!seed_script.empty()) {
    pod["initContainers"] = json::array{
        json::object{{"name", "seed-files"},
                     {"image", o.pai_image},
                     {"command", json::array{"/bin/sh", "-c", "set -e\n" + seed_script}},
                     {"volumeMounts", std::move(seed_mounts)},
                     {"securityContext", container_security}}};
  }
  json::object pod_meta{{"labels", Labels(w)}};

  if (w.kind == "Session") {
    pod["restartPolicy"] = "Never";
    json::object job_spec{
        {"backoffLimit", 0},
        {"template", json::object{{"metadata", std::move(pod_meta)}, {"spec", std::move(pod)}}}};
    // The seeds' ttlSecondsAfterFinished keeps the Session record; 0 there means forever,
    // which a Job expresses by leaving the field unset (0 would delete it at once).
    const int64_t ttl = Int(&w.spec, "ttlSecondsAfterFinished", 0);
    if (ttl > 0) job_spec["ttlSecondsAfterFinished"] = ttl;
    out.push_back(json::object{{"apiVersion", "batch/v1"},
                               {"kind", "Job"},
                               {"metadata", Metadata(w, o, base)},
                               {"spec", std::move(job_spec)}});
  } else {
    int64_t replicas = Int(&w.spec, "replicas", 1);
    if (const json::object* as = Obj(&w.spec, "autoscaling")) {
      replicas = Int(as, "minReplicas", replicas);
    }
    out.push_back(json::object{
        {"apiVersion", "apps/v1"},
        {"kind", "Deployment"},
        {"metadata", Metadata(w, o, base)},
        {"spec", json::object{{"replicas", replicas},
                              {"selector", json::object{{"matchLabels", SelectorLabels(w)}}},
                              {"template", json::object{{"metadata", std::move(pod_meta)},
                                                        {"spec", std::move(pod)}}}}}});
    if (port > 0) {
      out.push_back(json::object{
          {"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", Metadata(w, o, base)},
          {"spec", json::object{{"selector", SelectorLabels(w)},
                                {"ports", json::array{json::object{{"name", "inbound"},
                                                                   {"port", port},
                                                                   {"targetPort", "inbound"}}}}}}});
    }
  }
  out.push_back(NetworkPolicy(w, o, base));
  return out;
}

}  // namespace pai::kube
