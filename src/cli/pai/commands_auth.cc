// login, logout, context, config: the verbs around ~/.pai/config.json and the caller's token.
#include <iostream>

#include "cli/pai/commands.h"
#include "cli/pai/text.h"
#include "cli/pai/views.h"

namespace pai::cli {

namespace json = boost::json;

namespace {

absl::Status Login(const std::string& url_arg, std::string token, const std::string& context_arg) {
  auto url = NormalizeServerUrl(url_arg);
  if (!url.ok()) return url.status();
  if (token.empty()) {
    auto read = ReadSecretLine("Token: ", "token");
    if (!read.ok()) return read.status();
    token = std::move(*read);
  }
  Client client(*url, token);
  auto who = client.Get("/apis/pai.io/v1/whoami");
  if (!who.ok()) {
    if (absl::IsUnauthenticated(who.status())) {
      return absl::UnauthenticatedError("login failed: " + std::string(who.status().message()));
    }
    return who.status();
  }
  const std::string ns = StrAt(*who, {"namespace"});
  if (ns.empty()) return absl::InternalError("login failed: whoami did not name a namespace");
  const std::string name = context_arg.empty() ? DeriveContextName(ns, *url) : context_arg;

  const std::string path = ConfigPath();
  auto cfg = LoadConfig(path);
  if (!cfg.ok()) return cfg.status();
  cfg->contexts[name] = Context{*url, token, ns};
  cfg->current_context = name;
  if (auto s = SaveConfig(path, *cfg); !s.ok()) return s;
  std::cout << "Logged in to " << *url << " as "
            << (ns == "*" ? std::string("admin (namespace *)") : "namespace " + ns) << " (context "
            << name << ")\n";
  return absl::OkStatus();
}

absl::Status Logout(const std::string& context_arg) {
  const std::string path = ConfigPath();
  auto cfg = LoadConfig(path);
  if (!cfg.ok()) return cfg.status();
  const std::string name = context_arg.empty() ? cfg->current_context : context_arg;
  if (name.empty()) return absl::FailedPreconditionError("not logged in (run pai login <url>)");
  if (cfg->contexts.erase(name) == 0) {
    return absl::NotFoundError("context \"" + name + "\" not found");
  }
  if (cfg->current_context == name) cfg->current_context.clear();
  if (auto s = SaveConfig(path, *cfg); !s.ok()) return s;
  std::cout << "Logged out of context " << name << "\n";
  return absl::OkStatus();
}

absl::Status ContextList() {
  auto cfg = LoadConfig(ConfigPath());
  if (!cfg.ok()) return cfg.status();
  for (const auto& [name, ctx] : cfg->contexts) {
    std::cout << name << (name == cfg->current_context ? " (active)" : "") << "\n";
  }
  return absl::OkStatus();
}

absl::Status ContextUse(const std::string& name) {
  const std::string path = ConfigPath();
  auto cfg = LoadConfig(path);
  if (!cfg.ok()) return cfg.status();
  if (!cfg->contexts.contains(name))
    return absl::NotFoundError("context \"" + name + "\" not found");
  cfg->current_context = name;
  if (auto s = SaveConfig(path, *cfg); !s.ok()) return s;
  std::cout << "Switched to context " << name << "\n";
  return absl::OkStatus();
}

absl::Status ContextDelete(const std::string& name) {
  const std::string path = ConfigPath();
  auto cfg = LoadConfig(path);
  if (!cfg.ok()) return cfg.status();
  if (cfg->contexts.erase(name) == 0) {
    return absl::NotFoundError("context \"" + name + "\" not found");
  }
  if (cfg->current_context == name) cfg->current_context.clear();
  if (auto s = SaveConfig(path, *cfg); !s.ok()) return s;
  std::cout << "Deleted context " << name << "\n";
  return absl::OkStatus();
}

absl::Status ConfigSet(const std::string& key, const std::string& value) {
  const std::string path = ConfigPath();
  auto cfg = LoadConfig(path);
  if (!cfg.ok()) return cfg.status();
  cfg->settings[key] = value;
  return SaveConfig(path, *cfg);
}

absl::Status ConfigGet(const std::string& key) {
  auto cfg = LoadConfig(ConfigPath());
  if (!cfg.ok()) return cfg.status();
  auto it = cfg->settings.find(key);
  if (it == cfg->settings.end())
    return absl::NotFoundError("config key \"" + key + "\" is not set");
  std::cout << it->second << "\n";
  return absl::OkStatus();
}

absl::Status ConfigList() {
  auto cfg = LoadConfig(ConfigPath());
  if (!cfg.ok()) return cfg.status();
  for (const auto& [k, v] : cfg->settings) std::cout << k << " = " << v << "\n";
  return absl::OkStatus();
}

std::string EnvPath(const std::string& key) {
  return "/apis/pai.io/v1/whoami/env/" + PercentEncode(key);
}

absl::Status SetEnv(const Globals& g, const std::string& key, const std::string& value) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  auto r = conn->client->Call("PUT", EnvPath(key), json::value(json::object{{"value", value}}));
  if (!r.ok()) return r.status();
  std::cout << key << " set\n";
  return absl::OkStatus();
}

absl::Status UnsetEnv(const Globals& g, const std::string& key) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  auto r = conn->client->Call("DELETE", EnvPath(key));
  if (absl::IsNotFound(r.status()))
    return absl::NotFoundError("env variable " + key + " is not set");
  if (!r.ok()) return r.status();
  std::cout << key << " unset\n";
  return absl::OkStatus();
}

