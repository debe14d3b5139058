// create, apply, get, delete: the generic resource verbs (docs/api.md, "Resource routes").
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/pai/commands.h"
#include "cli/pai/events.h"
#include "cli/pai/text.h"
#include "cli/pai/views.h"
#include "resource/resource.h"

namespace pai::cli {

namespace json = boost::json;
namespace fs = std::filesystem;
using resource::KindInfo;

namespace {

constexpr char kTypeList[] =
    "agents, sessions, model-providers, providers, secrets, skills, paifiles, guard-bindings, "
    "evals, metrics, events";

absl::StatusOr<const KindInfo*> LookupType(const std::string& type) {
  const KindInfo* k = resource::FindKind(type);
  if (k == nullptr || k->kind == "PaiAccessToken") {
    return absl::InvalidArgumentError("unknown resource type \"" + type + "\" (one of " +
                                      kTypeList + ")");
  }
  return k;
}

std::string CollectionPath(const KindInfo& k, const std::string& ns) {
  return ResourcePath(k.namespaced ? ns : "", k.plural);
}

std::string ItemPath(const KindInfo& k, const std::string& ns, const std::string& name) {
  return ResourcePath(k.namespaced ? ns : "", k.plural, name);
}

// --- manifests ---

struct Doc {
  json::object obj;
  const KindInfo* info = nullptr;
  std::string display;  // "agent"
  std::string name;
  std::string ns;
};

absl::StatusOr<std::vector<json::value>> ParseManifest(const std::string& path) {
  auto text = ReadInput(path);
  if (!text.ok()) return text.status();
  const std::string label = path == "-" ? "(stdin)" : path;
  auto docs = resource::YamlToJson(*text);
  if (!docs.ok())
    return absl::InvalidArgumentError(label + ": " + std::string(docs.status().message()));
  if (docs->empty()) return absl::InvalidArgumentError(label + ": no documents");
  return std::move(*docs);
}

absl::StatusOr<Doc> Prepare(const json::value& v, const std::string& default_ns, size_t index,
                            const std::string& path) {
  const std::string where =
      (path == "-" ? std::string("(stdin)") : path) + ": document " + std::to_string(index + 1);
  if (!v.is_object()) return absl::InvalidArgumentError(where + ": not a mapping");
  Doc d;
  d.obj = v.get_object();
  const std::string kind = StrAt(v, {"kind"});
  if (kind.empty()) return absl::InvalidArgumentError(where + ": kind: required");
  d.info = resource::FindKind(kind);
  if (d.info == nullptr)
    return absl::InvalidArgumentError(where + ": unknown kind \"" + kind + "\"");
  if (d.info->kind == "PaiAccessToken") {
    return absl::InvalidArgumentError(where +
                                      ": PaiAccessToken documents are not applied from manifests "
                                      "(use pai admin token create)");
  }
  d.display = DisplayKind(d.info->kind);
  json::value& meta = d.obj["metadata"];
  if (!meta.is_object()) meta = json::object();
  d.name = StrAt(meta, {"name"});
  if (d.info->namespaced) {
    d.ns = StrAt(meta, {"namespace"});
    if (d.ns.empty()) d.ns = default_ns;
    meta.get_object()["namespace"] = d.ns;
  }
  return d;
}

void SetName(Doc& d, const std::string& name) {
  d.name = name;
  d.obj["metadata"].get_object()["name"] = name;
}

// Emit() prints structured results (-o) at the end: one object alone, several as a List.
void Emit(const std::string& format, const std::vector<json::value>& objects) {
  if (objects.empty()) return;
  if (format == "yaml") {
    for (size_t i = 0; i < objects.size(); ++i) {
      if (i != 0) std::cout << "---\n";
      PrintStructured(format, objects[i]);
    }
    return;
  }
  if (objects.size() == 1) {
    PrintStructured(format, objects[0]);
    return;
  }
  json::array items(objects.begin(), objects.end());
  PrintStructured(format, json::object{{"kind", "List"}, {"items", std::move(items)}});
}

std::string ResultName(const Response& r, const std::string& fallback) {
  const std::string n = StrAt(r.body, {"metadata", "name"});
  return n.empty() ? fallback : n;
}

absl::Status CreateFromFile(const Globals& g, const std::string& file, const std::string& name,
                            const std::string& output) {
  auto values = ParseManifest(file);
  if (!values.ok()) return values.status();
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  std::vector<Doc> docs;
  size_t agents = 0;
  for (size_t i = 0; i < values->size(); ++i) {
    auto d = Prepare((*values)[i], conn->ns, i, file);
    if (!d.ok()) return d.status();
    if (d->info->kind == "Agent") ++agents;
    docs.push_back(std::move(*d));
  }
  if (!name.empty() && agents != 1) {
    return absl::InvalidArgumentError("--name needs exactly one Agent in the manifest (found " +
                                      std::to_string(agents) + ")");
  }
  std::vector<json::value> results;
  for (Doc& d : docs) {
    if (d.info->kind == "Agent") {
      if (!name.empty()) {
        SetName(d, name);
      } else {
        if (d.name.empty()) return absl::InvalidArgumentError("metadata.name: required");
        // The suffix keeps names unique; DNS-1123 labels stop at 63 characters.
        SetName(d, d.name.substr(0, 56) + "-" + RandomSuffix(6));
      }
    } else if (d.name.empty()) {
      return absl::InvalidArgumentError(d.display + ": metadata.name: required");
    }
    auto r = conn->client->Call("POST", CollectionPath(*d.info, d.ns), json::value(d.obj));
    if (!r.ok()) return r.status();
    if (output.empty()) {
      std::cout << d.display << "/" << ResultName(*r, d.name) << " created" << std::endl;
    } else {
      results.push_back(std::move(r->body));
    }
  }
  Emit(output, results);
  return absl::OkStatus();
}

absl::Status Apply(const Globals& g, const std::string& file, const std::string& name,
                   const std::string& output) {
  auto values = ParseManifest(file);
  if (!values.ok()) return values.status();
  if (!name.empty() && values->size() != 1) {
    return absl::InvalidArgumentError("--name needs a single-document manifest (found " +
                                      std::to_string(values->size()) + " documents)");
  }
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  std::vector<Doc> docs;
  for (size_t i = 0; i < values->size(); ++i) {
    auto d = Prepare((*values)[i], conn->ns, i, file);
    if (!d.ok()) return d.status();
    if (!name.empty()) SetName(*d, name);
    if (d->name.empty())
      return absl::InvalidArgumentError(d->display + ": metadata.name: required");
    docs.push_back(std::move(*d));
  }
  std::vector<json::value> results;
  for (Doc& d : docs) {
    auto r = conn->client->Call("PUT", ItemPath(*d.info, d.ns, d.name), json::value(d.obj));
    if (!r.ok()) return r.status();
    if (output.empty()) {
      std::cout << d.display << "/" << d.name << (r->status == 201 ? " created" : " configured")
                << std::endl;
    } else {
      results.push_back(std::move(r->body));
    }
  }
  Emit(output, results);
  return absl::OkStatus();
}

// --- typed creates ---

absl::Status PostOne(Conn& conn, const std::string& plural_type, json::object body) {
  auto info = LookupType(plural_type);
  if (!info.ok()) return info.status();
  auto r = conn.client->Call("POST", CollectionPath(**info, conn.ns), json::value(std::move(body)));
  if (!r.ok()) return r.status();
  return absl::OkStatus();
}

json::object Metadata(const std::string& name, const std::string& ns) {
  return json::object{{"name", name}, {"namespace", ns}};
}

// CreateTyped(): POSTs a `kind` named `name` whose other top-level members are `body`
// (spec, or a Secret's stringData), and prints "<label>/<name> created".
absl::Status CreateTyped(Conn& conn, std::string_view api_version, std::string_view kind,
                         const std::string& plural, std::string_view label, const std::string& name,
                         json::object body) {
  body["apiVersion"] = api_version;
  body["kind"] = kind;
  body["metadata"] = Metadata(name, conn.ns);
  if (auto s = PostOne(conn, plural, std::move(body)); !s.ok()) return s;
  std::cout << label << "/" << name << " created\n";
  return absl::OkStatus();
}

struct ModelProviderArgs {
  std::string name, provider, api_key, base_url;
  int64_t max_tokens_day = 0;
};

absl::Status CreateModelProvider(const Globals& g, const ModelProviderArgs& a) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  std::string key = a.api_key;
  if (key.empty()) {
    auto read = ReadSecretLine("API key for " + a.name + ": ", "API key");
    if (!read.ok()) return read.status();
    key = std::move(*read);
  }
  // The ModelProvider first, then its key Secret owned by it (ownerReferences), so that
  // `pai delete model-provider` removes the key too.
  const std::string secret = a.name + "-api-key";
  json::object spec{{"provider", a.provider},
                    {"apiKeySecretRef", json::object{{"name", secret}, {"key", "api-key"}}}};
  if (a.max_tokens_day > 0) spec["maxTokensDay"] = a.max_tokens_day;
  if (!a.base_url.empty()) spec["baseURL"] = a.base_url;
  json::object doc{{"apiVersion", resource::kApiVersion},
                   {"kind", "ModelProvider"},
                   {"metadata", Metadata(a.name, conn->ns)},
                   {"spec", std::move(spec)}};
  auto info = LookupType("modelproviders");
  if (!info.ok()) return info.status();
  auto created =
      conn->client->Call("POST", CollectionPath(**info, conn->ns), json::value(std::move(doc)));
  if (!created.ok()) return created.status();
  json::object meta = Metadata(secret, conn->ns);
  const json::value* uid = nullptr;
  if (created->body.is_object()) {
    if (const json::value* m = created->body.as_object().if_contains("metadata");
        m && m->is_object()) {
      uid = m->as_object().if_contains("uid");
    }
  }
  if (uid && uid->is_string()) {
    meta["ownerReferences"] = json::array{json::object{{"apiVersion", resource::kApiVersion},
                                                       {"kind", "ModelProvider"},
                                                       {"name", a.name},
                                                       {"uid", *uid}}};
  }
  json::object secret_doc{{"apiVersion", "v1"},
                          {"kind", "Secret"},
                          {"metadata", std::move(meta)},
                          {"stringData", json::object{{"api-key", key}}}};
  if (auto s = PostOne(*conn, "secrets", std::move(secret_doc)); !s.ok()) {
    return absl::Status(s.code(), "model-provider/" + a.name + " created, but its key Secret " +
                                      secret + " was not: " + std::string(s.message()));
  }
  std::cout << "model-provider/" << a.name << " created\n";
  return absl::OkStatus();
}

absl::Status CreateSecret(const Globals& g, const std::string& name,
                          const std::vector<std::string>& literals) {
  if (literals.empty()) return absl::InvalidArgumentError("--from-literal KEY=VALUE: required");
  json::object data;
  for (const auto& lit : literals) {
    const size_t eq = lit.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError("--from-literal \"" + lit.substr(0, lit.find('=')) +
                                        "\": expected KEY=VALUE");
    }
    data[lit.substr(0, eq)] = lit.substr(eq + 1);
  }
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  return CreateTyped(*conn, "v1", "Secret", "secrets", "secret", name,
                     json::object{{"stringData", std::move(data)}});
}

