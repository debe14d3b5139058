#include "kube/client.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "common/strings.h"

namespace pai::kube {
namespace {

namespace json = boost::json;

// The kinds Pai manages, and where they live (API reference, "Workloads", "Service",
// "Config and Storage", "Policy" resources).
const std::array<Kind, 9>& Kinds() {
  static const std::array<Kind, 9> kinds = {{
      {"", "v1", "Namespace", "namespaces", false},
      {"", "v1", "Secret", "secrets", true},
      {"", "v1", "ConfigMap", "configmaps", true},
      {"", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true},
      {"", "v1", "Service", "services", true},
      {"", "v1", "Pod", "pods", true},
      {"apps", "v1", "Deployment", "deployments", true},
      {"batch", "v1", "Job", "jobs", true},
      {"networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true},
  }};
  return kinds;
}

// Escape(): a path segment or query value, RFC 3986 unreserved characters kept (as the API
// server's own clients do).
std::string Escape(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// FromStatus(): the error of a non-2xx answer, from the API's Status object when it is one.
absl::Status FromHttp(long code, const std::string& body, const std::string& what) {
  std::string message;
  std::string reason;
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* m = v.as_object().if_contains("message"); m && m->is_string()) {
      message = std::string(m->as_string());
    }
    if (const json::value* r = v.as_object().if_contains("reason"); r && r->is_string()) {
      reason = std::string(r->as_string());
    }
  }
  if (message.empty()) message = pai::StrCat(what, ": HTTP ", code);
  switch (code) {
    case 404:
      return absl::NotFoundError(message);
    case 409:
      return reason == "AlreadyExists" ? absl::AlreadyExistsError(message)
                                       : absl::AbortedError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 400:
    case 422:
      return absl::InvalidArgumentError(message);
    default:
      return absl::UnavailableError(message);
  }
}

// StreamState: a streamed answer (a watch, a followed log) being read: bytes up to the next
// newline, and how it ended.
struct StreamState {
  CURL* curl;
  const std::atomic<bool>* stop;
  const std::function<bool(std::string_view)>* on_line;  // false ends the stream
  std::string buffer;
  long http_code = 0;
  bool ended_by_callback = false;
};

size_t StreamWrite(char* data, size_t size, size_t n, void* p) {
  auto& st = *static_cast<StreamState*>(p);
  if (st.http_code == 0) curl_easy_getinfo(st.curl, CURLINFO_RESPONSE_CODE, &st.http_code);
  st.buffer.append(data, size * n);
  // A non-2xx answer is one Status object, not a stream: kept whole for FromHttp().
  if (st.http_code < 200 || st.http_code > 299) return size * n;
  size_t start = 0;
  for (size_t nl; (nl = st.buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (!(*st.on_line)(std::string_view(st.buffer.data() + start, nl - start))) {
      st.ended_by_callback = true;
      return 0;  // ends the transfer
    }
  }
  st.buffer.erase(0, start);
  return size * n;
}

int StreamProgress(void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<StreamState*>(p)->stop->load() ? 1 : 0;  // 1 aborts the transfer
}

class HttpClient final : public Client {
 public:
  explicit HttpClient(ClientConfig config) : config_(std::move(config)) {
    static const bool initialised = (curl_global_init(CURL_GLOBAL_DEFAULT), true);
    (void)initialised;
    while (!config_.server.empty() && config_.server.back() == '/') config_.server.pop_back();
    curl_ = curl_easy_init();
  }
  ~HttpClient() override {
    if (curl_) curl_easy_cleanup(curl_);
  }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  absl::StatusOr<json::object> Get(const Kind& k, const std::string& ns,
                                   const std::string& name) override {
    auto body = Call("GET", ObjectPath(k, ns, name), "", "");
    if (!body.ok()) return body.status();
    return ParseObject(*body);
  }

  absl::StatusOr<ObjectList> List(const Kind& k, const std::string& ns,
                                  const std::string& label_selector) override {
    return ListAs(k, ns, label_selector, "application/json");
  }

  absl::StatusOr<ObjectList> ListMetadata(const Kind& k, const std::string& ns,
                                          const std::string& label_selector) override {
    // PartialObjectMetadataList (api-concepts, "Receiving resources as Table or metadata").
    return ListAs(k, ns, label_selector,
                  "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,"
                  "application/json");
  }

  absl::StatusOr<ObjectList> ListAs(const Kind& k, const std::string& ns,
                                    const std::string& label_selector, const char* accept) {
    ObjectList out;
    std::string cont;
    do {
      std::string path = ObjectPath(k, ns, "") + "?limit=500";
      if (!label_selector.empty()) path += "&labelSelector=" + Escape(label_selector);
      if (!cont.empty()) path += "&continue=" + Escape(cont);
      auto body = Call("GET", path, "", "", accept);
      if (!body.ok()) return body.status();
      auto list = ParseObject(*body);
      if (!list.ok()) return list.status();
      if (json::value* items = list->if_contains("items"); items && items->is_array()) {
        for (json::value& item : items->as_array()) {
          if (item.is_object()) out.items.push_back(std::move(item.as_object()));
        }
      }
      cont.clear();
      if (const json::value* meta = list->if_contains("metadata"); meta && meta->is_object()) {
        const json::value* c = meta->as_object().if_contains("continue");
        if (c && c->is_string()) cont = std::string(c->as_string());
        // The first page's version is the snapshot's; later pages repeat it.
        const json::value* rv = meta->as_object().if_contains("resourceVersion");
        if (rv && rv->is_string() && out.resource_version.empty()) {
          out.resource_version = std::string(rv->as_string());
        }
      }
    } while (!cont.empty());
    return out;
  }

  absl::StatusOr<json::object> Create(const Kind& k, const json::object& object) override {
    auto body = Call("POST",
                     ObjectPath(k, k.namespaced ? MetaString(object, "namespace") : "", "") +
                         "?fieldManager=pai-server&fieldValidation=Strict",
                     json::serialize(object), "application/json");
    if (!body.ok()) return body.status();
    return ParseObject(*body);
  }

  absl::StatusOr<json::object> Update(const Kind& k, const json::object& object) override {
    return Put(k, object, "");
  }

  absl::StatusOr<json::object> UpdateStatus(const Kind& k, const json::object& object) override {
    return Put(k, object, "/status");
  }

  absl::Status Watch(const Kind& k, const std::string& ns, const std::string& label_selector,
                     const std::string& resource_version, int timeout_seconds,
                     const std::atomic<bool>& stop,
                     const std::function<bool(WatchEvent)>& on_event) override {
    std::string path =
        pai::StrCat(ObjectPath(k, ns, ""),
                    "?watch=true&allowWatchBookmarks=true&timeoutSeconds=", timeout_seconds,
                    "&resourceVersion=", Escape(resource_version));
    if (!label_selector.empty()) path += "&labelSelector=" + Escape(label_selector);
    absl::Status error;
    const std::function<bool(std::string_view)> on_line = [&](std::string_view line) {
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) return true;
      json::error_code ec;
      json::value v = json::parse(line, ec);
      if (ec || !v.is_object()) {
        error = absl::UnavailableError("a watch event that is not a JSON object");
        return false;
      }
      WatchEvent ev;
      if (const json::value* t = v.as_object().if_contains("type"); t && t->is_string()) {
        ev.type = std::string(t->as_string());
      }
      if (json::value* o = v.as_object().if_contains("object"); o && o->is_object()) {
        ev.object = std::move(o->as_object());
      }
      if (ev.type == "ERROR") {  // the object is a Status
        const json::value* code = ev.object.if_contains("code");
        const int64_t c = code && code->is_int64() ? code->as_int64() : 500;
        error = c == 410 ? absl::OutOfRangeError("resourceVersion too old (410 Gone)")
                         : FromHttp(static_cast<long>(c), json::serialize(ev.object), "watch");
        return false;
      }
      if (!on_event(std::move(ev))) {
        error = absl::CancelledError("watch stopped");
        return false;
      }
      return true;
    };
    // The server ends the stream after timeout_seconds; a silent connection is dropped later.
    absl::Status s = Stream(path, (timeout_seconds + 30) * 1000L, stop, on_line);
    if (!error.ok()) return error;
    return s;
  }

  absl::Status FollowPodLog(const std::string& ns, const std::string& pod,
                            const std::string& container, const std::atomic<bool>& stop,
                            const std::function<bool(std::string_view)>& on_line) override {
    static const Kind pods{"", "v1", "Pod", "pods", true};
    std::string path = ObjectPath(pods, ns, pod) + "/log?follow=true";
    if (!container.empty()) path += "&container=" + Escape(container);
    return Stream(path, 0, stop, on_line);
  }

  absl::StatusOr<json::object> Apply(const json::object& object) override {
    auto k = KindOf(object);
    if (!k.ok()) return k.status();
    const json::value* meta = object.if_contains("metadata");
    const json::object* m = meta ? meta->if_object() : nullptr;
    const json::value* name = m ? m->if_contains("name") : nullptr;
    const json::value* ns = m ? m->if_contains("namespace") : nullptr;
    if (!name || !name->is_string()) return absl::InvalidArgumentError("metadata.name: required");
    const std::string nss = ns && ns->is_string() ? std::string(ns->as_string()) : "";
    // JSON is YAML: the apply content type takes it as is.
    auto body = Call("PATCH",
                     ObjectPath(*k, k->namespaced ? nss : "", std::string(name->as_string())) +
                         "?fieldManager=pai-server&force=true",
                     json::serialize(object), "application/apply-patch+yaml");
    if (!body.ok()) return body.status();
    return ParseObject(*body);
  }

  absl::Status Delete(const Kind& k, const std::string& ns, const std::string& name,
                      Propagation propagation) override {
    const json::object options{
        {"apiVersion", "v1"},
        {"kind", "DeleteOptions"},
        {"propagationPolicy",
         propagation == Propagation::kForeground ? "Foreground" : "Background"}};
    return Call("DELETE", ObjectPath(k, ns, name), json::serialize(options), "application/json")
        .status();
  }

  absl::StatusOr<std::string> PodLogs(const std::string& ns, const std::string& pod,
                                      const std::string& container, int64_t limit_bytes) override {
    static const Kind pods{"", "v1", "Pod", "pods", true};
    std::string path = ObjectPath(pods, ns, pod) + "/log?limitBytes=" + std::to_string(limit_bytes);
    if (!container.empty()) path += "&container=" + Escape(container);
    return Call("GET", path, "", "");
  }

 private:
  static absl::StatusOr<Kind> KindOf(const json::object& o) {
    const json::value* av = o.if_contains("apiVersion");
    const json::value* kind = o.if_contains("kind");
    if (!av || !av->is_string() || !kind || !kind->is_string()) {
      return absl::InvalidArgumentError("apiVersion and kind: required");
    }
    return KnownKind(std::string(av->as_string()), std::string(kind->as_string()));
  }

  static absl::StatusOr<json::object> ParseObject(const std::string& body) {
    json::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) {
      return absl::UnavailableError("the API server's answer is not a JSON object");
    }
    return std::move(v.as_object());
  }