absl::Status ListEnv(const Globals& g) {
  auto conn = Connect(g);
  if (!conn.ok()) return conn.status();
  auto who = conn->client->Get("/apis/pai.io/v1/whoami");
  if (!who.ok()) return who.status();
  const json::value* env = At(*who, {"env"});
  std::cout << EnvList(env != nullptr && env->is_object() ? env->get_object() : json::object());
  return absl::OkStatus();
}

}  // namespace

void RegisterAuthCommands(CLI::App& app, Cli& cli) {
  {
    auto* sub = app.add_subcommand("login", "Connect to a Pai platform and store a named context");
    auto url = std::make_shared<std::string>();
    auto token = std::make_shared<std::string>();
    auto context = std::make_shared<std::string>();
    sub->add_option("url", *url,
                    "Server URL; without a scheme: https:// for host names "
                    "(localhost too), http:// for raw IPs")
        ->required();
    sub->add_option("--token", *token, "Access token (prompted when omitted)");
    sub->add_option("--context", *context, "Context name (default <namespace>@<host label>)");
    sub->callback([&cli, url, token, context] {
      cli.action = [=] { return Login(*url, *token, *context); };
    });
  }
  {
    auto* sub = app.add_subcommand("logout", "Remove the stored credentials of a context");
    auto context = std::make_shared<std::string>();
    sub->add_option("--context", *context, "Context (default: the active one)");
    sub->callback([&cli, context] { cli.action = [=] { return Logout(*context); }; });
  }
  {
    auto* ctx = app.add_subcommand("context", "Manage named auth contexts");
    ctx->require_subcommand(1);
    ctx->add_subcommand("list", "List contexts")->callback([&cli] { cli.action = ContextList; });
    auto name = std::make_shared<std::string>();
    auto* use = ctx->add_subcommand("use", "Switch the active context");
    use->add_option("name", *name, "Context name")->required();
    use->callback([&cli, name] { cli.action = [=] { return ContextUse(*name); }; });
    auto* del = ctx->add_subcommand("delete", "Delete a context");
    del->add_option("name", *name, "Context name")->required();
    del->callback([&cli, name] { cli.action = [=] { return ContextDelete(*name); }; });
  }
  {
    auto* config = app.add_subcommand("config", "Local settings and user env variables");
    config->require_subcommand(1);
    auto key = std::make_shared<std::string>();
    auto value = std::make_shared<std::string>();
    auto* set = config->add_subcommand("set", "Set a local setting (e.g. default_namespace)");
    set->add_option("key", *key)->required();
    set->add_option("value", *value)->required();
    set->callback([&cli, key, value] { cli.action = [=] { return ConfigSet(*key, *value); }; });
    auto* get = config->add_subcommand("get", "Print a local setting");
    get->add_option("key", *key)->required();
    get->callback([&cli, key] { cli.action = [=] { return ConfigGet(*key); }; });
    config->add_subcommand("list", "List local settings")->callback([&cli] {
      cli.action = ConfigList;
    });
    auto* set_env = config->add_subcommand(
        "set-env", "Set a user env variable (injected into every new agent pod)");
    set_env->add_option("key", *key)->required();
    set_env->add_option("value", *value)->required();
    set_env->callback([&cli, key, value] {
      cli.action = [&cli, key, value] { return SetEnv(cli.globals, *key, *value); };
    });
    auto* unset_env = config->add_subcommand("unset-env", "Unset a user env variable");
    unset_env->add_option("key", *key)->required();
    unset_env->callback(
        [&cli, key] { cli.action = [&cli, key] { return UnsetEnv(cli.globals, *key); }; });
    config->add_subcommand("list-env", "List user env variables")->callback([&cli] {
      cli.action = [&cli] { return ListEnv(cli.globals); };
    });
  }
}

}  // namespace pai::cli
