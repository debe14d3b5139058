#include "config/manifest.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "budget/price_table.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/yaml_documents.h"

extern char** environ;

namespace pai::config {
namespace {

constexpr std::string_view kPaiApiVersion = "pai.io/v1";

// Doc: error context for one document: "file: document N (Kind ns/name)".
struct Doc {
  std::string where;

  absl::Status Error(std::string_view path, std::string_view what) const {
    return absl::InvalidArgumentError(pai::StrCat(where, ": ", path, ": ", what));
  }
};

std::string_view NodeTypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "null";
    default:
      return "nothing";
  }
}

absl::Status ExpectMap(const Doc& doc, const YAML::Node& n, std::string_view path) {
  if (!n.IsMap()) return doc.Error(path, pai::StrCat("expected a mapping, got ", NodeTypeName(n)));
  return absl::OkStatus();
}

absl::StatusOr<std::string> GetString(const Doc& doc, const YAML::Node& n, std::string_view path) {
  if (!n.IsScalar())
    return doc.Error(path, pai::StrCat("expected a string, got ", NodeTypeName(n)));
  return n.Scalar();
}

absl::StatusOr<int64_t> GetInt(const Doc& doc, const YAML::Node& n, std::string_view path) {
  int64_t v = 0;
  if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v)) {
    return doc.Error(path, "expected an integer");
  }
  if (v < 0) return doc.Error(path, "must not be negative");
  return v;
}

absl::StatusOr<double> GetNumber(const Doc& doc, const YAML::Node& n, std::string_view path) {
  double v = 0;
  if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v) || !std::isfinite(v)) {
    return doc.Error(path, "expected a number");
  }
  if (v < 0) return doc.Error(path, "must not be negative");
  return v;
}

// Notes keys of `n` not in `known` into `ignored`.
void NoteUnknown(const Doc& doc, const YAML::Node& n, std::string_view path,
                 std::initializer_list<std::string_view> known, std::vector<std::string>& ignored) {
  if (!n.IsMap()) return;
  for (const auto& kv : n) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      ignored.push_back(pai::StrCat(doc.where, ": ", path, path.empty() ? "" : ".", key));
    }
  }
}

// RejectUnknown() is NoteUnknown() for blocks where a misspelt key would silently weaken a
// policy (an Agent's guards): an unknown key is an error.
absl::Status RejectUnknown(const Doc& doc, const YAML::Node& n, std::string_view path,
                           std::initializer_list<std::string_view> known) {
  if (!n.IsMap()) return absl::OkStatus();
  for (const auto& kv : n) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string expected;
      for (std::string_view k : known) pai::StrAppend(&expected, expected.empty() ? "" : ", ", k);
      return doc.Error(pai::StrCat(path, ".", key),
                       pai::StrCat("unknown field (expected one of: ", expected, ")"));
    }
  }
  return absl::OkStatus();
}

bool ValidName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_')) return false;
  }
  return true;
}

struct RawSecret {
  std::map<std::string, std::string> data;
};

// KeyRef: where an API key comes from (`apiKeySecretRef` or `apiKeyEnv`), resolved in Finish()
// once every Secret is known.
struct KeyRef {
  std::string secret_ns, secret_name, secret_key;  // when apiKeySecretRef is used
  std::string env_name;                            // when apiKeyEnv is used
};

struct RawProvider {
  Doc doc;
  ModelProvider p;
  KeyRef key;
};

struct RawBinding {
  Doc doc;
  GuardBinding b;
  KeyRef key;
};

struct RawAgentGuards {
  Doc doc;
  std::string agent_key;
};

std::string_view DefaultBaseUrl(ProviderKind kind) {
  switch (kind) {
    case ProviderKind::kOpenAI:
      return "https://api.openai.com/v1";
    case ProviderKind::kOpenRouter:
      return "https://openrouter.ai/api/v1";
    // Anthropic and Gemini are called with their native APIs (docs/providers.md).
    case ProviderKind::kAnthropic:
      return "https://api.anthropic.com/v1";
    case ProviderKind::kGemini:
      return "https://generativelanguage.googleapis.com/v1beta";
    case ProviderKind::kMock:
      return "";
  }
  return "";
}