  static std::string MetaString(const json::object& o, const char* key) {
    const json::value* meta = o.if_contains("metadata");
    const json::object* m = meta ? meta->if_object() : nullptr;
    const json::value* v = m ? m->if_contains(key) : nullptr;
    return v && v->is_string() ? std::string(v->as_string()) : "";
  }

  // Stream(): a GET whose answer is read line by line as it arrives, on its own handle (a
  // stream lasts minutes; the shared handle serves every other call). `timeout_ms` 0: none.
  // OK when the server ends it; Cancelled when `stop` is set or `on_line` returns false; the
  // answer's error (410 Gone: OutOfRange); Unavailable when the connection fails.
  absl::Status Stream(const std::string& path, long timeout_ms, const std::atomic<bool>& stop,
                      const std::function<bool(std::string_view)>& on_line) {
    auto token = Token();
    if (!token.ok()) return token.status();
    CURL* curl = curl_easy_init();
    if (!curl) return absl::InternalError("libcurl: no handle");
    StreamState st{curl, &stop, &on_line};
    curl_slist* headers = Setup(curl, "GET", path, *token, "", "");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &StreamWrite);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &st);
    // Called at least once a second, data or not: how `stop` is noticed.
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &StreamProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &st);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    const CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (st.ended_by_callback || stop.load()) return absl::CancelledError("stream stopped");
    if (code == 410) return absl::OutOfRangeError("resourceVersion too old (410 Gone)");
    if (code != 0 && (code < 200 || code > 299)) {
      return FromHttp(code, st.buffer, pai::StrCat("GET ", path));
    }
    if (rc != CURLE_OK && rc != CURLE_PARTIAL_FILE) {
      return absl::UnavailableError(pai::StrCat("GET ", path, ": ", curl_easy_strerror(rc)));
    }
    // The last line, when the stream ended cleanly without a newline (a broken one may have
    // been cut anywhere).
    if (rc == CURLE_OK && !st.buffer.empty() && !on_line(st.buffer)) {
      return absl::CancelledError("stream stopped");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<json::object> Put(const Kind& k, const json::object& object, const char* sub) {
    const std::string name = MetaString(object, "name");
    if (name.empty()) return absl::InvalidArgumentError("metadata.name: required");
    auto body = Call("PUT",
                     ObjectPath(k, k.namespaced ? MetaString(object, "namespace") : "", name) +
                         sub + "?fieldManager=pai-server&fieldValidation=Strict",
                     json::serialize(object), "application/json");
    if (!body.ok()) return body.status();
    return ParseObject(*body);
  }

  // Token(): the bearer token, read again for each request (bound tokens rotate).
  absl::StatusOr<std::string> Token() const {
    std::string token;
    if (!config_.token_file.empty()) {
      std::ifstream in(config_.token_file);
      if (!in) return absl::UnavailableError("cannot read " + config_.token_file);
      std::getline(in, token);
    }
    return token;
  }

  // Setup(): the options every request shares; returns the header list to free after it.
  curl_slist* Setup(CURL* curl, const char* method, const std::string& path,
                    const std::string& token, const std::string& body,
                    const std::string& content_type,
                    const char* accept = "application/json") const {
    curl_slist* headers = curl_slist_append(nullptr, pai::StrCat("Accept: ", accept).c_str());
    if (!token.empty())
      headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
    if (!content_type.empty()) {
      headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
    }
    const std::string url = config_.server + path;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");  // the API server is reached directly
    if (!config_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, config_.ca_file.c_str());
    if (!body.empty()) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    return headers;
  }

  // Call(): one request; the body of a 2xx answer, or the error of any other.
  absl::StatusOr<std::string> Call(const char* method, const std::string& path,
                                   const std::string& body, const std::string& content_type,
                                   const char* accept = "application/json") {
    auto token = Token();
    if (!token.ok()) return token.status();
    std::lock_guard<std::mutex> lock(mu_);
    if (!curl_) return absl::InternalError("libcurl: no handle");
    curl_easy_reset(curl_);
    std::string out;
    curl_slist* headers = Setup(curl_, method, path, *token, body, content_type, accept);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout_ms));
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Collect);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &out);
    const CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
      return absl::UnavailableError(pai::StrCat("cannot reach the Kubernetes API at ",
                                                config_.server, ": ", curl_easy_strerror(rc)));
    }
    long code = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299) return FromHttp(code, out, pai::StrCat(method, " ", path));
    return out;
  }

  ClientConfig config_;
  std::mutex mu_;
  CURL* curl_ = nullptr;
};

}  // namespace

