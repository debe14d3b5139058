// pai-gateway: the command line (shared/design/ARCHITECTURE.md, "Command-line contract").
//
//   pai-gateway [-f PATH ...] [--listen HOST:PORT] [--admin-listen HOST:PORT] [--state-dir DIR]
//               [--admin-token-file PATH] [--metrics-auth] [--max-connections N] ...
//   pai-gateway token --agent [NAMESPACE/]NAME [-f PATH ...] [--state-dir DIR]
//   pai-gateway token list [--state-dir DIR]
//   pai-gateway token revoke ID [--state-dir DIR]
//   pai-gateway count-tokens --model ID [--provider KIND] [--route chat|responses] < BODY
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "audit/chain.h"
#include "auth/token_store.h"
#include "cli/count_tokens.h"
#include "common/log.h"
#include "common/strings.h"
#include "config/default_config.h"
#include "config/manifest.h"
#include "gateway/gateway.h"
#include "gateway/server/admin_auth.h"

namespace {

using pai::gateway::GatewayOptions;

constexpr char kVersion[] = "0.1.0";

// Fail() prints one line and returns the exit code for command-line and set-up errors.
int Fail(const std::string& message) {
  std::fprintf(stderr, "pai-gateway: %s\n", message.c_str());
  return 2;
}

std::string QualifiedAgent(const std::string& agent) {
  return agent.find('/') == std::string::npos ? pai::StrCat("default/", agent) : agent;
}

int MintToken(const std::vector<std::string>& paths, const std::string& state_dir,
              const std::string& agent_arg) {
  const std::string agent = QualifiedAgent(agent_arg);
  const auto env = pai::config::ProcessEnvironment();
  std::vector<pai::config::Source> sources;
  if (paths.empty()) {
    sources.push_back({"(embedded default)", pai::config::DefaultManifest(env)});
  } else {
    auto read = pai::config::ReadSources(paths);
    if (!read.ok()) return Fail(std::string(read.status().message()));
    sources = std::move(*read);
  }
  auto cfg = pai::config::ParseManifests(sources, env);
  if (!cfg.ok()) return Fail(std::string(cfg.status().message()));
  if (!cfg->agents.contains(agent)) {
    return Fail(pai::StrCat("no Agent ", agent, " in the configuration"));
  }
  auto minted = pai::auth::MintToken(state_dir, agent);
  if (!minted.ok()) return Fail(std::string(minted.status().message()));
  std::cout << minted->token << std::endl;
  return 0;
}

void PrintBanner(const pai::gateway::Listening& l, const std::string& token) {
  std::cout << "\n"
            << "pai-gateway is running on the embedded default configuration.\n"
            << "  agent API : http://" << l.listen << "/v1   (OpenAI-compatible)\n"
            << "  admin     : http://" << l.admin_listen << "/metrics  /healthz  /readyz\n"
            << "  agent     : " << pai::config::kDemoAgent << "\n"
            << "  token     : " << token << "\n\n"
            << "Try it:\n"
            << "  curl -s http://" << l.listen << "/v1/chat/completions \\\n"
            << "    -H 'Authorization: Bearer " << token << "' \\\n"
            << "    -H 'Content-Type: application/json' \\\n"
            << "    -d '{\"model\":\"mock/gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"Hello\"}]}'\n\n"
            << "or with the OpenAI SDK (npm install openai):\n"
            << "  import OpenAI from 'openai';\n"
            << "  const client = new OpenAI({ baseURL: 'http://" << l.listen << "/v1', apiKey: '"
            << token << "' });\n"
            << "  const r = await client.chat.completions.create({ model: 'mock/gpt-4o-mini',\n"
            << "    messages: [{ role: 'user', content: 'Hello' }] });\n"
            << "  console.log(r.choices[0].message.content);\n\n"
            << "Stop with Ctrl-C (drains in-flight requests first).\n"
            << std::endl;
}

}  // namespace