absl::Status ValidateUrl(const Doc& doc, std::string_view field, std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return doc.Error(field, "not an absolute URL");
  const auto scheme = parsed->scheme();
  if (scheme != "http" && scheme != "https") {
    return doc.Error(field, "scheme must be http or https");
  }
  if (parsed->host().empty()) return doc.Error(field, "has no host");
  if (parsed->has_userinfo()) return doc.Error(field, "must not carry credentials");
  if (parsed->has_query() || parsed->has_fragment()) {
    return doc.Error(field, "must not have a query or fragment");
  }
  return absl::OkStatus();
}

class Parser {
 public:
  explicit Parser(const std::map<std::string, std::string>& env) : env_(env) {}

  absl::Status AddSource(const Source& src) {
    pai::StrAppend(&source_names_, source_names_.empty() ? "" : ", ", src.name);
    std::vector<YAML::Node> docs;
    try {
      docs = LoadYamlDocuments(src.text);  // not YAML::LoadAll(): see yaml_documents.h
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(pai::StrCat(src.name, ": line ", e.mark.line + 1,
                                                    ", column ", e.mark.column + 1, ": ", e.msg));
    }
    for (size_t i = 0; i < docs.size(); ++i) {
      const YAML::Node& node = docs[i];
      if (node.IsNull()) continue;  // empty document between separators
      ++documents_;
      Doc doc{pai::StrCat(src.name, ": document ", i + 1)};
      try {
        PAI_RETURN_IF_ERROR(AddDocument(doc, node));
      } catch (const YAML::Exception& e) {
        return doc.Error("(document)", e.msg);
      }
    }
    return absl::OkStatus();
  }

  // CleanKey() trims surrounding whitespace (a Secret made with `echo key | base64` ends in a
  // newline) and refuses keys with spaces or control characters, which would corrupt the
  // Authorization header sent upstream.
  static absl::StatusOr<std::string> CleanKey(const Doc& doc, std::string_view path,
                                              const std::string& key) {
    const std::string_view trimmed = SV(absl::StripAsciiWhitespace(key));
    for (unsigned char c : trimmed) {
      if (c < 0x21 || c == 0x7f) {
        return doc.Error(path, "the API key contains spaces or control characters");
      }
    }
    if (trimmed.empty()) return doc.Error(path, "the API key is empty");
    return std::string(trimmed);
  }

  // ParseKeyRef() reads `apiKeySecretRef` / `apiKeyEnv` of `spec` (at `path`, e.g. "spec." or
  // "spec.classifier."). *present is false when neither is set.
  static absl::Status ParseKeyRef(const Doc& doc, const YAML::Node& spec, const std::string& path,
                                  const std::string& ns, KeyRef* out, bool* present) {
    const YAML::Node ref = spec["apiKeySecretRef"];
    const YAML::Node env = spec["apiKeyEnv"];
    *present = ref || env;
    if (ref && env) {
      return doc.Error(path.substr(0, path.size() - 1),
                       "set only one of apiKeySecretRef and apiKeyEnv");
    }
    if (ref) {
      PAI_RETURN_IF_ERROR(ExpectMap(doc, ref, path + "apiKeySecretRef"));
      if (!ref["name"]) return doc.Error(path + "apiKeySecretRef.name", "missing");
      auto sn = GetString(doc, ref["name"], path + "apiKeySecretRef.name");
      if (!sn.ok()) return sn.status();
      out->secret_name = *sn;
      out->secret_key = "api-key";
      if (ref["key"]) {
        auto sk = GetString(doc, ref["key"], path + "apiKeySecretRef.key");
        if (!sk.ok()) return sk.status();
        out->secret_key = *sk;
      }
      out->secret_ns = ns;
      if (ref["namespace"]) {
        auto sns = GetString(doc, ref["namespace"], path + "apiKeySecretRef.namespace");
        if (!sns.ok()) return sns.status();
        out->secret_ns = *sns;
      }
    } else if (env) {
      auto e = GetString(doc, env, path + "apiKeyEnv");
      if (!e.ok()) return e.status();
      if (e->empty()) return doc.Error(path + "apiKeyEnv", "must not be empty");
      out->env_name = *e;
    }
    return absl::OkStatus();
  }