absl::StatusOr<Kind> KnownKind(const std::string& api_version, const std::string& kind) {
  for (const Kind& k : Kinds()) {
    if (k.kind == kind && k.api_version() == api_version) return k;
  }
  return absl::NotFoundError(
      pai::StrCat("kind ", api_version, " ", kind, " is not managed by Pai"));
}

std::string ObjectPath(const Kind& k, const std::string& ns, const std::string& name) {
  std::string path =
      k.group.empty() ? "/api/" + k.version : pai::StrCat("/apis/", k.group, "/", k.version);
  if (k.namespaced && !ns.empty()) path += "/namespaces/" + Escape(ns);
  path += "/" + k.plural;
  if (!name.empty()) path += "/" + Escape(name);
  return path;
}

std::vector<Permission> RequiredPermissions() {
  // Exactly what kube/runtime.cc calls: server-side apply is a PATCH, and one that creates the
  // object is authorised as create too; deletes of the workload objects (PersistentVolumeClaims
  // are deleted by the garbage collector, with the identity Secret); lists of Jobs, Deployments
  // and Pods for status; pod logs; a Get of the namespace before creating it.
  const std::vector<std::string> apply = {"create", "patch"};
  const std::vector<std::string> apply_delete = {"create", "patch", "delete"};
  const std::vector<std::string> owned = {"list", "create", "patch", "delete"};
  return {
      {"", "namespaces", {"get", "create", "patch"}},
      {"", "secrets", apply_delete},
      {"", "configmaps", apply_delete},
      {"", "persistentvolumeclaims", apply},
      {"", "services", apply_delete},
      {"", "pods", {"list"}},
      {"", "pods/log", {"get"}},
      {"apps", "deployments", owned},
      {"batch", "jobs", owned},
      {"networking.k8s.io", "networkpolicies", apply_delete},
  };
}

