// eval, audit, admin (access and gateway tokens), migrate-agents, version, and the verbs that
// wait for the agent runtime.
#include <iostream>

#include "boost/json/serialize.hpp"
#include "cli/pai/commands.h"
#include "cli/pai/text.h"
#include "cli/pai/views.h"

namespace pai::cli {

namespace json = boost::json;

namespace {

std::vector<json::value> Items(const json::value& list) {
  const json::value* items = At(list, {"items"});
  if (items != nullptr && items->is_array())
    return {items->get_array().begin(), items->get_array().end()};
  if (list.is_array()) return {list.get_array().begin(), list.get_array().end()};
  return {};
}

std::string AgentPath(const Conn& conn, const std::string& agent) {
  return ResourcePath(conn.ns, "agents", agent);
}

// --- eval ---

absl::Status EvalList(const Globals& g, const std::string& output) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  auto list = conn->client->Get(ResourcePath(conn->ns, "evals"));
  if (!list.ok()) return list.status();
  if (!output.empty()) {
    PrintStructured(output, *list);
  } else {
    std::cout << cli::EvalList(Items(*list));
  }
  return absl::OkStatus();
}

absl::Status EvalGet(const Globals& g, const std::string& name, const std::string& output) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  auto eval = conn->client->Get(ResourcePath(conn->ns, "evals", name));
  if (!eval.ok()) return NotFoundAs(eval.status(), "eval", name);
  if (!output.empty()) {
    PrintStructured(output, *eval);
  } else {
    std::cout << cli::EvalGet(*eval);
  }
  return absl::OkStatus();
}

// --- audit ---

struct AuditArgs {
  std::string agent;
  bool verify = false;
  int64_t limit = 0;
  std::string since;
  std::string type;
  std::string format;
};

absl::Status Verify(Conn& conn) {
  auto v = conn.client->Get("/apis/pai.io/v1/audit/verify");
  if (!v.ok()) return v.status();
  const json::value* ok = At(*v, {"ok"});
  const bool intact = ok != nullptr && ok->is_bool() && ok->get_bool();
  const auto records = IntAt(*v, {"records"});
  if (intact) {
    std::cout << "gateway chain: intact (" << records.value_or(0) << " records verified)\n";
  } else {
    std::string line = "gateway chain: BROKEN";
    if (auto seq = IntAt(*v, {"first_bad_seq"})) line += " at seq " + std::to_string(*seq);
    std::string reason = StrAt(*v, {"reason"});
    if (reason.empty()) reason = "details need an admin token";
    std::cout << line << ": " << reason << "\n";
  }
  std::cout << "note: the per-agent sidecar chain arrives with the binding proxy; --verify checks "
               "the platform-wide gateway chain\n";
  return intact ? absl::OkStatus() : Silent();
}

absl::Status Audit(const Globals& g, const AuditArgs& a) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  if (a.verify) return Verify(*conn);
  if (a.agent.empty()) return absl::InvalidArgumentError("audit needs an agent NAME");
  std::string query;
  auto add = [&](const std::string& k, const std::string& v) {
    query += (query.empty() ? "?" : "&") + k + "=" + PercentEncode(v);
  };
  if (a.limit > 0) add("limit", std::to_string(a.limit));
  if (!a.since.empty()) add("since", a.since);
  if (!a.type.empty()) add("type", a.type);
  auto r = conn->client->Get(AgentPath(*conn, a.agent) + "/audit" + query);
  if (!r.ok()) return NotFoundAs(r.status(), "agent", a.agent);
  json::array records;
  if (r->is_array()) {
    records = r->get_array();
  } else if (const json::value* items = At(*r, {"items"}); items != nullptr && items->is_array()) {
    records = items->get_array();
  }
  if (a.format == "json") {
    for (const auto& rec : records) std::cout << json::serialize(rec) << "\n";
    return absl::OkStatus();
  }
  std::cout << AuditTable(records);
  return absl::OkStatus();
}

