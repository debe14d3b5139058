// web_fetch: GET an http(s) URL through the environment's proxy (libcurl reads http_proxy,
// https_proxy and no_proxy; the sandbox sets them to its egress proxy).
#include <curl/curl.h>

#include <algorithm>
#include <cctype>

#include "harness/http.h"
#include "harness/tools_internal.h"
#include "harness/util.h"

namespace pai::harness {
namespace {

constexpr int64_t kDefaultMaxBytes = 1 << 20;
constexpr int64_t kMaxMaxBytes = 10 << 20;
constexpr long kMaxFetchSeconds = 60;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

struct Download {
  std::string body;
  size_t max = 0;
  bool truncated = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* d = static_cast<Download*>(user);
  const size_t len = size * n;
  const size_t room = d->max - d->body.size();
  if (len > room) {
    d->body.append(data, room);
    d->truncated = true;
    return 0;  // stop the transfer: we have all we keep
  }
  d->body.append(data, len);
  return len;
}

bool IsBinaryType(std::string_view type) {
  for (std::string_view prefix : {"image/", "audio/", "video/", "font/", "application/octet-stream",
                                  "application/pdf", "application/zip", "application/gzip"}) {
    if (type.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

class WebFetchTool : public Tool {
 public:
  std::string_view name() const override { return "web_fetch"; }
  std::string_view description() const override {
    return "Fetch an http:// or https:// URL (GET, redirects followed) and return the HTTP status "
           "and the body as text; HTML is converted to plain text. Binary bodies are not shown.";
  }
  boost::json::object Parameters() const override {
    return ObjectSchema({{"url", Prop("string", "The http:// or https:// URL.")},
                         {"max_bytes", Prop("integer",
                                            "Most body bytes to download (default 1048576, at most "
                                            "10485760).")}},
                        {"url"});
  }

  ToolResult Run(const boost::json::object& input, ToolContext& ctx) override {
    PAI_TOOL_ARG(url, RequireString(input, "url"));
    PAI_TOOL_ARG(max_arg, GetInt(input, "max_bytes"));
    const std::string scheme = Lower(url.substr(0, url.find("://")));
    if (url.find("://") == std::string::npos || (scheme != "http" && scheme != "https")) {
      return ToolError("web_fetch: only http:// and https:// URLs are supported");
    }
    Download d;
    d.max = static_cast<size_t>(
        std::clamp<int64_t>(max_arg.value_or(kDefaultMaxBytes), 1, kMaxMaxBytes));
    CURL* curl = curl_easy_init();
    if (curl == nullptr) return ToolError("web_fetch: libcurl initialisation failed");
    char errbuf[CURL_ERROR_SIZE] = {0};
    const long timeout = std::min<long>(kMaxFetchSeconds,
                                        static_cast<long>(ctx.config->limits.tool_timeout_seconds));
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, std::min(timeout, 20L));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "pai-harness/0.1 (web_fetch)");
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &d);
    bool cancelled = false;
    const CURLcode rc = PerformCancellable(curl, *ctx.cancel, &cancelled);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    char* ct = nullptr;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
    const std::string content_type = ct != nullptr ? Lower(ct) : "";
    char* eff = nullptr;
    curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &eff);
    const std::string final_url = eff != nullptr ? eff : url;
    curl_easy_cleanup(curl);
    if (cancelled) return ToolError("web_fetch: interrupted by the user");
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && d.truncated)) {
      std::string reason = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
      return ToolError("web_fetch: cannot fetch " + url + ": " + reason);
    }
    std::string text = "HTTP " + std::to_string(status) + "\nURL: " + final_url +
                       "\nContent-Type: " + (content_type.empty() ? "(none)" : content_type) +
                       "\n\n";
    const bool binary =
        IsBinaryType(content_type) || d.body.substr(0, 8192).find('\0') != std::string::npos;
    if (binary) {
      text += "[binary body of " + std::to_string(d.body.size()) + " bytes not shown]";
    } else {
      const std::string head = Lower(d.body.substr(0, 512));
      const bool html = content_type.find("html") != std::string::npos ||
                        head.find("<!doctype html") != std::string::npos ||
                        head.find("<html") != std::string::npos;
      std::string body = SanitizeUtf8(html ? HtmlToText(d.body) : d.body);
      const size_t cap = ctx.output_cap();
      if (body.size() > cap) {
        const size_t cut = body.size() - cap;
        body.resize(cap);
        body += "\n[... " + std::to_string(cut) + " more characters cut]";
      }
      text += body;
    }
    if (d.truncated) {
      text += "\n[download stopped at max_bytes=" + std::to_string(d.max) + "]";
    }
    return ToolResult{std::move(text), status >= 400};
  }
};