absl::Status CreateProvider(const Globals& g, const std::string& name, const std::string& provider,
                            const std::string& secret, const std::string& repos) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  json::object spec{{"provider", provider}};
  if (!secret.empty()) spec["secretRef"] = secret;
  if (!repos.empty()) {
    json::array list;
    std::stringstream ss(repos);
    std::string item;
    while (std::getline(ss, item, ',')) {
      item.erase(0, item.find_first_not_of(' '));
      item.erase(item.find_last_not_of(' ') + 1);
      if (!item.empty()) list.emplace_back(item);
    }
    spec["repos"] = std::move(list);
  }
  return CreateTyped(*conn, resource::kApiVersion, "Provider", "providers", "provider", name,
                     json::object{{"spec", std::move(spec)}});
}

// SkillFiles() reads every regular file under `dir` (recursively, sorted by path). A symlink
// that resolves outside `dir` is refused; one inside it is read as the file it points to.
absl::StatusOr<json::array> SkillFiles(const std::string& dir) {
  std::error_code ec;
  const fs::path root = fs::canonical(dir, ec);
  if (ec || !fs::is_directory(root)) {
    return absl::InvalidArgumentError("--from-dir " + dir + ": not a directory");
  }
  std::vector<std::pair<std::string, fs::path>> files;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path p = it->path();
    const std::string rel = p.lexically_relative(root).generic_string();
    if (it->is_symlink()) {
      const fs::path target = fs::canonical(p, ec);
      if (ec) return absl::InvalidArgumentError(dir + "/" + rel + ": dangling symlink");
      const std::string t = target.generic_string();
      const std::string r = root.generic_string() + "/";
      if (t.compare(0, r.size(), r) != 0) {
        return absl::InvalidArgumentError(dir + "/" + rel + ": symlink leaves " + dir);
      }
      if (fs::is_regular_file(target)) files.emplace_back(rel, target);
      continue;  // a link to a directory inside: its files are read there
    }
    if (it->is_regular_file()) files.emplace_back(rel, p);
  }
  if (ec) return absl::InvalidArgumentError(dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  json::array out;
  for (const auto& [rel, p] : files) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return absl::InvalidArgumentError(dir + "/" + rel + ": cannot read");
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back(json::object{{"path", rel}, {"data", Base64Encode(ss.str())}});
  }
  if (out.empty()) return absl::InvalidArgumentError("--from-dir " + dir + ": no files");
  return out;
}

