// pai-server: the control plane (shared/design/ARCHITECTURE.md, "Command-line contract of
// pai-server and pai"; docs/architecture.md, "Control plane").
//
//   pai-server [--listen HOST:PORT] [--state-dir DIR] [--gateway-listen HOST:PORT]
//              [--gateway-admin-listen HOST:PORT] [--gateway-bin PATH | --no-gateway
//              --gateway-admin HOST:PORT] [--tls-cert PEM --tls-key PEM] [--no-default]
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/log.h"
#include "common/strings.h"
#include "config/default_config.h"
#include "config/manifest.h"
#include "kube/client.h"
#include "kube/migrate.h"
#include "kube/publish.h"
#include "kube/render.h"
#include "kube/runtime.h"
#include "kube/store.h"
#include "resource/resource.h"
#include "runtime/local.h"
#include "server/access.h"
#include "server/api.h"
#include "server/controller.h"
#include "server/gateway_process.h"
#include "server/http_server.h"
#include "server/json_access.h"
#include "server/runtime.h"
#include "server/sessions.h"
#include "server/store.h"

namespace {

constexpr char kVersion[] = "0.2.0";

int Fail(const std::string& message) {
  std::fprintf(stderr, "pai-server: %s\n", message.c_str());
  return 2;
}

// FirstAdminToken(): on a store without access tokens, creates the first admin token and writes
// it to DIR/admin-token (mode 0600, never overwritten). Returns the path written, or "".
absl::StatusOr<std::string> FirstAdminToken(pai::server::Store& store,
                                            pai::server::AccessTokens& access,
                                            const std::string& state_dir) {
  auto tokens = store.List("PaiAccessToken", "", pai::server::Store::Scope::kNamespace);
  if (!tokens.ok()) return tokens.status();
  if (!tokens->empty()) return std::string();
  auto minted = access.Create("*", "first admin token (created at first start)", "");
  if (!minted.ok()) return minted.status();
  const std::string path = state_dir + "/admin-token";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(pai::StrCat("cannot create ", path,
                                           " (it exists or the state "
                                           "directory is not writable)"));
  }
  const std::string line = minted->token + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return absl::InternalError(pai::StrCat("cannot write ", path));
  return path;
}

// SeedDefaults(): the embedded default on a store without resources: the gateway's default
// manifest (a mock ModelProvider, real ones whose keys are in the environment, the builtin
// guard in audit mode, the demo Agent), all in namespace "default".
absl::Status SeedDefaults(pai::server::Store& store) {
  auto ns = store.Namespaces();
  if (!ns.ok()) return ns.status();
  if (!ns->empty()) return absl::OkStatus();
  auto docs =
      pai::resource::YamlToJson(pai::config::DefaultManifest(pai::config::ProcessEnvironment()));
  if (!docs.ok()) return docs.status();
  for (boost::json::value& d : *docs) {
    boost::json::object& o = d.as_object();
    const pai::resource::KindInfo* k =
        pai::resource::FindKind(std::string(o.at("kind").as_string()));
    if (!k) continue;
    pai::server::Resource r;
    r.kind = std::string(k->kind);
    r.ns = "default";
    r.name = std::string(o.at("metadata").as_object().at("name").as_string());
    o["metadata"].as_object()["namespace"] = "default";
    r.object = std::move(o);
    auto created = store.Create(std::move(r));
    if (!created.ok() && !absl::IsAlreadyExists(created.status())) return created.status();
  }
  return absl::OkStatus();
}

std::string SiblingBinary(const char* name, const char* build_dir = "cli") {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return name;
  // build/src/server/pai-server -> build/src/cli/pai-gateway; installed side by side otherwise.
  for (const auto& candidate :
       {self.parent_path() / name, self.parent_path().parent_path() / build_dir / name}) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return name;
}

std::string HttpHost(const std::string& host_port) {
  return host_port.rfind("0.0.0.0:", 0) == 0 ? "127.0.0.1" + host_port.substr(7) : host_port;
}

}  // namespace