// --- admin token ---

absl::Status TokenCreate(const std::string& ns, const std::string& description,
                         const std::string& expires) {
  auto conn = Connect(Globals{});
  if (!conn.ok()) return conn.status();
  json::object spec{{"targetNamespace", ns}};
  if (!description.empty()) spec["description"] = description;
  if (!expires.empty()) {
    // A date alone means its first second, UTC.
    spec["expiresAt"] = expires.size() == 10 ? expires + "T00:00:00Z" : expires;
  }
  auto r = conn->client->Call("POST", "/apis/pai.io/v1/paiaccesstokens",
                              json::value(json::object{{"spec", std::move(spec)}}));
  if (!r.ok()) return r.status();
  const std::string token = StrAt(r->body, {"token"});
  std::cout << "Token " << StrAt(r->body, {"metadata", "name"}) << " created for namespace " << ns
            << " (shown once, store it securely):\n"
            << token << "\n";
  return absl::OkStatus();
}

absl::Status TokenList(const std::string& output) {
  auto conn = Connect(Globals{});
  if (!conn.ok()) return conn.status();
  auto list = conn->client->Get("/apis/pai.io/v1/paiaccesstokens");
  if (!list.ok()) return list.status();
  if (!output.empty()) {
    PrintStructured(output, *list);
    return absl::OkStatus();
  }
  std::cout << ResourceTable("PaiAccessToken", Items(*list), NowSeconds(), false).Render();
  return absl::OkStatus();
}

absl::Status TokenRevoke(const std::string& name) {
  auto conn = Connect(Globals{});
  if (!conn.ok()) return conn.status();
  auto r = conn->client->Call("DELETE", "/apis/pai.io/v1/paiaccesstokens/" + PercentEncode(name));
  if (!r.ok()) return NotFoundAs(r.status(), "token", name);
  std::cout << "token/" << name << " revoked\n";
  return absl::OkStatus();
}

// --- admin gateway-token ---

absl::Status GatewayTokenCreate(const Globals& g, const std::string& agent) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  auto r = conn->client->Call("POST", AgentPath(*conn, agent) + "/gatewaytokens",
                              json::value(json::object()));
  if (!r.ok()) return NotFoundAs(r.status(), "agent", agent);
  std::cout << "Gateway token " << StrAt(r->body, {"id"}) << " created for agent " << conn->ns
            << "/" << agent << " (shown once, store it securely):\n"
            << StrAt(r->body, {"token"}) << "\n"
            << "Use it as the API key of an OpenAI-compatible client whose base URL is the "
               "gateway's /v1 (e.g. http://127.0.0.1:4000/v1).\n";
  return absl::OkStatus();
}

absl::Status GatewayTokenList(const Globals& g, const std::string& agent,
                              const std::string& output) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  auto list = conn->client->Get(AgentPath(*conn, agent) + "/gatewaytokens");
  if (!list.ok()) return NotFoundAs(list.status(), "agent", agent);
  if (!output.empty()) {
    PrintStructured(output, *list);
    return absl::OkStatus();
  }
  Table table({"ID", "AGENT", "CREATED", "REVOKED"});
  for (const auto& t : Items(*list)) {
    const json::value* revoked = At(t, {"revoked"});
    std::string rev = kNone;
    if (revoked != nullptr && !revoked->is_null()) {
      rev = revoked->is_bool() ? (revoked->get_bool() ? "yes" : "no") : ScalarText(*revoked);
    }
    const json::value* created = At(t, {"created"});
    table.AddRow({StrAt(t, {"id"}), StrAt(t, {"agent"}),
                  created != nullptr ? ScalarText(*created) : kNone, rev});
  }
  std::cout << table.Render();
  return absl::OkStatus();
}