absl::Status CreateSkill(const Globals& g, const std::string& name, const std::string& dir,
                         const std::string& description) {
  auto files = SkillFiles(dir);
  if (!files.ok()) return files.status();
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  json::object spec;
  if (!description.empty()) spec["description"] = description;
  spec["files"] = std::move(*files);
  return CreateTyped(*conn, resource::kApiVersion, "Skill", "skills", "skill", name,
                     json::object{{"spec", std::move(spec)}});
}

// --- get ---

struct GetArgs {
  std::string type = "agents";
  std::string name;
  std::string output;
  std::string agent;
  std::string phase;
  std::string agent_type;
  std::string event_type;
  bool all_namespaces = false;
};

std::vector<json::value> Items(const json::value& list) {
  const json::value* items = At(list, {"items"});
  if (items != nullptr && items->is_array())
    return {items->get_array().begin(), items->get_array().end()};
  if (list.is_array()) return {list.get_array().begin(), list.get_array().end()};
  return {};
}

absl::Status GetMetrics(Conn& conn, const GetArgs& a) {
  const std::string path =
      a.all_namespaces ? std::string("/apis/pai.io/v1/metrics")
                       : "/apis/pai.io/v1/namespaces/" + PercentEncode(conn.ns) + "/metrics";
  auto m = conn.client->Get(path);
  if (!m.ok()) return m.status();
  if (!a.output.empty()) {
    PrintStructured(a.output, *m);
  } else {
    std::cout << MetricsView(*m, a.all_namespaces);
  }
  return absl::OkStatus();
}