bool StartsWithTag(std::string_view lower, size_t i, std::string_view tag) {
  return lower.compare(i, tag.size(), tag) == 0;
}

void AppendEntity(std::string_view ent, std::string& out) {
  static const std::pair<std::string_view, std::string_view> kNamed[] = {{"amp", "&"},
                                                                         {"lt", "<"},
                                                                         {"gt", ">"},
                                                                         {"quot", "\""},
                                                                         {"apos", "'"},
                                                                         {"nbsp", " "},
                                                                         {"mdash", "\xE2\x80\x94"},
                                                                         {"ndash", "\xE2\x80\x93"},
                                                                         {"hellip", "\xE2\x80\xA6"},
                                                                         {"copy", "\xC2\xA9"}};
  for (const auto& [name, value] : kNamed) {
    if (ent == name) {
      out.append(value);
      return;
    }
  }
  if (ent.size() > 1 && ent[0] == '#') {
    uint32_t cp = 0;
    const bool hex = ent[1] == 'x' || ent[1] == 'X';
    for (char c : ent.substr(hex ? 2 : 1)) {
      const int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                    : hex && std::isxdigit(static_cast<unsigned char>(c))
                        ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                        : -1;
      if (d < 0 || cp > 0x10FFFF) return;
      cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
    }
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return;
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
}

bool IsBlockTag(std::string_view name) {
  static const std::string_view kBlocks[] = {
      "p",      "div",    "br",  "li",  "ul",         "ol",     "h1",        "h2",
      "h3",     "h4",     "h5",  "h6",  "tr",         "table",  "section",   "article",
      "header", "footer", "nav", "pre", "blockquote", "hr",     "title",     "main",
      "aside",  "dd",     "dt",  "dl",  "form",       "figure", "figcaption"};
  return std::find(std::begin(kBlocks), std::end(kBlocks), name) != std::end(kBlocks);
}

// Collapse() squeezes spaces within lines and blank lines between them.
std::string Collapse(std::string_view raw) {
  std::string out;
  int newlines = 2;  // suppress leading blank lines
  bool space = false;
  for (char c : raw) {
    if (c == '\n') {
      space = false;
      if (newlines < 2) out.push_back('\n');
      ++newlines;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      space = newlines == 0;
    } else {
      if (space) out.push_back(' ');
      space = false;
      newlines = 0;
      out.push_back(c);
    }
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

std::string HtmlToText(std::string_view html) {
  const std::string lower = Lower(html);
  std::string raw;
  raw.reserve(html.size() / 2);
  size_t i = 0;
  while (i < html.size()) {
    const char c = html[i];
    if (c == '<') {
      if (StartsWithTag(lower, i, "<!--")) {
        const size_t end = lower.find("-->", i + 4);
        i = end == std::string::npos ? html.size() : end + 3;
        continue;
      }
      bool skipped = false;
      for (std::string_view tag : {"script", "style", "noscript", "template", "svg"}) {
        if (StartsWithTag(lower, i + 1, tag) &&
            !std::isalnum(static_cast<unsigned char>(
                lower[std::min(i + 1 + tag.size(), lower.size() - 1)]))) {
          const size_t end = lower.find("</" + std::string(tag), i + 1);
          const size_t close = end == std::string::npos ? std::string::npos : lower.find('>', end);
          i = close == std::string::npos ? html.size() : close + 1;
          raw.push_back(' ');
          skipped = true;
          break;
        }
      }
      if (skipped) continue;
      const size_t close = html.find('>', i);
      if (close == std::string_view::npos) break;
      size_t n = i + 1;
      if (n < close && html[n] == '/') ++n;
      size_t e = n;
      while (e < close && std::isalnum(static_cast<unsigned char>(lower[e]))) ++e;
      const std::string_view name = std::string_view(lower).substr(n, e - n);
      if (name == "li") {
        if (html[i + 1] != '/') raw += "\n- ";  // items stay on adjacent lines
      } else if (IsBlockTag(name)) {
        raw.push_back('\n');
      } else if (name == "td" || name == "th") {
        raw.push_back(' ');
      }
      i = close + 1;
    } else if (c == '&') {
      const size_t semi = html.find(';', i);
      if (semi != std::string_view::npos && semi - i <= 10) {
        const size_t before = raw.size();
        AppendEntity(html.substr(i + 1, semi - i - 1), raw);
        if (raw.size() != before) {
          i = semi + 1;
          continue;
        }
      }
      raw.push_back('&');
      ++i;
    } else {
      raw.push_back(c);
      ++i;
    }
  }
  return Collapse(raw);
}

std::unique_ptr<Tool> MakeWebFetchTool() { return std::make_unique<WebFetchTool>(); }

}  // namespace pai::harness
