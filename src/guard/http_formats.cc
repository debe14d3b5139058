#include "guard/http_formats.h"

#include <algorithm>
#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "common/json_util.h"
#include "common/strings.h"

namespace pai::guard {
namespace json = boost::json;
using Format = config::GuardClassifier::Format;

std::string BuildClassifierRequest(Format format, std::string_view text, std::string_view role) {
  std::string out;
  out.reserve(text.size() + 64);
  switch (format) {
    case Format::kPlain:
      out = "{\"text\":";
      AppendJsonString(out, text);
      out += "}";
      break;
    case Format::kLlmGuard:
      out = "{\"prompt\":";
      AppendJsonString(out, text);
      out += "}";
      break;
    case Format::kLakera:
      out = "{\"messages\":[{\"role\":";
      AppendJsonString(out, role);
      out += ",\"content\":";
      AppendJsonString(out, text);
      out += "}],\"breakdown\":false}";
      break;
  }
  return out;
}

namespace {

absl::Status Bad(std::string_view what) {
  return absl::InvalidArgumentError(pai::StrCat("classifier response: ", what));
}

bool NumberOf(const json::value& v, double* out) {
  if (v.is_double()) {
    *out = v.get_double();
  } else if (v.is_int64()) {
    *out = static_cast<double>(v.get_int64());
  } else if (v.is_uint64()) {
    *out = static_cast<double>(v.get_uint64());
  } else {
    return false;
  }
  return true;
}

absl::StatusOr<ClassifierScore> PlainEntry(const json::object& o,
                                           const std::vector<std::string>& positive) {
  const json::value* label = o.if_contains("label");
  const json::value* score = o.if_contains("score");
  double s = 0;
  if (!score || !NumberOf(*score, &s) || s < 0 || s > 1) {
    return Bad("\"score\" must be a number in [0, 1]");
  }
  ClassifierScore out;
  if (!label || !label->is_string()) return Bad("\"label\" must be a string");
  out.label = std::string(label->get_string());
  const bool is_positive = std::any_of(positive.begin(), positive.end(), [&](const std::string& p) {
    return absl::EqualsIgnoreCase(p, out.label);
  });
  out.score = is_positive ? s : 1 - s;
  return out;
}

}  // namespace

absl::StatusOr<ClassifierScore> ParseClassifierResponse(
    Format format, std::string_view body, const std::vector<std::string>& positive_labels) {
  boost::system::error_code ec;
  json::value doc = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec) return Bad("not JSON");
  switch (format) {
    case Format::kPlain: {
      if (doc.is_object()) return PlainEntry(doc.get_object(), positive_labels);
      // [{label, score}, ...] or [[{label, score}, ...]] (batched): the positive probability
      // is read from the best-scoring entry.
      const json::value* list = &doc;
      if (list->is_array() && !list->get_array().empty() && list->get_array()[0].is_array()) {
        list = &list->get_array()[0];
      }
      if (!list->is_array() || list->get_array().empty()) {
        return Bad("expected {label, score} or a list of them");
      }
      const json::object* best = nullptr;
      double best_score = -1;
      for (const json::value& e : list->get_array()) {
        if (!e.is_object()) return Bad("list entries must be {label, score}");
        double s = 0;
        const json::value* sv = e.get_object().if_contains("score");
        if (sv && NumberOf(*sv, &s) && s > best_score) {
          best_score = s;
          best = &e.get_object();
        }
      }
      if (!best) return Bad("no entry has a numeric \"score\"");
      return PlainEntry(*best, positive_labels);
    }
    case Format::kLlmGuard: {
      if (!doc.is_object()) return Bad("expected an object");
      const json::object& o = doc.get_object();
      const json::value* valid = o.if_contains("is_valid");
      if (!valid || !valid->is_bool()) return Bad("\"is_valid\" must be a boolean");
      ClassifierScore out;
      bool any = false;
      if (const json::value* scanners = o.if_contains("scanners");
          scanners && scanners->is_object()) {
        for (const auto& kv : scanners->get_object()) {
          double s = 0;
          if (NumberOf(kv.value(), &s)) {
            s = std::clamp(s, 0.0, 1.0);  // LLM Guard reports -1 for "no risk" in some scanners
            if (!any || s > out.score) {
              out.score = s;
              out.label = std::string(kv.key());
            }
            any = true;
          }
        }
      }
      if (!valid->get_bool() && (!any || out.score == 0)) out.score = 1;
      if (!any) out.label = valid->get_bool() ? "valid" : "invalid";
      return out;
    }
    case Format::kLakera: {
      if (!doc.is_object()) return Bad("expected an object");
      const json::value* flagged = doc.get_object().if_contains("flagged");
      if (!flagged || !flagged->is_bool()) return Bad("\"flagged\" must be a boolean");
      ClassifierScore out;
      out.score = flagged->get_bool() ? 1 : 0;
      out.label = flagged->get_bool() ? "flagged" : "not_flagged";
      return out;
    }
  }
  return Bad("unknown format");
}

}  // namespace pai::guard
