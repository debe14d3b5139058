#include "kube/publish.h"

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "common/log.h"
#include "common/strings.h"

namespace pai::kube {

namespace json = boost::json;

GatewayPublisher::~GatewayPublisher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GatewayPublisher::Start() {
  thread_ = std::thread([this] {
    std::string last_error;
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      absl::Status st = PublishOnce();
      if (!st.ok() && std::string(st.message()) != last_error) {
        log::Warn("kubernetes: gateway configuration not published",
                  {{"error", std::string(st.message())}});
      }
      last_error = st.ok() ? "" : std::string(st.message());
      lock.lock();
      cv_.wait_for(lock, o_.interval, [this] { return stopping_; });
    }
  });
}

absl::Status GatewayPublisher::PublishOnce() {
  absl::Status a =
      PublishFile(o_.config_file, o_.config_secret, "platform.yaml", &config_published_);
  absl::Status b = PublishFile(o_.tokens_file, o_.tokens_secret, "tokens.json", &tokens_published_);
  return a.ok() ? b : a;
}

absl::Status GatewayPublisher::PublishFile(const std::string& file, const std::string& secret,
                                           const std::string& key, Published* published) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return absl::OkStatus();  // not written yet
  std::stringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  const auto now = o_.now ? o_.now() : std::chrono::steady_clock::now();
  if (published->ever && content == published->content && now - published->at < o_.resync) {
    return absl::OkStatus();
  }
  const json::object obj{
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata",
       json::object{{"name", secret},
                    {"namespace", o_.ns},
                    {"labels", json::object{{"app.kubernetes.io/managed-by", "pai"},
                                            {"app.kubernetes.io/component", "gateway-config"}}}}},
      {"type", "Opaque"},
      {"data", json::object{{key, absl::Base64Escape(content)}}}};
  auto applied = o_.client->Apply(obj);
  if (!applied.ok()) {
    return absl::Status(applied.status().code(), pai::StrCat("Secret ", o_.ns, "/", secret, ": ",
                                                             applied.status().message()));
  }
  const bool changed = !published->ever || content != published->content;
  *published = Published{content, now, true};
  if (!changed) return absl::OkStatus();  // a resync: said already
  log::Info("gateway configuration published",
            {{"secret", pai::StrCat(o_.ns, "/", secret)}, {"key", key}});
  return absl::OkStatus();
}

}  // namespace pai::kube