  // ResolveKey() fills *key and *source from `ref` (nothing when `ref` is empty).
  absl::Status ResolveKey(const Doc& doc, const KeyRef& ref, const std::string& path,
                          std::string* key, std::string* source) const {
    if (!ref.env_name.empty()) {
      auto it = env_.find(ref.env_name);
      if (it == env_.end() || it->second.empty()) {
        return doc.Error(path + "apiKeyEnv",
                         pai::StrCat("environment variable ", ref.env_name, " is not set"));
      }
      auto clean = CleanKey(doc, path + "apiKeyEnv", it->second);
      if (!clean.ok()) return clean.status();
      *key = std::move(*clean);
      *source = pai::StrCat("env ", ref.env_name);
    } else if (!ref.secret_name.empty()) {
      const std::string id = pai::StrCat(ref.secret_ns, "/", ref.secret_name);
      auto it = secrets_.find(id);
      if (it == secrets_.end()) {
        return doc.Error(path + "apiKeySecretRef.name", pai::StrCat("Secret ", id, " not found"));
      }
      auto kit = it->second.data.find(ref.secret_key);
      if (kit == it->second.data.end() || kit->second.empty()) {
        return doc.Error(path + "apiKeySecretRef.key",
                         pai::StrCat("Secret ", id, " has no key \"", ref.secret_key, "\""));
      }
      auto clean = CleanKey(doc, path + "apiKeySecretRef.key", kit->second);
      if (!clean.ok()) return clean.status();
      *key = std::move(*clean);
      *source = pai::StrCat("secret ", id, "#", ref.secret_key);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Config> Finish() {
    if (documents_ == 0) {
      // An empty configuration would drop every agent: most likely a file caught while being
      // rewritten, never what an operator means.
      return absl::InvalidArgumentError(
          pai::StrCat(source_names_, ": no resources found (an empty configuration is refused)"));
    }
    for (auto& rp : providers_) {
      ModelProvider& p = rp.p;
      PAI_RETURN_IF_ERROR(ResolveKey(rp.doc, rp.key, "spec.", &p.api_key, &p.api_key_source));
      config_.providers.emplace(p.Key(), std::move(p));
    }
    for (auto& rb : bindings_) {
      GuardClassifier& c = rb.b.classifier;
      PAI_RETURN_IF_ERROR(
          ResolveKey(rb.doc, rb.key, "spec.classifier.", &c.api_key, &c.api_key_source));
      config_.guard_bindings.emplace(rb.b.Key(), std::move(rb.b));
    }
    // An Agent guarded by a binding that does not exist would run unguarded: refused, unlike
    // a missing ModelProvider (which only makes those models unavailable).
    for (const RawAgentGuards& ra : agent_guards_) {
      const Agent& a = config_.agents.at(ra.agent_key);
      for (size_t i = 0; i < a.guards.size(); ++i) {
        const AgentGuard& g = a.guards[i];
        const std::string path = pai::StrCat("spec.guards[", i, "]");
        const GuardBinding* found = FindScoped(config_.guard_bindings, a.ns, g.binding);
        if (!found) {
          return ra.doc.Error(path + ".binding",
                              pai::StrCat("GuardBinding \"", g.binding, "\" not found"));
        }
        if (g.enforcement && *g.enforcement == GuardEnforcement::kAudit &&
            found->enforcement == GuardEnforcement::kEnforce) {
          return ra.doc.Error(path + ".enforcement",
                              pai::StrCat("\"audit\" would loosen GuardBinding ", g.binding,
                                          " (enforce); an Agent may only tighten it"));
        }
      }
    }
    for (const auto& [key, agent] : config_.agents) {
      for (const std::string& ref : agent.models) {
        std::string_view prov, model;
        SplitModelRef(ref, &prov, &model);
        if (!FindScoped(config_.providers, agent.ns, prov)) {
          config_.warnings.push_back(pai::StrCat("Agent ", key, ": model ", ref,
                                                 " names ModelProvider \"", prov,
                                                 "\" which is not configured"));
        }
      }
    }
    return std::move(config_);
  }

 private:
  absl::Status AddDocument(Doc& doc, const YAML::Node& node) {
    PAI_RETURN_IF_ERROR(ExpectMap(doc, node, "(document)"));
    const YAML::Node kind_node = node["kind"];
    if (!kind_node) return doc.Error("kind", "missing");
    auto kind = GetString(doc, kind_node, "kind");
    if (!kind.ok()) return kind.status();
    const YAML::Node api_node = node["apiVersion"];
    if (!api_node) return doc.Error("apiVersion", "missing");
    auto api = GetString(doc, api_node, "apiVersion");
    if (!api.ok()) return api.status();

    const YAML::Node meta = node["metadata"];
    if (!meta) return doc.Error("metadata", "missing");
    PAI_RETURN_IF_ERROR(ExpectMap(doc, meta, "metadata"));
    if (!meta["name"]) return doc.Error("metadata.name", "missing");
    auto name = GetString(doc, meta["name"], "metadata.name");
    if (!name.ok()) return name.status();
    if (!ValidName(*name)) {
      return doc.Error("metadata.name", "must be letters, digits, '-', '.' or '_' (1-253)");
    }
    std::string ns = "default";
    if (meta["namespace"]) {
      auto n = GetString(doc, meta["namespace"], "metadata.namespace");
      if (!n.ok()) return n.status();
      if (!ValidName(*n)) return doc.Error("metadata.namespace", "invalid namespace");
      ns = *n;
    }
    doc.where = pai::StrCat(doc.where, " (", *kind, " ", ns, "/", *name, ")");

    const bool known_kind = *kind == "Secret" || *kind == "ModelProvider" ||
                            *kind == "GuardBinding" || *kind == "Agent";
    if (!known_kind) {
      config_.ignored.push_back(pai::StrCat(doc.where, ": kind not used by the gateway"));
      return absl::OkStatus();
    }
    const std::string_view want_api = *kind == "Secret" ? "v1" : kPaiApiVersion;
    if (*api != want_api) {
      return doc.Error("apiVersion", pai::StrCat("expected \"", want_api, "\" for kind ", *kind));
    }
    const std::string id = pai::StrCat(*kind, "/", ns, "/", *name);
    if (!seen_.insert(id).second) return doc.Error("metadata.name", "duplicate resource");

    if (*kind == "Secret") return AddSecret(doc, node, ns, *name);
    const YAML::Node spec = node["spec"];
    if (!spec) return doc.Error("spec", "missing");
    PAI_RETURN_IF_ERROR(ExpectMap(doc, spec, "spec"));
    if (*kind == "ModelProvider") return AddProvider(doc, spec, ns, *name);
    if (*kind == "GuardBinding") return AddGuardBinding(doc, spec, ns, *name);
    return AddAgent(doc, spec, ns, *name);
  }

  absl::Status AddSecret(const Doc& doc, const YAML::Node& node, const std::string& ns,
                         const std::string& name) {
    RawSecret secret;
    if (const YAML::Node data = node["data"]) {
      PAI_RETURN_IF_ERROR(ExpectMap(doc, data, "data"));
      for (const auto& kv : data) {
        const std::string key = kv.first.Scalar();
        auto value = GetString(doc, kv.second, pai::StrCat("data.", key));
        if (!value.ok()) return value.status();
        std::string decoded;
        if (!absl::Base64Unescape(*value, &decoded)) {
          return doc.Error(pai::StrCat("data.", key), "not valid base64");
        }
        secret.data[key] = std::move(decoded);
      }
    }
    if (const YAML::Node data = node["stringData"]) {
      PAI_RETURN_IF_ERROR(ExpectMap(doc, data, "stringData"));
      for (const auto& kv : data) {
        const std::string key = kv.first.Scalar();
        auto value = GetString(doc, kv.second, pai::StrCat("stringData.", key));
        if (!value.ok()) return value.status();
        secret.data[key] = *value;  // stringData wins over data, as in Kubernetes
      }
    }
    NoteUnknown(doc, node, "", {"apiVersion", "kind", "metadata", "data", "stringData", "type"},
                config_.ignored);
    secrets_[pai::StrCat(ns, "/", name)] = std::move(secret);
    return absl::OkStatus();
  }

  absl::Status AddProvider(const Doc& doc, const YAML::Node& spec, const std::string& ns,
                           const std::string& name) {
    RawProvider rp{doc, {}, {}};
    ModelProvider& p = rp.p;
    p.name = name;
    p.ns = ns;
    if (!spec["provider"]) return doc.Error("spec.provider", "missing");
    auto kind = GetString(doc, spec["provider"], "spec.provider");
    if (!kind.ok()) return kind.status();
    if (*kind == "openai") {
      p.kind = ProviderKind::kOpenAI;
    } else if (*kind == "anthropic") {
      p.kind = ProviderKind::kAnthropic;
    } else if (*kind == "gemini") {
      p.kind = ProviderKind::kGemini;
    } else if (*kind == "openrouter") {
      p.kind = ProviderKind::kOpenRouter;
    } else if (*kind == "mock") {
      p.kind = ProviderKind::kMock;
    } else {
      return doc.Error("spec.provider", pai::StrCat("unknown provider \"", *kind,
                                                    "\" (openai | anthropic | gemini | "
                                                    "openrouter | mock)"));
    }
    p.base_url = std::string(DefaultBaseUrl(p.kind));
    if (const YAML::Node url = spec["baseURL"]) {
      auto s = GetString(doc, url, "spec.baseURL");
      if (!s.ok()) return s.status();
      PAI_RETURN_IF_ERROR(ValidateUrl(doc, "spec.baseURL", *s));
      p.base_url = *s;
      while (!p.base_url.empty() && p.base_url.back() == '/') p.base_url.pop_back();
    }
    bool has_key = false;
    PAI_RETURN_IF_ERROR(ParseKeyRef(doc, spec, "spec.", ns, &rp.key, &has_key));
    if (!has_key && p.kind != ProviderKind::kMock) {
      return doc.Error("spec", "needs apiKeySecretRef or apiKeyEnv");
    }
    if (const YAML::Node m = spec["maxTokensDay"]) {
      auto v = GetInt(doc, m, "spec.maxTokensDay");
      if (!v.ok()) return v.status();
      p.max_tokens_day = *v;
    }
    if (const YAML::Node pricing = spec["pricing"]) {
      PAI_RETURN_IF_ERROR(ExpectMap(doc, pricing, "spec.pricing"));
      for (const auto& kv : pricing) {
        const std::string model = kv.first.Scalar();
        const std::string path = pai::StrCat("spec.pricing.", model);
        PAI_RETURN_IF_ERROR(ExpectMap(doc, kv.second, path));
        ModelProvider::ModelPrice mp;
        for (const auto& f : kv.second) {
          const std::string field = f.first.Scalar();
          auto v = GetNumber(doc, f.second, pai::StrCat(path, ".", field));
          if (!v.ok()) return v.status();
          mp.fields.emplace_back(field, *v);
        }
        // Names, signs and the required input / output prices (budget/price_table.h).
        if (auto price = budget::PriceFromFields(mp.fields, path); !price.ok()) {
          return absl::InvalidArgumentError(pai::StrCat(doc.where, ": ", price.status().message()));
        }
        p.pricing[model] = mp;
      }
    }
    NoteUnknown(doc, spec, "spec",
                {"provider", "baseURL", "apiKeySecretRef", "apiKeyEnv", "maxTokensDay", "pricing"},
                config_.ignored);
    if (std::any_of(providers_.begin(), providers_.end(),
                    [&](const RawProvider& o) { return o.p.name == name && o.p.ns == ns; })) {
      return doc.Error("metadata.name",
                       "another ModelProvider of this namespace has this name (models are "
                       "addressed by name)");
    }
    providers_.push_back(std::move(rp));
    return absl::OkStatus();
  }

  static absl::StatusOr<GuardEnforcement> ParseEnforcement(const Doc& doc, const YAML::Node& n,
                                                           const std::string& path) {
    auto s = GetString(doc, n, path);
    if (!s.ok()) return s.status();
    if (*s == "audit") return GuardEnforcement::kAudit;
    if (*s == "enforce") return GuardEnforcement::kEnforce;
    return doc.Error(path, pai::StrCat("unknown enforcement \"", *s, "\" (audit | enforce)"));
  }

  static absl::StatusOr<bool> GetBool(const Doc& doc, const YAML::Node& n,
                                      const std::string& path) {
    if (n.IsScalar()) {
      const std::string& v = n.Scalar();
      if (v == "true") return true;
      if (v == "false") return false;
    }
    return doc.Error(path, "expected true or false");
  }

  absl::Status AddGuardBinding(const Doc& doc, const YAML::Node& spec, const std::string& ns,
                               const std::string& name) {
    RawBinding rb{doc, {}, {}};
    GuardBinding& b = rb.b;
    b.name = name;
    b.ns = ns;
    const YAML::Node c = spec["classifier"];
    if (!c) return doc.Error("spec.classifier", "missing");
    PAI_RETURN_IF_ERROR(ExpectMap(doc, c, "spec.classifier"));
    if (!c["type"]) return doc.Error("spec.classifier.type", "missing");
    auto type = GetString(doc, c["type"], "spec.classifier.type");
    if (!type.ok()) return type.status();
    GuardClassifier& gc = b.classifier;
    if (*type == "builtin") {
      gc.type = GuardClassifier::Type::kBuiltin;
      NoteUnknown(doc, c, "spec.classifier", {"type", "maxChars"}, config_.ignored);
    } else if (*type == "http") {
      gc.type = GuardClassifier::Type::kHttp;
      gc.max_chars = 4096;
      if (!c["url"]) return doc.Error("spec.classifier.url", "missing");
      auto url = GetString(doc, c["url"], "spec.classifier.url");
      if (!url.ok()) return url.status();
      PAI_RETURN_IF_ERROR(ValidateUrl(doc, "spec.classifier.url", *url));
      gc.url = *url;
      if (const YAML::Node f = c["format"]) {
        auto fmt = GetString(doc, f, "spec.classifier.format");
        if (!fmt.ok()) return fmt.status();
        if (*fmt == "plain") {
          gc.format = GuardClassifier::Format::kPlain;
        } else if (*fmt == "llm-guard") {
          gc.format = GuardClassifier::Format::kLlmGuard;
        } else if (*fmt == "lakera") {
          gc.format = GuardClassifier::Format::kLakera;
        } else {
          return doc.Error(
              "spec.classifier.format",
              pai::StrCat("unknown format \"", *fmt, "\" (plain | llm-guard | lakera)"));
        }
      }
      if (const YAML::Node t = c["timeoutMs"]) {
        auto v = GetInt(doc, t, "spec.classifier.timeoutMs");
        if (!v.ok()) return v.status();
        if (*v < 1 || *v > 60'000)
          return doc.Error("spec.classifier.timeoutMs", "must be 1..60000");
        gc.timeout_ms = *v;
      }
      if (const YAML::Node l = c["positiveLabels"]) {
        if (!l.IsSequence()) return doc.Error("spec.classifier.positiveLabels", "expected a list");
        for (size_t i = 0; i < l.size(); ++i) {
          auto v = GetString(doc, l[i], pai::StrCat("spec.classifier.positiveLabels[", i, "]"));
          if (!v.ok()) return v.status();
          gc.positive_labels.push_back(*v);
        }
      } else {
        // Labels of common prompt-injection models (ProtectAI deberta-v3: INJECTION/SAFE; Meta
        // Prompt-Guard: INJECTION/JAILBREAK/BENIGN; generic binary heads: LABEL_1).
        gc.positive_labels = {"INJECTION", "JAILBREAK", "MALICIOUS", "UNSAFE", "LABEL_1", "1"};
      }
      bool has_key = false;
      PAI_RETURN_IF_ERROR(ParseKeyRef(doc, c, "spec.classifier.", ns, &rb.key, &has_key));
      NoteUnknown(doc, c, "spec.classifier",
                  {"type", "url", "format", "timeoutMs", "maxChars", "positiveLabels",
                   "apiKeySecretRef", "apiKeyEnv"},
                  config_.ignored);
    } else {
      return doc.Error("spec.classifier.type",
                       pai::StrCat("unknown classifier \"", *type, "\" (builtin | http)"));
    }
    if (const YAML::Node m = c["maxChars"]) {
      auto v = GetInt(doc, m, "spec.classifier.maxChars");
      if (!v.ok()) return v.status();
      if (*v != 0 && *v < 256) return doc.Error("spec.classifier.maxChars", "must be 0 or >= 256");
      gc.max_chars = *v;
    }
    if (const YAML::Node t = spec["threshold"]) {
      auto v = GetNumber(doc, t, "spec.threshold");
      if (!v.ok()) return v.status();
      if (*v <= 0 || *v > 1) return doc.Error("spec.threshold", "must be in (0, 1]");
      b.threshold = *v;
    }
    if (const YAML::Node e = spec["enforcement"]) {
      auto v = ParseEnforcement(doc, e, "spec.enforcement");
      if (!v.ok()) return v.status();
      b.enforcement = *v;
    }
    if (const YAML::Node f = spec["failureMode"]) {
      auto v = GetString(doc, f, "spec.failureMode");
      if (!v.ok()) return v.status();
      if (*v == "open") {
        b.failure_mode = GuardFailureMode::kOpen;
      } else if (*v == "closed") {
        b.failure_mode = GuardFailureMode::kClosed;
      } else {
        return doc.Error("spec.failureMode",
                         pai::StrCat("unknown failure mode \"", *v, "\" (open | closed)"));
      }
    }
    NoteUnknown(doc, spec, "spec", {"classifier", "threshold", "enforcement", "failureMode"},
                config_.ignored);
    if (std::any_of(bindings_.begin(), bindings_.end(),
                    [&](const RawBinding& o) { return o.b.name == name && o.b.ns == ns; })) {
      return doc.Error("metadata.name",
                       "another GuardBinding of this namespace has this name (agents name "
                       "bindings by name)");
    }
    bindings_.push_back(std::move(rb));
    return absl::OkStatus();
  }

  absl::StatusOr<AgentGuard> ParseAgentGuard(const Doc& doc, const YAML::Node& n,
                                             const std::string& path) {
    PAI_RETURN_IF_ERROR(ExpectMap(doc, n, path));
    AgentGuard g;
    if (!n["binding"]) return doc.Error(path + ".binding", "missing");
    auto b = GetString(doc, n["binding"], path + ".binding");
    if (!b.ok()) return b.status();
    g.binding = *b;
    if (const YAML::Node scan = n["scan"]) {
      PAI_RETURN_IF_ERROR(ExpectMap(doc, scan, path + ".scan"));
      if (scan["prompts"]) {
        auto v = GetBool(doc, scan["prompts"], path + ".scan.prompts");
        if (!v.ok()) return v.status();
        g.prompts = *v;
      }
      if (scan["responses"]) {
        auto v = GetBool(doc, scan["responses"], path + ".scan.responses");
        if (!v.ok()) return v.status();
        g.responses = *v;
      }
      if (const YAML::Node tr = scan["toolResults"]) {
        PAI_RETURN_IF_ERROR(ExpectMap(doc, tr, path + ".scan.toolResults"));
        if (const YAML::Node tools = tr["tools"]) {
          if (!tools.IsSequence()) {
            return doc.Error(path + ".scan.toolResults.tools", "expected a list");
          }
          for (size_t i = 0; i < tools.size(); ++i) {
            auto t =
                GetString(doc, tools[i], pai::StrCat(path, ".scan.toolResults.tools[", i, "]"));
            if (!t.ok()) return t.status();
            if (t->empty()) {
              return doc.Error(pai::StrCat(path, ".scan.toolResults.tools[", i, "]"),
                               "must not be empty");
            }
            g.tool_results.push_back(*t);
          }
        }
        PAI_RETURN_IF_ERROR(RejectUnknown(doc, tr, path + ".scan.toolResults", {"tools"}));
      }
      PAI_RETURN_IF_ERROR(
          RejectUnknown(doc, scan, path + ".scan", {"prompts", "responses", "toolResults"}));
    }
    if (const YAML::Node e = n["enforcement"]) {
      auto v = ParseEnforcement(doc, e, path + ".enforcement");
      if (!v.ok()) return v.status();
      g.enforcement = *v;
    }
    PAI_RETURN_IF_ERROR(RejectUnknown(doc, n, path, {"binding", "scan", "enforcement"}));
    return g;
  }

  absl::Status AddAgent(const Doc& doc, const YAML::Node& spec, const std::string& ns,
                        const std::string& name) {
    Agent a;
    a.ns = ns;
    a.name = name;
    const YAML::Node models = spec["models"];
    if (!models) return doc.Error("spec.models", "missing");
    if (!models.IsSequence()) {
      return doc.Error("spec.models", pai::StrCat("expected a list, got ", NodeTypeName(models)));
    }
    if (models.size() == 0) return doc.Error("spec.models", "must list at least one model");
    for (size_t i = 0; i < models.size(); ++i) {
      const std::string path = pai::StrCat("spec.models[", i, "]");
      auto ref = GetString(doc, models[i], path);
      if (!ref.ok()) return ref.status();
      std::string_view prov, model;
      if (!SplitModelRef(*ref, &prov, &model)) {
        return doc.Error(path, pai::StrCat("\"", *ref, "\" is not <modelprovider>/<model-id>"));
      }
      if (std::find(a.models.begin(), a.models.end(), *ref) == a.models.end()) {
        a.models.push_back(*ref);
      }
    }
    if (const YAML::Node t = spec["tokens"]) {
      PAI_RETURN_IF_ERROR(ExpectMap(doc, t, "spec.tokens"));
      if (t["maxPerDay"]) {
        auto v = GetInt(doc, t["maxPerDay"], "spec.tokens.maxPerDay");
        if (!v.ok()) return v.status();
        a.tokens.max_per_day = *v;
      }
      if (t["maxPerRequest"]) {
        auto v = GetInt(doc, t["maxPerRequest"], "spec.tokens.maxPerRequest");
        if (!v.ok()) return v.status();
        a.tokens.max_per_request = *v;
      }
      NoteUnknown(doc, t, "spec.tokens", {"maxPerDay", "maxPerRequest"}, config_.ignored);
    }
    if (const YAML::Node r = spec["rateLimits"]) {
      PAI_RETURN_IF_ERROR(ExpectMap(doc, r, "spec.rateLimits"));
      if (r["maxRequestsPerMinute"]) {
        auto v = GetInt(doc, r["maxRequestsPerMinute"], "spec.rateLimits.maxRequestsPerMinute");
        if (!v.ok()) return v.status();
        a.rate_limits.max_requests_per_minute = *v;
      }
      if (r["maxConcurrentRequests"]) {
        auto v = GetInt(doc, r["maxConcurrentRequests"], "spec.rateLimits.maxConcurrentRequests");
        if (!v.ok()) return v.status();
        a.rate_limits.max_concurrent_requests = *v;
      }
      if (r["maxCostPerDayUSD"]) {
        auto v = GetNumber(doc, r["maxCostPerDayUSD"], "spec.rateLimits.maxCostPerDayUSD");
        if (!v.ok()) return v.status();
        a.rate_limits.max_cost_per_day_usd = *v;
      }
      NoteUnknown(doc, r, "spec.rateLimits",
                  {"maxRequestsPerMinute", "maxConcurrentRequests", "maxCostPerDayUSD"},
                  config_.ignored);
    }
    if (const YAML::Node g = spec["guards"]) {
      if (!g.IsSequence()) return doc.Error("spec.guards", "expected a list");
      for (size_t i = 0; i < g.size(); ++i) {
        const std::string path = pai::StrCat("spec.guards[", i, "]");
        auto guard = ParseAgentGuard(doc, g[i], path);
        if (!guard.ok()) return guard.status();
        a.guards.push_back(std::move(*guard));
      }
      if (!a.guards.empty()) agent_guards_.push_back({doc, a.Key()});
    }
    NoteUnknown(doc, spec, "spec", {"models", "tokens", "rateLimits", "guards"}, config_.ignored);
    config_.agents.emplace(a.Key(), std::move(a));
    return absl::OkStatus();
  }

  const std::map<std::string, std::string>& env_;
  Config config_;
  std::map<std::string, RawSecret> secrets_;  // by "ns/name"
  std::vector<RawProvider> providers_;
  std::vector<RawBinding> bindings_;
  std::vector<RawAgentGuards> agent_guards_;
  std::set<std::string> seen_;
  size_t documents_ = 0;
  std::string source_names_;
};

}  // namespace

std::string_view GuardEnforcementName(GuardEnforcement e) {
  return e == GuardEnforcement::kEnforce ? "enforce" : "audit";
}

std::string_view ProviderKindName(ProviderKind kind) {
  switch (kind) {
    case ProviderKind::kOpenAI:
      return "openai";
    case ProviderKind::kAnthropic:
      return "anthropic";
    case ProviderKind::kGemini:
      return "gemini";
    case ProviderKind::kOpenRouter:
      return "openrouter";
    case ProviderKind::kMock:
      return "mock";
  }
  return "openai";
}

bool SplitModelRef(std::string_view ref, std::string_view* provider, std::string_view* model_id) {
  const size_t slash = ref.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == ref.size()) return false;
  *provider = ref.substr(0, slash);
  *model_id = ref.substr(slash + 1);
  return true;
}

absl::StatusOr<Config> ParseManifests(const std::vector<Source>& sources,
                                      const std::map<std::string, std::string>& env) {
  Parser parser(env);
  for (const Source& src : sources) {
    absl::Status s = parser.AddSource(src);
    if (!s.ok()) return s;
  }
  return parser.Finish();
}

absl::StatusOr<std::vector<std::string>> ExpandPaths(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const std::string& path : paths) {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec || !fs::exists(status)) {
      return absl::NotFoundError(pai::StrCat(path, ": no such file or directory"));
    }
    if (!fs::is_directory(status)) {
      out.push_back(path);
      continue;
    }
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      const std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
        files.push_back(entry.path().string());
      }
    }
    if (ec) return absl::InvalidArgumentError(pai::StrCat(path, ": ", ec.message()));
    if (files.empty()) {
      return absl::InvalidArgumentError(pai::StrCat(path, ": directory has no manifest files"));
    }
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
  }
  return out;
}

absl::StatusOr<std::vector<Source>> ReadSources(const std::vector<std::string>& paths) {
  auto files = ExpandPaths(paths);
  if (!files.ok()) return files.status();
  std::vector<Source> out;
  for (const std::string& f : *files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) return absl::NotFoundError(pai::StrCat(f, ": cannot read"));
    std::ostringstream ss;
    ss << in.rdbuf();
    out.push_back({f, ss.str()});
  }
  return out;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

}  // namespace pai::config
