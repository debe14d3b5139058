#include "cli/pai/remote.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cstdlib>

#include "boost/json/parse.hpp"
#include "cli/pai/text.h"
#include "cli/pai/views.h"

namespace pai::cli {

namespace json = boost::json;

namespace {

// RemoteSpec() splits NAME:PATH; false when `arg` is not remote-shaped.
bool RemoteSpec(const std::string& arg, std::string* name, std::string* path) {
  const size_t colon = arg.find(':');
  if (colon == std::string::npos) return false;
  const std::string before = arg.substr(0, colon);
  if (before.find('/') != std::string::npos) return false;
  *name = before;
  *path = arg.substr(colon + 1);
  return true;
}

}  // namespace

std::string Basename(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

absl::StatusOr<CpArgs> ParseCpArgs(const std::string& src, const std::string& dst,
                                   const std::function<bool(const std::string&)>& local_exists) {
  std::string src_name, src_path, dst_name, dst_path;
  const bool src_remote = RemoteSpec(src, &src_name, &src_path) && !local_exists(src);
  const bool dst_remote = RemoteSpec(dst, &dst_name, &dst_path) && !local_exists(dst);
  if (src_remote == dst_remote) {
    return absl::InvalidArgumentError(
        "cp: exactly one of SRC and DST must be NAME:PATH (a Session or Agent and a path in it)");
  }
  CpArgs a;
  a.direction = src_remote ? CpArgs::Direction::kDownload : CpArgs::Direction::kUpload;
  a.name = src_remote ? src_name : dst_name;
  a.remote_path = src_remote ? src_path : dst_path;
  a.local_path = src_remote ? dst : src;
  if (a.name.empty()) return absl::InvalidArgumentError("cp: NAME:PATH needs a NAME");
  if (a.remote_path.empty()) return absl::InvalidArgumentError("cp: NAME:PATH needs a PATH");
  if (a.local_path.empty()) return absl::InvalidArgumentError("cp: empty local path");
  if (a.remote_path[0] != '/') a.remote_path = "/workspace/" + a.remote_path;
  if (a.direction == CpArgs::Direction::kUpload && a.remote_path.back() == '/') {
    a.remote_path += Basename(a.local_path);
  }
  if (a.direction == CpArgs::Direction::kDownload && a.remote_path.back() == '/') {
    return absl::InvalidArgumentError("cp: " + a.name + ":" + a.remote_path +
                                      " is a directory (pai cp copies single files)");
  }
  return a;
}

std::string Frame(Channel channel, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 1);
  out += static_cast<char>(channel);
  out.append(payload);
  return out;
}

std::string ResizeFrame(unsigned width, unsigned height) {
  return Frame(Channel::kResize, "{\"Width\":" + std::to_string(width) +
                                     ",\"Height\":" + std::to_string(height) + "}");
}

std::string ExecTarget(const std::string& base, const std::vector<std::string>& argv, bool tty,
                       bool stdin_open) {
  std::string target = base + "/exec?";
  for (const auto& arg : argv) target += "command=" + PercentEncode(arg) + "&";
  target += std::string("tty=") + (tty ? "true" : "false");
  target += std::string("&stdin=") + (stdin_open ? "true" : "false");
  return target;
}

ExecExit ExitFromStatus(std::string_view payload) {
  boost::system::error_code ec;
  const json::value v = json::parse(payload, ec);
  if (ec || !v.is_object()) return {1, "bad status frame"};
  const std::string status = StrAt(v, {"status"});
  if (status == "Success") return {0, ""};
  if (const json::value* causes = At(v, {"details", "causes"}); causes && causes->is_array()) {
    for (const auto& c : causes->get_array()) {
      if (StrAt(c, {"reason"}) != "ExitCode") continue;
      const std::string m = StrAt(c, {"message"});
      char* end = nullptr;
      const long code = std::strtol(m.c_str(), &end, 10);
      if (!m.empty() && end != nullptr && *end == '\0' && code >= 0 && code <= 255) {
        return {static_cast<int>(code), ""};
      }
    }
  }
  if (auto code = IntAt(v, {"exitCode"}); code && *code > 0 && *code <= 255) {
    return {static_cast<int>(*code), ""};
  }
  std::string message = StrAt(v, {"message"});
  if (message.empty()) message = status.empty() ? "exec failed" : "exec: " + status;
  return {1, message};
}

absl::StatusOr<ServerUrl> ParseServerUrl(std::string_view url) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return absl::InvalidArgumentError("bad server URL \"" + std::string(url) + "\"");
  ServerUrl s;
  const std::string scheme(u->scheme());
  if (scheme == "https") {
    s.tls = true;
  } else if (scheme != "http") {
    return absl::InvalidArgumentError("bad server URL \"" + std::string(url) + "\"");
  }
  s.host = std::string(u->encoded_host());
  if (s.host.size() >= 2 && s.host.front() == '[' && s.host.back() == ']') {
    s.host = s.host.substr(1, s.host.size() - 2);
  }
  if (s.host.empty()) return absl::InvalidArgumentError("server URL without a host");
  s.port = u->has_port() ? std::string(u->port()) : (s.tls ? "443" : "80");
  s.host_header = std::string(u->encoded_host_and_port());
  s.base_path = std::string(u->encoded_path());
  while (!s.base_path.empty() && s.base_path.back() == '/') s.base_path.pop_back();
  return s;
}

}  // namespace pai::cli