absl::Status GetEvents(Conn& conn, const GetArgs& a) {
  if (a.name.empty()) return absl::InvalidArgumentError("get events needs a session NAME");
  std::string path = ResourcePath(conn.ns, "sessions", a.name) + "/events?limit=10000";
  if (!a.event_type.empty()) path += "&type=" + PercentEncode(a.event_type);
  auto r = conn.client->Get(path);
  if (!r.ok()) return NotFoundAs(r.status(), "session", a.name);
  std::vector<json::value> events = Items(*r);
  if (!a.event_type.empty()) {
    // The server filters too; this keeps the answer exact with a server that does not.
    std::vector<std::string> types;
    std::stringstream ss(a.event_type);
    for (std::string t; std::getline(ss, t, ',');) types.push_back(t);
    std::erase_if(events, [&](const json::value& e) {
      return std::find(types.begin(), types.end(), StrAt(e, {"type"})) == types.end();
    });
  }
  if (!a.output.empty()) {
    PrintStructured(a.output, json::object{{"kind", "EventList"},
                                           {"items", json::array(events.begin(), events.end())}});
    return absl::OkStatus();
  }
  if (events.empty()) {
    std::cerr << "No events found for session " << a.name << ".\n";
    return absl::OkStatus();
  }
  std::cout << EventsTable(events).Render();
  return absl::OkStatus();
}

// SessionsAsAgents() lists the Sessions that `pai get agents` shows as task rows (the seeds'
// "task agents"); nothing when the list cannot be read (an older server).
std::vector<json::value> SessionsAsAgents(Conn& conn, bool all_namespaces) {
  auto list = conn.client->Get(all_namespaces ? ResourcePath("", "sessions")
                                              : ResourcePath(conn.ns, "sessions"));
  if (!list.ok()) return {};
  return Items(*list);
}