static int Main(int argc, char** argv) {
  CLI::App app{"pai-gateway: an OpenAI-compatible LLM gateway for AI agents"};
  app.set_version_flag("--version", kVersion);
  GatewayOptions opts;
  std::string log_level = "info";
  int64_t header_timeout_ms = opts.header_timeout.count();
  int64_t body_timeout_ms = opts.body_timeout.count();
  int64_t idle_timeout_ms = opts.idle_timeout.count();
  int64_t connect_ms = opts.upstream_connect_timeout.count();
  int64_t first_byte_ms = opts.upstream_first_byte_timeout.count();
  int64_t upstream_idle_ms = opts.upstream_idle_timeout.count();
  int64_t drain_ms = opts.drain_timeout.count();
  int64_t watch_ms = opts.watch_interval.count();
  int64_t stream_duration_ms = opts.stream_limits.max_duration.count();
  int64_t stream_ms_per_token = opts.stream_limits.ms_per_token.count();

  app.add_option("-f,--file", opts.config_paths,
                 "Manifest file or directory (repeatable); none: embedded default config");
  app.add_option("--listen", opts.listen, "Agent-facing API address HOST:PORT")
      ->capture_default_str();
  app.add_option("--admin-listen", opts.admin_listen,
                 "Admin address for /metrics, /healthz, /readyz, /audit, /usage; off loopback "
                 "it needs --admin-token-file")
      ->capture_default_str();
  app.add_option("--admin-token-file", opts.admin_token_file,
                 "File whose first line is the admin listener's bearer token (required by "
                 "/audit, /audit/verify, /usage; by /metrics with --metrics-auth)");
  app.add_flag("--metrics-auth", opts.metrics_auth,
               "/metrics also needs the admin token (default: open, for scrapers)");
  app.add_option(
         "--max-connections", opts.max_connections,
         "Open client connections allowed (0: RLIMIT_NOFILE minus a reserve of "
         "max(64, limit/2) for provider sockets); the oldest idle one is evicted at the cap")
      ->capture_default_str();
  app.add_option("--max-buffered-body-bytes", opts.max_buffered_body_bytes,
                 "Request-body bytes buffered at once across all connections (503 above)")
      ->capture_default_str();
  app.add_option("--count-margin-percent", opts.count_margin_percent,
                 "Margin added to a provider's input token count (Anthropic count_tokens, Gemini "
                 "countTokens), asked when a request's byte bound does not fit a budget")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--state-dir", opts.state_dir, "State directory (tokens)")->capture_default_str();
  app.add_option("--tokens-file", opts.tokens_file,
                 "Agent token file, watched for changes (default: <state-dir>/tokens.json); "
                 "replicas share one, e.g. a mounted Secret");
  app.add_option("--ca-file", opts.ca_file, "Extra CA bundle (PEM) for provider TLS");
  app.add_option("--threads", opts.threads, "Worker threads (0: one per core)")
      ->capture_default_str();
  app.add_option("--max-body-bytes", opts.max_body_bytes, "Largest request body (413 above)")
      ->capture_default_str();
  app.add_option("--max-header-bytes", opts.max_header_bytes,
                 "Largest request header block (431 above)")
      ->capture_default_str();
  app.add_option("--max-response-bytes", opts.max_response_bytes,
                 "Largest buffered (non-streaming) provider response")
      ->capture_default_str();
  app.add_option("--header-timeout-ms", header_timeout_ms, "Time to read a request header")
      ->capture_default_str();
  app.add_option("--body-timeout-ms", body_timeout_ms,
                 "Time to read a request body; also each response write")
      ->capture_default_str();
  app.add_option("--idle-timeout-ms", idle_timeout_ms, "Keep-alive idle time between requests")
      ->capture_default_str();
  app.add_option("--upstream-connect-timeout-ms", connect_ms, "Provider connect + TLS timeout")
      ->capture_default_str();
  app.add_option("--upstream-first-byte-timeout-ms", first_byte_ms,
                 "Provider time to response header")
      ->capture_default_str();
  app.add_option("--upstream-idle-timeout-ms", upstream_idle_ms,
                 "Provider silence allowed between body reads")
      ->capture_default_str();
  app.add_option("--max-sse-event-bytes", opts.stream_limits.max_event_bytes,
                 "Largest event in a provider's stream (the stream ends with an error above)")
      ->capture_default_str();
  app.add_option("--stream-bytes-per-token", opts.stream_limits.bytes_per_token,
                 "Provider stream bytes allowed per output token of the request's limit")
      ->capture_default_str();
  app.add_option("--max-stream-bytes", opts.stream_limits.max_stream_bytes,
                 "Most bytes of one provider stream (also the bound without an output limit)")
      ->capture_default_str();
  app.add_option("--max-stream-duration-ms", stream_duration_ms,
                 "Longest provider stream, response header to last byte (also the bound "
                 "without an output limit)")
      ->capture_default_str();
  app.add_option("--stream-ms-per-token", stream_ms_per_token,
                 "Provider stream time allowed per output token of the request's limit, after "
                 "120 s for the first token")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--drain-timeout-ms", drain_ms, "Grace period for in-flight requests on SIGTERM")
      ->capture_default_str();
  app.add_option("--watch-interval-ms", watch_ms, "Config and token file polling interval")
      ->capture_default_str();
  app.add_flag("--access-log,!--no-access-log", opts.access_log,
               "One JSON access-log line per request (default on)");
  app.add_flag("--audit,!--no-audit", opts.audit,
               "Write the HMAC audit chain in <state-dir>/audit (default on)");
  app.add_option("--audit-key-file", opts.audit_key_files,
                 "Audit HMAC key (hex); repeatable: the first signs, all verify (rotation)");
  std::string audit_sync = "group";
  app.add_option("--audit-sync", audit_sync,
                 "When an audit record is acknowledged (a call's success waits for it): group = "
                 "written, survives kill -9, synced within --audit-sync-interval-ms; strict = "
                 "synced to disk (survives an OS crash)")
      ->check(CLI::IsMember({"group", "strict"}))
      ->capture_default_str();
  int64_t audit_sync_ms = opts.audit_sync_interval.count();
  app.add_option("--audit-sync-interval-ms", audit_sync_ms,
                 "group: longest time from a record's write to its sync")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--redis", opts.redis_url,
                 "Share budgets, request windows and concurrency slots with every replica "
                 "given the same Redis: redis://[:password@]host[:port][/db] or "
                 "unix:///path.sock[?db=N] (default: the embedded store in <state-dir>)");
  app.add_option("--redis-replica-id", opts.redis_replica_id,
                 "This replica's id in Redis (default: random; e.g. the pod name)");
  int64_t redis_timeout_ms = opts.redis_timeout.count();
  app.add_option("--redis-timeout-ms", redis_timeout_ms,
                 "Redis connect and round-trip timeout; a budgeted call waits at most this long")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  int64_t redis_lease_ms = opts.redis_lease.count();
  app.add_option("--redis-lease-ms", redis_lease_ms,
                 "How long a silent replica's reservations stay held before another replica "
                 "charges them in full and frees its slots (renewed every quarter of it)")
      ->check(CLI::Range(200, 3600000))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "debug | info | warn | error")->capture_default_str();

  auto* token = app.add_subcommand("token", "Mint, list or revoke agent tokens");
  std::vector<std::string> token_paths;
  std::string token_state_dir = opts.state_dir;
  std::string token_agent;
  token->add_option("-f,--file", token_paths, "Manifests that define the agent");
  token->add_option("--state-dir", token_state_dir, "State directory")->capture_default_str();
  token->add_option("--agent", token_agent, "[NAMESPACE/]NAME of the Agent to mint a token for");
  token->require_subcommand(0, 1);
  auto* list = token->add_subcommand("list", "List tokens (id, agent, created, revoked)");
  auto* revoke = token->add_subcommand("revoke", "Revoke a token by id");
  std::string revoke_id;
  revoke->add_option("id", revoke_id, "Token id (the part after pai_)")->required();
  for (auto* sub : {list, revoke}) {
    sub->add_option("--state-dir", token_state_dir, "State directory")->capture_default_str();
  }

  auto* audit_cmd = app.add_subcommand("audit", "Audit chain tools");
  audit_cmd->require_subcommand(1);
  auto* verify = audit_cmd->add_subcommand(
      "verify", "Check the chain offline: exit 0 when intact, 1 when broken");
  std::string audit_state_dir = opts.state_dir;
  std::vector<std::string> verify_keys;
  verify->add_option("--state-dir", audit_state_dir, "State directory")->capture_default_str();
  verify->add_option("--audit-key-file", verify_keys,
                     "Key files (hex), repeatable; default <state-dir>/audit/key");

  pai::cli::CountTokensCommand count_tokens;
  pai::cli::AddCountTokens(app, count_tokens);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  pai::log::Level level;
  if (!pai::log::ParseLevel(log_level, &level)) return Fail("--log-level: unknown level");
  pai::log::Init(level);

  if (count_tokens.app->parsed()) return pai::cli::RunCountTokens(count_tokens);

  if (verify->parsed()) {
    const std::string dir = audit_state_dir + "/audit";
    if (verify_keys.empty()) verify_keys.push_back(dir + "/key");
    std::vector<pai::audit::Key> keys;
    for (const std::string& f : verify_keys) {
      auto k = pai::audit::LoadKeyFile(f);
      if (!k.ok()) return Fail(std::string(k.status().message()));
      keys.push_back(*k);
    }
    const pai::audit::VerifyResult r = pai::audit::Verify(dir, keys);
    std::cout << pai::audit::VerifyResultJson(r) << std::endl;
    return r.ok ? 0 : 1;
  }

  if (token->parsed()) {
    if (list->parsed()) {
      auto store = pai::auth::TokenStore::Load(token_state_dir);
      if (!store.ok()) return Fail(std::string(store.status().message()));
      for (const auto& r : (*store)->records()) {
        std::cout << r.id << "\t" << r.agent << "\t" << r.created << "\t"
                  << (r.revoked.empty() ? "active" : "revoked " + r.revoked) << "\n";
      }
      return 0;
    }
    if (revoke->parsed()) {
      auto s = pai::auth::RevokeToken(token_state_dir, revoke_id);
      if (!s.ok()) return Fail(std::string(s.message()));
      std::cout << "revoked " << revoke_id << std::endl;
      return 0;
    }
    if (token_agent.empty()) return Fail("token: --agent is required");
    return MintToken(token_paths, token_state_dir, token_agent);
  }

  opts.header_timeout = std::chrono::milliseconds(header_timeout_ms);
  opts.body_timeout = std::chrono::milliseconds(body_timeout_ms);
  opts.idle_timeout = std::chrono::milliseconds(idle_timeout_ms);
  opts.upstream_connect_timeout = std::chrono::milliseconds(connect_ms);
  opts.upstream_first_byte_timeout = std::chrono::milliseconds(first_byte_ms);
  opts.upstream_idle_timeout = std::chrono::milliseconds(upstream_idle_ms);
  opts.drain_timeout = std::chrono::milliseconds(drain_ms);
  opts.watch_interval = std::chrono::milliseconds(watch_ms);
  opts.stream_limits.max_duration = std::chrono::milliseconds(stream_duration_ms);
  opts.stream_limits.ms_per_token = std::chrono::milliseconds(stream_ms_per_token);
  opts.audit_sync_strict = audit_sync == "strict";
  opts.audit_sync_interval = std::chrono::milliseconds(audit_sync_ms);
  opts.redis_timeout = std::chrono::milliseconds(redis_timeout_ms);
  opts.redis_lease = std::chrono::milliseconds(redis_lease_ms);
  if (const char* pw = std::getenv("PAI_REDIS_PASSWORD")) opts.redis_password = pw;

  // A wrongly exposed admin listener is refused before anything else starts.
  if (auto admin = pai::gateway::AdminAuth::FromOptions(opts); !admin.ok()) {
    return Fail(std::string(admin.status().message()));
  }

  std::string demo_token;
  if (opts.config_paths.empty()) {
    // Embedded default: mint a token for the demo agent so the quick start works at once.
    auto minted = pai::auth::MintToken(opts.state_dir, pai::config::kDemoAgent);
    if (!minted.ok()) return Fail(std::string(minted.status().message()));
    demo_token = minted->token;
  }
  const int rc = pai::gateway::RunGateway(opts, [&](const pai::gateway::Listening& l) {
    if (!demo_token.empty()) PrintBanner(l, demo_token);
  });
  pai::log::Flush();
  return rc;
}

// main(): Main() with nothing escaping (an exception is one line on stderr and exit 1).
int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    pai::log::Flush();
    std::fprintf(stderr, "pai-gateway: %s\n", e.what());
  } catch (...) {
    pai::log::Flush();
    std::fprintf(stderr, "pai-gateway: unknown error\n");
  }
  return 1;
}
