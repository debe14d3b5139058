// Helpers shared by the pai-server unit tests: a temporary directory per test, a real SQLite
// store in it, and an Api wired to real AccessTokens and FileGatewayTokens plus a canned
// gateway admin (the `/usage` shape of GatewayImpl::UsageJson in src/gateway/server/server.cc).
#pragma once

#include <stdlib.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "server/access.h"
#include "server/api.h"
#include "server/controller.h"
#include "server/store.h"

namespace pai::server::testing {

namespace json = boost::json;

// TempDir: a fresh directory (mkdtemp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pai-srv-test-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    REQUIRE(p != nullptr);
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& leaf) const { return path_ + "/" + leaf; }

 private:
  std::string path_;
};

inline std::unique_ptr<Store> OpenStoreIn(const TempDir& dir) {
  auto s = OpenSqliteStore(dir / "pai.db");
  REQUIRE(s.ok());
  return std::move(*s);
}

inline json::value Parse(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  INFO(text);
  REQUIRE_FALSE(ec);
  return v;
}

inline json::object ParseObj(const std::string& text) {
  json::value v = Parse(text);
  INFO(text);
  REQUIRE(v.is_object());
  return v.as_object();
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Count(): non-overlapping occurrences of `needle` in `hay`.
inline size_t Count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos;
       p = hay.find(needle, p + needle.size())) {
    ++n;
  }
  return n;
}

// HasKeyAnywhere(): whether any object in `v` (recursively) has member `key`.
inline bool HasKeyAnywhere(const json::value& v, std::string_view key) {
  if (v.is_object()) {
    for (const auto& [k, child] : v.as_object()) {
      if (k == key || HasKeyAnywhere(child, key)) return true;
    }
  } else if (v.is_array()) {
    for (const auto& child : v.as_array()) {
      if (HasKeyAnywhere(child, key)) return true;
    }
  }
  return false;
}

// A canned `/usage` in the exact shape the gateway's UsageJson() emits.
inline std::string CannedUsage() {
  return R"({"day":"2026-01-15","agents":[)"
         R"({"namespace":"a","agent":"x","tokensToday":1234,"costTodayUSD":0.5,)"
         R"("models":[{"model":"openai/gpt-4o","calls":3,"inputTokens":1000,"outputTokens":234,"costUSD":0.5}]},)"
         R"({"namespace":"b","agent":"z","tokensToday":99,"costTodayUSD":0.01,"models":[]}]})";
}

// CannedGateway: the gateway admin listener, answering from memory.
class CannedGateway final : public GatewayAdmin {
 public:
  absl::StatusOr<std::string> Get(const std::string& target) override {
    targets.push_back(target);
    if (!reachable) return absl::UnavailableError("gateway down");
    if (target == "/usage") return CannedUsage();
    if (target.rfind("/audit/verify", 0) == 0) return verify;
    if (target.rfind("/audit", 0) == 0) {
      // The gateway answers 400 to a limit outside 1..100000 (ServeAudit); an admin client
      // reports any non-200 as Unavailable (GatewayAdmin's contract).
      for (const char* bad : {"limit=0&", "limit=abc&", "limit=100001&"}) {
        if ((target + "&").find(bad) != std::string::npos) {
          return absl::UnavailableError("gateway answered 400");
        }
      }
      return std::string(R"([{"seq":1,"type":"request","namespace":"a","agent":"x"}])");
    }
    return absl::UnavailableError("unexpected target " + target);
  }
  bool reachable = true;
  std::string verify = R"({"ok":true,"records":0})";
  std::vector<std::string> targets;  // every target asked for, in order (single-threaded tests)
};

// Server: store + access tokens + gateway tokens + Api, with an admin token and a token scoped
// to namespace "a".
struct Server {
  TempDir dir;
  std::unique_ptr<Store> store = OpenStoreIn(dir);
  AccessTokens access{*store};
  CannedGateway gateway;
  std::string gateway_dir = dir / "gateway";
  FileGatewayTokens gw_tokens{gateway_dir};
  Api api{*store, access, &gateway, &gw_tokens, nullptr};
  std::string admin = Mint("*");
  std::string scoped = Mint("a");

  std::string Mint(const std::string& ns) {
    auto m = access.Create(ns, "test", "");
    REQUIRE(m.ok());
    return m->token;
  }

  ApiResponse Call(const std::string& method, const std::string& target, const std::string& token,
                   const std::string& body = "",
                   const std::string& content_type = "application/json") {
    ApiRequest r;
    r.method = method;
    r.target = target;
    if (!token.empty()) r.authorization = "Bearer " + token;
    r.content_type = content_type;
    r.body = body;
    return api.Handle(r);
  }
  ApiResponse Admin(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    return Call(method, target, admin, body);
  }
  // MustAdmin(): an admin call that must answer `want`; returns the parsed body.
  json::object MustAdmin(const std::string& method, const std::string& target,
                         const std::string& body, int want) {
    ApiResponse r = Admin(method, target, body);
    INFO(method << " " << target << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == want);
    return ParseObj(r.body);
  }
};

inline const std::string kNs = "/apis/pai.io/v1/namespaces/";

// ErrorCode() / ErrorField(): the error document's fields ("" when absent).
inline std::string ErrorField(const std::string& body, const char* key) {
  json::object o = ParseObj(body);
  const json::value* e = o.if_contains("error");
  if (!e || !e->is_object()) return "";
  const json::value* f = e->as_object().if_contains(key);
  return f && f->is_string() ? std::string(f->as_string()) : "";
}

}  // namespace pai::server::testing