absl::Status Get(const Globals& g, const GetArgs& a) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  if (a.type == "metrics" || a.type == "metric") return GetMetrics(*conn, a);
  if (a.type == "events" || a.type == "event") return GetEvents(*conn, a);
  auto info = LookupType(a.type);
  if (!info.ok()) return info.status();
  const KindInfo& k = **info;
  const bool sessions = k.kind == "Session";
  if ((!a.agent.empty() || !a.phase.empty()) && !sessions) {
    return absl::InvalidArgumentError("--agent and --phase apply to sessions");
  }
  if (!a.agent_type.empty() && k.kind != "Agent") {
    return absl::InvalidArgumentError("--type applies to agents");
  }
  json::value answer;
  std::vector<json::value> items;
  std::vector<json::value> session_rows;  // agents: the Sessions shown as task rows
  std::vector<json::value> definitions;   // agents: all of them, before --type
  if (!a.name.empty()) {
    auto one = conn->client->Get(ItemPath(k, conn->ns, a.name));
    if (!one.ok() && absl::IsNotFound(one.status()) && k.kind == "Agent") {
      // "pai get agent fix-bug-42" describes a task agent, which is a Session.
      auto session = conn->client->Get(ResourcePath(conn->ns, "sessions", a.name));
      if (session.ok()) {
        if (!a.output.empty()) {
          PrintStructured(a.output, *session);
        } else {
          std::cout << AgentsTable({}, {*session}, NowSeconds(), false).Render();
        }
        return absl::OkStatus();
      }
    }
    if (!one.ok()) return NotFoundAs(one.status(), DisplayKind(k.kind), a.name);
    answer = std::move(*one);
    items.push_back(answer);
  } else {
    std::string path = a.all_namespaces ? ResourcePath("", k.plural) : CollectionPath(k, conn->ns);
    std::string query;
    if (!a.agent.empty()) query += "agent=" + PercentEncode(a.agent);
    if (!a.phase.empty())
      query += (query.empty() ? "" : "&") + std::string("phase=") + PercentEncode(a.phase);
    if (!query.empty()) path += "?" + query;
    auto list = conn->client->Get(path);
    if (!list.ok()) return list.status();
    answer = std::move(*list);
    items = Items(answer);
    definitions = items;
    if (!a.agent_type.empty()) {
      std::erase_if(items, [&](const json::value& v) { return AgentType(v) != a.agent_type; });
      if (answer.is_object())
        answer.get_object()["items"] = json::array(items.begin(), items.end());
    }
    if (k.kind == "Agent" && a.output.empty() && a.agent_type != "service") {
      session_rows = SessionsAsAgents(*conn, a.all_namespaces);
    }
  }
  if (!a.output.empty()) {
    PrintStructured(a.output, answer);
    return absl::OkStatus();
  }
  if (items.empty() && session_rows.empty()) {
    std::cerr << "No " << k.plural << " found"
              << (a.all_namespaces ? std::string() : " in namespace " + conn->ns) << ".\n";
    return absl::OkStatus();
  }
  if (k.kind == "Agent") {
    // The Agents' Sessions need their Agents for the MODELS column (unfiltered by --type).
    std::cout
        << AgentsTable(items, session_rows, NowSeconds(), a.all_namespaces, &definitions).Render();
    return absl::OkStatus();
  }
  std::cout << ResourceTable(k.kind, items, NowSeconds(), a.all_namespaces).Render();
  return absl::OkStatus();
}

absl::Status Delete(const Globals& g, const std::string& type, const std::string& name) {
  auto info = LookupType(type);
  if (!info.ok()) return info.status();
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  const std::string display = DisplayKind((*info)->kind);
  auto r = conn->client->Call("DELETE", ItemPath(**info, conn->ns, name));
  if (!r.ok()) return NotFoundAs(r.status(), display, name);
  std::cout << display << "/" << name << " deleted\n";
  return absl::OkStatus();
}

}  // namespace