absl::Status GatewayTokenRevoke(const Globals& g, const std::string& agent, const std::string& id) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  auto r =
      conn->client->Call("DELETE", AgentPath(*conn, agent) + "/gatewaytokens/" + PercentEncode(id));
  if (!r.ok()) return NotFoundAs(r.status(), "gateway token", id);
  std::cout << "gateway-token/" << id << " revoked\n";
  return absl::OkStatus();
}

// --- migrate-agents ---

absl::Status Migrate(const Globals& g, bool dry_run, const std::string& output) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  const std::string path = "/apis/pai.io/v1/namespaces/" + PercentEncode(conn->ns) +
                           "/migrate-agents" + (dry_run ? "?dryRun=true" : "");
  auto r = conn->client->Call("POST", path);
  if (!r.ok()) return r.status();
  if (!output.empty()) {
    PrintStructured(output, r->body);
  } else {
    std::cout << MigrateView(r->body, dry_run);
  }
  return absl::OkStatus();
}

// Unavailable(): a verb of the seeds that needs Sessions and the agent runtime.
void AddRuntimeVerb(CLI::App& app, Cli& cli, const std::string& verb, const std::string& help,
                    const std::function<void(CLI::App*)>& flags) {
  auto* sub = app.add_subcommand(verb, help + " (not available in this version)");
  sub->allow_extras();
  sub->fallthrough(false);  // keep "-- cmd args" here rather than hand them to `pai`
  flags(sub);
  // Names, commands after "--", paths: whatever the verb would take, kept as extras.
  sub->prefix_command();
  sub->callback([&cli, verb] {
    cli.action = [verb] {
      return absl::UnimplementedError(verb +
                                      " needs sessions and the agent runtime (not available in "
                                      "this version)");
    };
  });
}

}  // namespace