// MigrateToKubernetes(): `pai-server migrate-store`: <state-dir>/pai.db into the Kubernetes
// store (its events into <state-dir>/events.db, where --store kubernetes reads them).
int MigrateToKubernetes(const std::string& state_dir, pai::kube::ClientConfig api,
                        const std::string& store_ns) {
  const std::string db = state_dir + "/pai.db";
  if (!std::filesystem::exists(db)) return Fail(pai::StrCat("migrate-store: no ", db));
  auto from = pai::server::OpenSqliteStore(db);
  if (!from.ok()) return Fail(std::string(from.status().message()));
  if (api.server.empty()) {
    auto in_cluster = pai::kube::InClusterConfig();
    if (!in_cluster.ok()) return Fail(std::string(in_cluster.status().message()));
    api = *in_cluster;
  }
  auto client = pai::kube::NewHttpClient(api);
  auto events = pai::server::OpenSqliteStore(state_dir + "/events.db", nullptr, true);
  if (!events.ok()) return Fail(std::string(events.status().message()));
  pai::kube::KubeStoreOptions so;
  so.client = client.get();
  so.events = std::move(*events);
  so.ns = store_ns.empty() ? pai::kube::PodNamespace().value_or("pai-system") : store_ns;
  auto to = pai::kube::NewKubeStore(std::move(so));
  if (!to.ok()) return Fail(std::string(to.status().message()));
  auto report = pai::kube::MigrateStore(**from, **to);
  if (!report.ok()) return Fail(pai::StrCat("migrate-store: ", report.status().message()));
  std::printf(
      "migrated %s into %s: %lld resources, %lld gateway identities, %lld webhook tokens, %lld "
      "PaiFile versions, %lld Session events\nnext: start pai-server with --store kubernetes "
      "(and keep %s: it is no longer read)\n",
      db.c_str(), api.server.c_str(), static_cast<long long>(report->resources),
      static_cast<long long>(report->identities), static_cast<long long>(report->webhooks),
      static_cast<long long>(report->file_versions), static_cast<long long>(report->events),
      db.c_str());
  return 0;
}