std::vector<Permission> MergePermissions(const std::vector<Permission>& a,
                                         const std::vector<Permission>& b) {
  std::vector<Permission> out;
  for (const std::vector<Permission>* list : {&a, &b}) {
    for (const Permission& p : *list) {
      auto it = std::find_if(out.begin(), out.end(), [&](const Permission& q) {
        return q.api_group == p.api_group && q.resource == p.resource;
      });
      if (it == out.end()) {
        out.push_back(p);
        continue;
      }
      for (const std::string& v : p.verbs) {
        if (std::find(it->verbs.begin(), it->verbs.end(), v) == it->verbs.end()) {
          it->verbs.push_back(v);
        }
      }
    }
  }
  return out;
}

std::optional<std::string> PodNamespace() {
  std::ifstream in("/var/run/secrets/kubernetes.io/serviceaccount/namespace");
  std::string ns;
  if (!in || !std::getline(in, ns) || ns.empty()) return std::nullopt;
  return ns;
}

absl::StatusOr<ClientConfig> InClusterConfig() {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !port || !*host) {
    return absl::FailedPreconditionError(
        "not in a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set): give --kube-api");
  }
  const std::string dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  ClientConfig c;
  const std::string h = host;
  c.server =
      pai::StrCat("https://", h.find(':') != std::string::npos ? "[" + h + "]" : h, ":", port);
  c.token_file = dir + "/token";
  c.ca_file = dir + "/ca.crt";
  return c;
}

std::unique_ptr<Client> NewHttpClient(ClientConfig config) {
  return std::make_unique<HttpClient>(std::move(config));
}

}  // namespace pai::kube