void RegisterPlatformCommands(CLI::App& app, Cli& cli) {
  {
    auto* eval = app.add_subcommand("eval", "List, describe and run Evals");
    eval->require_subcommand(1);
    auto output = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    auto* list = eval->add_subcommand("list", "Table of evals");
    list->alias("ls");
    AddOutputOption(list, output.get());
    list->callback(
        [&cli, output] { cli.action = [&cli, output] { return EvalList(cli.globals, *output); }; });
    auto* get = eval->add_subcommand("get", "One eval's status with its fixture results");
    get->alias("describe");
    get->alias("show");
    get->add_option("name", *name, "Eval name")->required();
    AddOutputOption(get, output.get());
    get->callback([&cli, name, output] {
      cli.action = [&cli, name, output] { return EvalGet(cli.globals, *name, *output); };
    });
    auto* run = eval->add_subcommand("run", "Trigger an eval run (not available yet)");
    auto wait = std::make_shared<bool>(false);
    auto timeout = std::make_shared<int>(600);
    run->add_option("name", *name, "Eval name")->required();
    run->add_flag("--wait", *wait, "Block until Pass / Fail");
    run->add_option("--timeout", *timeout, "Seconds to wait with --wait");
    run->callback([&cli] {
      cli.action = [] {
        return absl::UnimplementedError("eval run arrives with evals (not available yet)");
      };
    });
  }
  {
    auto a = std::make_shared<AuditArgs>();
    auto* audit =
        app.add_subcommand("audit", "An agent's gateway audit records; --verify the chain");
    audit->add_option("name", a->agent, "Agent name");
    audit->add_flag("--verify", a->verify, "Verify the platform-wide gateway chain");
    audit->add_option("--limit", a->limit, "Newest N records (default 50)")
        ->check(CLI::Range(int64_t{1}, int64_t{100000}));
    audit->add_option("--since", a->since, "1h, 24h, or an RFC 3339 time");
    audit->add_option("--type", a->type, "Case-insensitive substrings, comma-separated");
    audit->add_option("--format", a->format, "json: raw JSONL")->check(CLI::IsMember({"json"}));
    audit->callback([&cli, a] { cli.action = [&cli, a] { return Audit(cli.globals, *a); }; });
  }
  {
    auto* admin = app.add_subcommand("admin", "Platform administration (admin token)");
    admin->require_subcommand(1);
    auto* token = admin->add_subcommand("token", "Platform access tokens");
    token->require_subcommand(1);
    auto ns = std::make_shared<std::string>();
    auto desc = std::make_shared<std::string>();
    auto expires = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>();
    auto output = std::make_shared<std::string>();
    auto* create = token->add_subcommand("create", "Create an access token (shown once)");
    create->add_option("-n,--namespace", *ns, "Target namespace; * grants admin")->required();
    create->add_option("-d,--description", *desc, "Description");
    create->add_option("--expires", *expires, "Expiry, ISO 8601 (2026-12-31 or RFC 3339)");
    create->callback([&cli, ns, desc, expires] {
      cli.action = [ns, desc, expires] { return TokenCreate(*ns, *desc, *expires); };
    });
    auto* list = token->add_subcommand("list", "List access tokens");
    AddOutputOption(list, output.get());
    list->callback([&cli, output] { cli.action = [output] { return TokenList(*output); }; });
    auto* revoke = token->add_subcommand("revoke", "Revoke an access token");
    revoke->add_option("name", *name, "Token name (tok-…)")->required();
    revoke->callback([&cli, name] { cli.action = [name] { return TokenRevoke(*name); }; });

    auto* gw = admin->add_subcommand("gateway-token",
                                     "Gateway identities for agents that run outside Pai");
    gw->require_subcommand(1);
    auto agent = std::make_shared<std::string>();
    auto* gcreate = gw->add_subcommand("create", "Mint a gateway token for an agent (shown once)");
    gcreate->add_option("--agent", *agent, "Agent name")->required();
    gcreate->callback([&cli, agent] {
      cli.action = [&cli, agent] { return GatewayTokenCreate(cli.globals, *agent); };
    });
    auto* glist = gw->add_subcommand("list", "List an agent's gateway tokens");
    glist->add_option("--agent", *agent, "Agent name")->required();
    AddOutputOption(glist, output.get());
    glist->callback([&cli, agent, output] {
      cli.action = [&cli, agent, output] { return GatewayTokenList(cli.globals, *agent, *output); };
    });
    auto* grevoke = gw->add_subcommand("revoke", "Revoke a gateway token");
    grevoke->add_option("id", *name, "Token id")->required();
    grevoke->add_option("--agent", *agent, "Agent name")->required();
    grevoke->callback([&cli, agent, name] {
      cli.action = [&cli, agent, name] { return GatewayTokenRevoke(cli.globals, *agent, *name); };
    });
  }
  {
    auto* migrate = app.add_subcommand("migrate-agents", "Rewrite legacy Agents in place");
    auto dry = std::make_shared<bool>(false);
    auto output = std::make_shared<std::string>();
    migrate->add_flag("--dry-run", *dry, "Show the changes, write nothing");
    AddOutputOption(migrate, output.get());
    migrate->callback([&cli, dry, output] {
      cli.action = [&cli, dry, output] { return Migrate(cli.globals, *dry, *output); };
    });
  }
  app.add_subcommand("version", "Print the CLI version")->callback([&cli] {
    cli.action = [] {
      std::cout << "pai v" << kVersion << "\n";
      return absl::OkStatus();
    };
  });

  // The verbs of the seeds that are not built yet: flags as documented, one-line refusal.
  // (run, chat, logs, exec and cp: commands_sessions.cc.)
  auto none = [](CLI::App*) {};
  AddRuntimeVerb(app, cli, "claude", "Claude Code session inside a running agent", none);
  AddRuntimeVerb(app, cli, "relay", "Bridge a local Chrome to a browser-relay agent",
                 [](CLI::App* s) {
                   s->add_option("--token");
                   s->add_option("--chrome-port");
                 });
  AddRuntimeVerb(app, cli, "scaling", "Autoscaling status of an agent",
                 [](CLI::App* s) { s->add_flag("-w,--watch"); });
}

}  // namespace pai::cli