// RenderManifests(): `pai-server render`: every Agent of `file` as Kubernetes objects (YAML on
// stdout), with a placeholder identity token (the controller mints the real one).
int RenderManifests(const std::string& file, const std::string& image,
                    const std::string& gateway_url) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Fail(pai::StrCat(file, ": cannot read"));
  std::stringstream text;
  text << in.rdbuf();
  auto docs = pai::resource::YamlToJson(text.str());
  if (!docs.ok()) return Fail(pai::StrCat(file, ": ", docs.status().message()));
  pai::kube::RenderOptions o;
  o.pai_image = image;
  o.gateway_url = gateway_url;
  std::string out;
  for (const boost::json::value& d : *docs) {
    const boost::json::object* doc = d.if_object();
    if (!doc || pai::server::Str(doc, "kind") != "Agent") continue;
    const boost::json::object* meta = pai::server::Obj(doc, "metadata");
    const boost::json::object* spec = pai::server::Obj(doc, "spec");
    pai::server::Workload w;
    w.ns = pai::server::Str(meta, "namespace");
    if (w.ns.empty()) w.ns = "default";
    const std::string agent = pai::server::Str(meta, "name");
    if (spec) w.spec = *spec;
    const boost::json::value* lr = spec ? spec->if_contains("longRunning") : nullptr;
    if (lr && lr->is_bool() && lr->as_bool()) {
      w.kind = "Agent";
      w.name = agent;
    } else {
      w.kind = "Session";
      w.agent = agent;
      w.name = agent + "-session";
      w.session = boost::json::object{{"agent", agent}, {"task", "(the Session's task)"}};
    }
    w.uid = "00000000-0000-0000-0000-000000000000";
    w.gateway_token = "(minted by the controller)";
    if (const boost::json::array* cfs = pai::server::Arr(spec, "configFiles")) {
      for (const boost::json::value& x : *cfs) {
        if (!x.is_object()) continue;
        w.files.push_back({pai::server::Str(&x.as_object(), "path"),
                           pai::server::Str(&x.as_object(), "content"), false, true});
      }
    }
    auto objs = pai::kube::RenderWorkload(w, o);
    if (!objs.ok())
      return Fail(pai::StrCat(file, ": Agent ", agent, ": ", objs.status().message()));
    for (const auto& obj : *objs) out += "---\n" + pai::resource::JsonToYaml(obj);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

// Main(): main() without the last-resort handler below.
int Main(int argc, char** argv) {
  CLI::App app{"pai-server: the Pai control plane (REST API, resource store, controller)"};
  app.set_version_flag("--version", kVersion);
  pai::server::HttpServerOptions http;
  std::string state_dir = "pai-state";
  std::string gateway_listen = "127.0.0.1:4000";
  std::string gateway_admin_listen = "127.0.0.1:4001";
  std::string gateway_bin;
  std::string gateway_admin;  // with --no-gateway: an existing gateway's admin address
  std::string gateway_admin_token_file;
  bool run_gateway = true;
  bool seed = true;
  std::string log_level = "info";
  int64_t gateway_watch_ms = 100;
  bool print_token = false;
  std::string runtime_kind = "local";
  std::string store_kind = "sqlite";
  std::string kube_store_ns;
  std::string harness_bin, init_bin, public_url;
  std::vector<std::string> egress_allow;
  bool test_clock = false;
  pai::kube::ClientConfig kube_api;
  pai::kube::RenderOptions kube_render;
  kube_render.pai_image = "ghcr.io/pai-platform/pai:0.1.0";
  kube_render.auth_grace_ms = 180000;
  int64_t kube_poll_ms = 1000;
  std::string kube_gateway_config, kube_gateway_tokens;  // NS/NAME of the published Secrets
  app.add_option("--listen", http.listen, "API address HOST:PORT (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--state-dir", state_dir, "State directory (store, admin token, gateway state)")
      ->capture_default_str();
  app.add_option("--gateway-listen", gateway_listen, "The supervised gateway's agent API address")
      ->capture_default_str();
  app.add_option("--gateway-admin-listen", gateway_admin_listen,
                 "The supervised gateway's admin address (/metrics, /usage, /audit)")
      ->capture_default_str();
  app.add_option("--gateway-bin", gateway_bin, "Path of pai-gateway (default: beside pai-server)");
  app.add_flag("--gateway,!--no-gateway", run_gateway,
               "Start and supervise pai-gateway (default on)");
  app.add_option("--gateway-admin", gateway_admin,
                 "With --no-gateway: admin address HOST:PORT of a gateway that reads "
                 "<state-dir>/gateway/config, for usage and audit (a host name is resolved on "
                 "each call)");
  app.add_option("--gateway-admin-token-file", gateway_admin_token_file,
                 "The gateway admin listener's bearer token (default: "
                 "<state-dir>/gateway/admin-token, created when pai-server runs the gateway)");
  app.add_option("--gateway-watch-interval-ms", gateway_watch_ms,
                 "How often the gateway polls its configuration and token files")
      ->capture_default_str();
  app.add_option("--tls-cert", http.tls_cert_file, "PEM certificate chain: serve HTTPS");
  app.add_option("--tls-key", http.tls_key_file, "PEM private key for --tls-cert");
  app.add_option("--max-body-bytes", http.max_body_bytes, "Largest request body (413 above)")
      ->capture_default_str();
  app.add_flag("--default,!--no-default", seed,
               "On an empty store, create the embedded default (mock ModelProvider, demo Agent)");
  app.add_flag("--print-admin-token", print_token,
               "Print the first admin token (from <state-dir>/admin-token) and the pai login "
               "line once serving (the quick start)");
  app.add_option("--log-level", log_level, "debug | info | warn | error")->capture_default_str();
  app.add_option("--runtime", runtime_kind,
                 "Where workloads run: local (bubblewrap sandboxes) | kubernetes (Deployments "
                 "and Jobs, docs/kubernetes.md) | none (nothing runs)")
      ->capture_default_str();
  app.add_option("--store", store_kind,
                 "Where resources are kept: sqlite (<state-dir>/pai.db) | kubernetes (the pai.io "
                 "custom resources and Secrets of the API server, docs/kubernetes.md)")
      ->capture_default_str();
  app.add_option("--kube-store-namespace", kube_store_ns,
                 "--store kubernetes: the server's own namespace (gateway identities, webhook "
                 "tokens, access tokens' private parts, the seal key; default: the pod's, else "
                 "pai-system)");
  app.add_option("--kube-api", kube_api.server,
                 "--runtime kubernetes: the API server's URL (default: in-cluster, from the "
                 "pod's service account)");
  app.add_option("--kube-token-file", kube_api.token_file,
                 "--runtime kubernetes: file holding the bearer token (read before each call)");
  app.add_option("--kube-ca-file", kube_api.ca_file,
                 "--runtime kubernetes: PEM bundle that verifies the API server");
  app.add_option("--kube-image", kube_render.pai_image,
                 "--runtime kubernetes: the Pai image (pai-harness for Sessions without an "
                 "image; the seed-files init step)")
      ->capture_default_str();
  app.add_option("--kube-gateway-url", kube_render.gateway_url,
                 "--runtime kubernetes: the gateway's in-cluster base URL, as pods reach it "
                 "(http://pai-gateway.pai:4000)");
  app.add_option("--kube-gateway-namespace", kube_render.gateway_namespace,
                 "--runtime kubernetes: the namespace of the gateway pods (NetworkPolicy egress)")
      ->capture_default_str();
  app.add_option("--kube-egress-proxy-url", kube_render.egress_proxy_url,
                 "--runtime kubernetes: the egress proxy pods use for everything else");
  app.add_option("--kube-gateway-config", kube_gateway_config,
                 "--runtime kubernetes: publish the gateway configuration (platform.yaml) as this "
                 "Secret, NAMESPACE/NAME, for gateway replicas that pai-server does not run "
                 "(with --no-gateway; the helm chart)");
  app.add_option("--kube-gateway-tokens", kube_gateway_tokens,
                 "--runtime kubernetes: publish the agent token file (tokens.json) as this "
                 "Secret, NAMESPACE/NAME");
  app.add_option("--kube-auth-grace-ms", kube_render.auth_grace_ms,
                 "--runtime kubernetes: PAI_AUTH_GRACE_MS of workload pods: how long pai-harness "
                 "retries a 401 while a new identity reaches the gateway replicas (0: its default)")
      ->capture_default_str();
  app.add_option("--kube-poll-interval-ms", kube_poll_ms,
                 "--runtime kubernetes: how often workloads' status is listed")
      ->capture_default_str();
  app.add_option("--harness-bin", harness_bin, "Path of pai-harness (default: beside pai-server)");
  app.add_option("--sandbox-init-bin", init_bin,
                 "Path of pai-sandbox-init (default: beside pai-server)");
  app.add_option("--egress-allow", egress_allow,
                 "Destinations sandboxes may reach through the egress proxy although private or "
                 "loopback: host names, *.suffix, CIDRs (repeatable)");
  app.add_option("--public-url", public_url,
                 "The API's URL as callers reach it (webhook URLs); default: the listen address");
  app.add_flag("--test-clock", test_clock,
               "Tests only: a manual clock moved by POST /apis/pai.io/v1/testing/clock (admin)");
  auto* crds = app.add_subcommand(
      "crds",
      "Print the CustomResourceDefinitions of every pai.io kind (YAML), generated from the "
      "schemas the server validates with (helm/pai/crds/pai.io.yaml is this output)");
  auto* rbac = app.add_subcommand(
      "rbac",
      "Print the ClusterRole the Kubernetes runtime (and, with --store kubernetes, the "
      "Kubernetes store) needs (YAML): exactly the verbs and resources they use (the helm "
      "chart's ClusterRole is checked against it)");
  std::string rbac_store = "sqlite";
  rbac->add_option("--store", rbac_store, "sqlite | kubernetes")->capture_default_str();
  auto* migrate = app.add_subcommand(
      "migrate-store",
      "Copy the SQLite store of --state-dir (pai.db) into the Kubernetes store (the API server "
      "of --kube-api or the pod's; --kube-store-namespace), which must be empty: resources with "
      "their status, Secrets, access tokens (they keep working), identities, webhook tokens, "
      "PaiFile versions and Session events (docs/kubernetes.md)");
  migrate->fallthrough();  // --state-dir and the --kube-* flags are the server's
  auto* render = app.add_subcommand(
      "render",
      "Print the Kubernetes objects of the Agents in a manifest file (YAML), as the Kubernetes "
      "runtime would create them: a long-running Agent's Deployment, a Session of a "
      "session-spawning one (docs/kubernetes.md)");
  std::string render_file, render_image = "ghcr.io/pai-platform/pai:0.1.0";
  std::string render_gateway = "http://pai-gateway.pai.svc:4000";
  render->add_option("-f,--file", render_file, "Manifest file (Agents)")->required();
  render->add_option("--pai-image", render_image, "Image with pai-harness (Sessions, init)")
      ->capture_default_str();
  render->add_option("--gateway-url", render_gateway, "The gateway's in-cluster URL")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (render->parsed()) return RenderManifests(render_file, render_image, render_gateway);
  // The published Secrets (--kube-gateway-config/-tokens NS/NAME): one namespace, two names.
  std::string publish_ns, publish_config, publish_tokens;
  if (!kube_gateway_config.empty() || !kube_gateway_tokens.empty()) {
    const size_t a = kube_gateway_config.find('/'), b = kube_gateway_tokens.find('/');
    if (a != std::string::npos && b != std::string::npos) {
      publish_ns = kube_gateway_config.substr(0, a);
      publish_config = kube_gateway_config.substr(a + 1);
      publish_tokens = kube_gateway_tokens.substr(b + 1);
    }
    if (runtime_kind != "kubernetes" || publish_ns.empty() || publish_config.empty() ||
        publish_tokens.empty() || kube_gateway_tokens.substr(0, b) != publish_ns) {
      return Fail(
          "--kube-gateway-config and --kube-gateway-tokens: both, as NAMESPACE/NAME in one "
          "namespace, with --runtime kubernetes");
    }
  }
  if (runtime_kind == "kubernetes" && kube_render.gateway_url.empty() && !rbac->parsed() &&
      !crds->parsed() && !render->parsed()) {
    return Fail("--runtime kubernetes needs --kube-gateway-url (the gateway as pods reach it)");
  }
  if (store_kind != "sqlite" && store_kind != "kubernetes") {
    return Fail("--store: sqlite or kubernetes");
  }
  if (rbac->parsed()) {
    std::vector<pai::kube::Permission> perms = pai::kube::RequiredPermissions();
    if (rbac_store == "kubernetes") {
      perms = pai::kube::MergePermissions(perms, pai::kube::StorePermissions());
    } else if (rbac_store != "sqlite") {
      return Fail("--store: sqlite or kubernetes");
    }
    // One PolicyRule per API group and verb set, resources in the order first used.
    boost::json::array rules;
    for (const pai::kube::Permission& p : perms) {
      boost::json::array verbs;
      for (const std::string& v : p.verbs) verbs.emplace_back(v);
      const boost::json::array group{p.api_group.c_str()};
      auto same = std::find_if(rules.begin(), rules.end(), [&](const boost::json::value& r) {
        return r.at("apiGroups") == group && r.at("verbs") == verbs;
      });
      if (same != rules.end()) {
        same->as_object()["resources"].as_array().emplace_back(p.resource);
        continue;
      }
      rules.push_back(boost::json::object{{"apiGroups", group},
                                          {"resources", boost::json::array{p.resource.c_str()}},
                                          {"verbs", std::move(verbs)}});
    }
    const boost::json::object role{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                                   {"kind", "ClusterRole"},
                                   {"metadata", boost::json::object{{"name", "pai-server"}}},
                                   {"rules", std::move(rules)}};
    std::string out = rbac_store == "kubernetes"
                          ? "# Generated by `pai-server rbac --store kubernetes`: what --runtime "
                            "kubernetes --store kubernetes uses.\n"
                          : "# Generated by `pai-server rbac`: what --runtime kubernetes uses.\n";
    out += pai::resource::JsonToYaml(role);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  if (migrate->parsed()) return MigrateToKubernetes(state_dir, kube_api, kube_store_ns);
  if (crds->parsed()) {
    auto defs = pai::resource::CustomResourceDefinitions();
    if (!defs.ok()) return Fail(std::string(defs.status().message()));
    std::string out =
        "# Generated by `pai-server crds` from schemas/*.yaml: do not edit (CTest crds_in_sync).\n";
    for (const auto& d : *defs) out += "---\n" + pai::resource::JsonToYaml(d);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  // SIGTERM/SIGINT are blocked in every thread and taken by sigwait() below; this must precede
  // the first thread (the logger's). The gateway child unblocks them before exec.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // Schedules are UTC (croncpp computes in the process's local time).
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  pai::log::Level level;
  if (!pai::log::ParseLevel(log_level, &level)) return Fail("--log-level: unknown level");
  pai::log::Init(level);
  if (http.tls_cert_file.empty() != http.tls_key_file.empty()) {
    return Fail("--tls-cert and --tls-key go together");
  }

  // Everything the server and its gateway write (store, keys, tokens, budgets) is theirs alone.
  ::umask(077);
  std::error_code ec;
  std::filesystem::create_directories(state_dir + "/gateway/config", ec);
  if (ec) return Fail(pai::StrCat("cannot create ", state_dir, ": ", ec.message()));
  // The store holds secrets, the gateway file provider keys: an existing directory is tightened.
  // 0711, not 0700: sandboxes run as their unprivileged runAsUser and must traverse it to their
  // workspaces (runtime/); nothing in it is listable, and every secret-holding file is 0600 in
  // 0700 directories (pai.db, admin-token, gateway/).
  if (::chmod(state_dir.c_str(), 0711) != 0) {
    return Fail(pai::StrCat("cannot restrict ", state_dir, " (chmod 0711)"));
  }
  pai::server::SystemClock system_clock;
  pai::server::ManualClock manual_clock;
  const pai::server::Clock& clock =
      test_clock ? static_cast<const pai::server::Clock&>(manual_clock) : system_clock;
  std::unique_ptr<pai::kube::Client> kube_client;  // outlives the store and the runtime
  if (runtime_kind == "kubernetes" || store_kind == "kubernetes") {
    if (kube_api.server.empty()) {
      auto in_cluster = pai::kube::InClusterConfig();
      if (!in_cluster.ok()) return Fail(std::string(in_cluster.status().message()));
      kube_api = *in_cluster;
    }
    kube_client = pai::kube::NewHttpClient(kube_api);
  }
  absl::StatusOr<std::unique_ptr<pai::server::Store>> store;
  if (store_kind == "sqlite") {
    store = pai::server::OpenSqliteStore(state_dir + "/pai.db", &clock);
  } else {  // kubernetes (checked above)
    // Session events stay on the server's volume (docs/kubernetes.md, "The Kubernetes store").
    auto events_store =
        pai::server::OpenSqliteStore(state_dir + "/events.db", &clock, /*events_only=*/true);
    if (!events_store.ok()) return Fail(std::string(events_store.status().message()));
    pai::kube::KubeStoreOptions so;
    so.client = kube_client.get();
    so.events = std::move(*events_store);
    so.ns =
        kube_store_ns.empty() ? pai::kube::PodNamespace().value_or("pai-system") : kube_store_ns;
    store = pai::kube::NewKubeStore(std::move(so));
    if (store.ok()) pai::log::Info("kubernetes store", {{"api", kube_api.server}});
    // A SQLite store beside an empty cluster: its resources would be silently left behind.
    if (store.ok() && std::filesystem::exists(state_dir + "/pai.db")) {
      auto ns = (*store)->Namespaces();
      auto tokens = (*store)->List("PaiAccessToken", "", pai::server::Store::Scope::kNamespace);
      if (ns.ok() && ns->empty() && tokens.ok() && tokens->empty()) {
        return Fail(pai::StrCat(state_dir,
                                "/pai.db holds a SQLite store and the cluster none: move it "
                                "with `pai-server migrate-store --state-dir ",
                                state_dir, "` (or remove pai.db to start empty)"));
      }
    }
  }
  if (!store.ok()) return Fail(std::string(store.status().message()));
  pai::server::AccessTokens access(**store);
  auto admin_file = FirstAdminToken(**store, access, state_dir);
  if (!admin_file.ok()) return Fail(std::string(admin_file.status().message()));
  if (!admin_file->empty()) {
    pai::log::Info("first admin token written", {{"path", *admin_file}});
  }
  if (seed) {
    if (absl::Status s = SeedDefaults(**store); !s.ok()) return Fail(std::string(s.message()));
  }

  const std::string gateway_state = state_dir + "/gateway";
  pai::server::EventHub hub;
  pai::server::SessionEvents events(**store, hub, clock, nullptr);
  std::unique_ptr<pai::server::Runtime> runtime;
  if (runtime_kind == "local") {
    pai::runtime::LocalRuntimeOptions ro;
    ro.state_dir = state_dir + "/runtime";
    ro.harness_bin = harness_bin.empty() ? SiblingBinary("pai-harness", "harness") : harness_bin;
    ro.init_bin = init_bin.empty() ? SiblingBinary("pai-sandbox-init", "runtime") : init_bin;
    ro.gateway_address = HttpHost(gateway_listen);
    ro.egress_allow = egress_allow;
    ro.events = &events;
    ro.clock = &clock;
    auto local = pai::runtime::NewLocalRuntime(std::move(ro));
    if (local.ok()) {
      runtime = std::move(*local);
    } else {
      pai::log::Warn("no local runtime: workloads stay Pending",
                     {{"reason", std::string(local.status().message())}});
      runtime = std::make_unique<pai::server::NoRuntime>(std::string(local.status().message()));
    }
  } else if (runtime_kind == "kubernetes") {
    pai::kube::KubeRuntimeOptions ko;
    ko.client = kube_client.get();
    ko.render = kube_render;
    // Agents and Sessions are custom resources: the workload's root is owned by its resource.
    ko.render.identity_owned_by_resource = store_kind == "kubernetes";
    ko.state_dir = state_dir + "/kube-logs";
    ko.poll_interval = std::chrono::milliseconds(std::max<int64_t>(50, kube_poll_ms));
    ko.events = &events;
    auto kube = pai::kube::NewKubeRuntime(std::move(ko));
    if (!kube.ok()) return Fail(std::string(kube.status().message()));
    runtime = std::move(*kube);
    pai::log::Info("kubernetes runtime", {{"api", kube_api.server}});
  } else if (runtime_kind == "none") {
    runtime = std::make_unique<pai::server::NoRuntime>("pai-server runs with --runtime none");
  } else {
    return Fail("--runtime: local, kubernetes or none");
  }
  pai::server::FileGatewayTokens gateway_tokens(gateway_state);
  pai::server::ControllerOptions copts;
  copts.gateway_config_path = gateway_state + "/config/platform.yaml";
  copts.gateway_state_dir = gateway_state;
  copts.gateway_url = pai::StrCat("http://", HttpHost(gateway_listen), "/v1");
  copts.clock = &clock;
  copts.events = &events;
  copts.public_url = public_url;
  pai::server::Controller controller(**store, *runtime, gateway_tokens, copts);
  events.SetWake([&controller] { controller.Wake(); });
  // One pass before the gateway starts: it refuses to start without a configuration.
  if (absl::Status s = controller.ReconcileOnce(); !s.ok()) {
    return Fail(pai::StrCat("initial reconcile: ", s.message()));
  }

  // On a cluster, the chart's gateway replicas serve what the controller renders.
  std::unique_ptr<pai::kube::GatewayPublisher> publisher;
  if (!publish_ns.empty()) {
    pai::kube::PublishOptions po;
    po.client = kube_client.get();
    po.config_file = copts.gateway_config_path;
    po.tokens_file = gateway_state + "/tokens.json";
    po.ns = publish_ns;
    po.config_secret = publish_config;
    po.tokens_secret = publish_tokens;
    publisher = std::make_unique<pai::kube::GatewayPublisher>(std::move(po));
    if (absl::Status s = publisher->PublishOnce(); !s.ok()) {
      pai::log::Warn("gateway configuration not published yet",
                     {{"error", std::string(s.message())}});
    }
    publisher->Start();
  }

  pai::server::HttpGatewayAdmin gateway_admin_client;
  // The gateway's admin listener takes a bearer token (kept in the gateway's state directory),
  // so /usage and /audit stay closed even when --gateway-admin-listen is not loopback.
  if (gateway_admin_token_file.empty()) gateway_admin_token_file = gateway_state + "/admin-token";
  if (run_gateway) {
    auto token = pai::server::LoadOrCreateAdminToken(gateway_admin_token_file);
    if (!token.ok()) return Fail(std::string(token.status().message()));
    gateway_admin_client.SetToken(*token);
  } else if (std::ifstream in(gateway_admin_token_file); in) {
    std::string token;
    std::getline(in, token);
    gateway_admin_client.SetToken(token);
  }
  std::string gateway_api = HttpHost(gateway_listen);
  std::mutex addr_mu;
  std::unique_ptr<pai::server::GatewayProcess> gateway;
  if (run_gateway) {
    pai::server::GatewayProcessOptions gopts;
    gopts.binary = gateway_bin.empty() ? SiblingBinary("pai-gateway") : gateway_bin;
    gopts.args = {"-f",
                  gateway_state + "/config",
                  "--state-dir",
                  gateway_state,
                  "--listen",
                  gateway_listen,
                  "--admin-listen",
                  gateway_admin_listen,
                  "--watch-interval-ms",
                  std::to_string(gateway_watch_ms),
                  "--admin-token-file",
                  gateway_admin_token_file};
    gopts.state_file = gateway_state + "/process.json";
    gopts.on_listening = [&](const std::string& listen, const std::string& admin) {
      gateway_admin_client.SetAddress(admin);
      pai::runtime::SetGatewayAddress(*runtime, listen);
      std::lock_guard<std::mutex> lock(addr_mu);
      gateway_api = listen;
    };
    gateway = std::make_unique<pai::server::GatewayProcess>(std::move(gopts));
    if (absl::Status s = gateway->Start(); !s.ok()) return Fail(std::string(s.message()));
    if (!gateway->WaitListening(std::chrono::seconds(30))) {
      return Fail("pai-gateway did not start (see its log lines above)");
    }
  } else if (!gateway_admin.empty()) {
    gateway_admin_client.SetAddress(gateway_admin);
  }
  pai::server::ApiOptions aopts;
  aopts.version = kVersion;
  aopts.max_body_bytes = http.max_body_bytes;
  const bool have_gateway = run_gateway || !gateway_admin.empty();
  pai::server::Api api(
      **store, access, have_gateway ? &gateway_admin_client : nullptr, &gateway_tokens,
      [&controller] { controller.Wake(); }, aopts);
  api.SetSessions(&events, runtime.get());
  if (test_clock) {
    api.SetTestClock([&manual_clock, &controller](int64_t seconds) {
      manual_clock.Advance(absl::Seconds(seconds));
      controller.WakeAndWait(std::chrono::seconds(10));
      return pai::server::Rfc3339(manual_clock.Now());
    });
  }
  http.store = store->get();
  http.hub = &hub;
  http.runtime = runtime.get();
  auto server = pai::server::StartHttpServer(api, http);
  if (!server.ok()) return Fail(std::string(server.status().message()));
  if (public_url.empty()) {
    public_url =
        pai::StrCat((*server)->tls() ? "https" : "http", "://", HttpHost((*server)->address()));
  }
  controller.SetPublicUrl(public_url);
  controller.Start();

  const std::string scheme = (*server)->tls() ? "https" : "http";
  std::string gw;
  {
    std::lock_guard<std::mutex> lock(addr_mu);
    gw = gateway_api;
  }
  const std::string api_url = pai::StrCat(scheme, "://", HttpHost((*server)->address()));
  pai::log::Info("listening", {{"api", api_url},
                               {"gateway", run_gateway ? pai::StrCat("http://", gw, "/v1") : ""},
                               {"state_dir", state_dir}});
  std::cout << "pai-server " << kVersion << " is running.\n"
            << "  API      : " << api_url << "\n";
  if (run_gateway) std::cout << "  gateway  : http://" << gw << "/v1   (OpenAI-compatible)\n";
  std::cout << "  state    : " << state_dir << "\n";
  if (!admin_file->empty()) {
    std::cout << "  admin token written to " << *admin_file << " (mode 0600)\n";
  }
  if (print_token) {
    std::ifstream in(state_dir + "/admin-token");
    std::string token;
    if (in && std::getline(in, token) && !token.empty()) {
      std::cout << "\nLog in as admin (the token is also in " << state_dir << "/admin-token):\n"
                << "  pai login " << api_url << " --token " << token << "\n"
                << "\nThen, for example:\n"
                << "  pai run hello --agent demo --task \"Write hello.txt and show it\"\n"
                << "  pai get sessions\n"
                << "  pai logs hello --no-follow\n"
                << "  pai get agents\n"
                << "  pai get model-providers\n"
                << "  pai apply -f ../shared/seeds/examples/agent-session-spawning.yaml\n"
                << "  pai admin gateway-token create --agent demo     # a key for the gateway\n"
                << "  pai get metrics\n"
                << "  pai audit demo\n"
                << "\nStop with Ctrl-C.\n";
    }
  }
  std::cout << std::flush;

  int sig = 0;
  sigwait(&set, &sig);
  pai::log::Info("stopping", {{"signal", sig}});
  (*server)->Stop();
  controller.Stop();
  // Before the runtime goes: the supervisor's on_listening callback writes the gateway's
  // address into it (a gateway restarted during the stop would report one).
  if (gateway) gateway->Stop();
  // Sandboxes end with the server; their readers may still call controller.Wake() (an atomic
  // counter on an object that outlives them).
  runtime.reset();
  pai::log::Flush();
  return 0;
}

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    pai::log::Flush();
    std::fprintf(stderr, "pai-server: %s\n", e.what());
  } catch (...) {
    pai::log::Flush();
    std::fprintf(stderr, "pai-server: unknown error\n");
  }
  return 1;
}