void RegisterResourceCommands(CLI::App& app, Cli& cli) {
  {
    auto* create = app.add_subcommand("create", "Create resources from a YAML file or by type");
    create->require_subcommand(0, 1);
    auto file = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    auto output = std::make_shared<std::string>();
    create->add_option("-f,--file", *file, "YAML manifest (multi-document), or - for stdin");
    create->add_option("--name", *name, "Name of the Agent (default: its name + a random suffix)");
    AddOutputOption(create, output.get());
    create->callback([&cli, create, file, name, output] {
      if (!create->get_subcommands().empty()) return;
      cli.action = [&cli, file, name, output]() -> absl::Status {
        if (file->empty()) {
          return absl::InvalidArgumentError(
              "create needs -f FILE or a type (model-provider, secret, provider, skill)");
        }
        return CreateFromFile(cli.globals, *file, *name, *output);
      };
    });

    auto mp = std::make_shared<ModelProviderArgs>();
    auto* mp_cmd = create->add_subcommand("model-provider", "Register a ModelProvider and its key");
    mp_cmd->add_option("name", mp->name, "ModelProvider name")->required();
    mp_cmd->add_option("--provider", mp->provider, "anthropic | openai | gemini | openrouter")
        ->required();
    mp_cmd->add_option("--api-key", mp->api_key, "API key (prompted when omitted)");
    mp_cmd->add_option("--max-tokens-day", mp->max_tokens_day, "Daily token cap");
    mp_cmd->add_option("--base-url", mp->base_url, "API base URL");
    mp_cmd->callback(
        [&cli, mp] { cli.action = [&cli, mp] { return CreateModelProvider(cli.globals, *mp); }; });

    auto sname = std::make_shared<std::string>();
    auto literals = std::make_shared<std::vector<std::string>>();
    auto* secret = create->add_subcommand("secret", "Create a Secret from literals");
    secret->add_option("name", *sname, "Secret name")->required();
    secret->add_option("--from-literal", *literals, "KEY=VALUE (repeatable)")->required();
    secret->callback([&cli, sname, literals] {
      cli.action = [&cli, sname, literals] { return CreateSecret(cli.globals, *sname, *literals); };
    });

    auto pname = std::make_shared<std::string>();
    auto ptype = std::make_shared<std::string>();
    auto psecret = std::make_shared<std::string>();
    auto repos = std::make_shared<std::string>();
    auto* provider = create->add_subcommand("provider", "Create a Provider (external service)");
    provider->add_option("name", *pname, "Provider name")->required();
    provider->add_option("--provider", *ptype, "github, telegram, slack, aws, azure, gcp, ...")
        ->required();
    provider->add_option("--secret-token", *psecret, "Secret holding the credentials");
    provider->add_option("--repos", *repos, "Comma-separated repositories (GitHub)");
    provider->callback([&cli, pname, ptype, psecret, repos] {
      cli.action = [&cli, pname, ptype, psecret, repos] {
        return CreateProvider(cli.globals, *pname, *ptype, *psecret, *repos);
      };
    });

    auto kname = std::make_shared<std::string>();
    auto dir = std::make_shared<std::string>();
    auto desc = std::make_shared<std::string>();
    auto* skill = create->add_subcommand("skill", "Upload a local directory as a skill bundle");
    skill->add_option("name", *kname, "Skill name")->required();
    skill->add_option("--from-dir", *dir, "Directory to upload (recursively)")->required();
    skill->add_option("-d,--description", *desc, "Description");
    skill->callback([&cli, kname, dir, desc] {
      cli.action = [&cli, kname, dir, desc] {
        return CreateSkill(cli.globals, *kname, *dir, *desc);
      };
    });
  }
  {
    auto* apply = app.add_subcommand("apply", "Create or update resources from YAML");
    auto file = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    auto output = std::make_shared<std::string>();
    apply->add_option("-f,--file", *file, "YAML manifest (multi-document), or - for stdin")
        ->required();
    apply->add_option("--name", *name, "Override the resource name (single document)");
    AddOutputOption(apply, output.get());
    apply->callback([&cli, file, name, output] {
      cli.action = [&cli, file, name, output] { return Apply(cli.globals, *file, *name, *output); };
    });
  }
  {
    auto* get = app.add_subcommand("get", "List resources, or show one");
    auto a = std::make_shared<GetArgs>();
    get->add_option("type", a->type, std::string("Resource type (default agents): ") + kTypeList);
    get->add_option("name", a->name, "Resource name");
    AddOutputOption(get, &a->output);
    get->add_option("--agent", a->agent, "Sessions of this Agent");
    get->add_option("--phase", a->phase, "Sessions in this phase");
    get->add_option("--type", a->agent_type, "Agents of this type")
        ->check(CLI::IsMember({"task", "service"}));
    get->add_option("--event-type", a->event_type, "Events of this type");
    get->add_flag("-A,--all-namespaces", a->all_namespaces, "Every namespace (admin)");
    get->callback([&cli, a] { cli.action = [&cli, a] { return Get(cli.globals, *a); }; });
  }
  {
    auto* del = app.add_subcommand("delete", "Delete a resource");
    auto type = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    del->add_option("type", *type,
                    "agent | session | model-provider | provider | secret | skill | eval | "
                    "guard-binding | paifile")
        ->required();
    del->add_option("name", *name, "Resource name")->required();
    del->callback([&cli, type, name] {
      cli.action = [&cli, type, name] { return Delete(cli.globals, *type, *name); };
    });
  }
}

}  // namespace pai::cli
