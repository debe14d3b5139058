// Request and response shapes of the http classifiers a GuardBinding can call
// (`spec.classifier.format`). Pure functions: the gateway's upstream client does the I/O.
//
//  plain      POST <url> {"text": "..."} → {"label": "INJECTION", "score": 0.98}; a list of
//             {label, score} (Hugging Face text-classification / TEI `/predict` answer) is also
//             read: the highest-scoring entry counts.
//  llm-guard  LLM Guard API (protectai/llm-guard, llm_guard_api): POST /analyze/prompt
//             {"prompt": "..."} → {"sanitized_prompt": "...", "is_valid": false,
//             "scanners": {"PromptInjection": 0.97}}; the score is the highest scanner risk
//             score, or 1 when is_valid is false and no scanner reports one.
//  lakera     Lakera Guard v2: POST /v2/guard {"messages": [{"role": "user", "content": "..."}]}
//             → {"flagged": true, "metadata": {...}, "breakdown": [...]}; flagged → 1, else 0.
//             Lakera decides with its project policy; `threshold` then only needs to be ≤ 1.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "config/manifest.h"

namespace pai::guard {

// BuildClassifierRequest() is the JSON body that asks `format` to classify `text`. `role` is
// the OpenAI role of the text ("user", "tool" or "assistant"), used by formats that take
// messages.
std::string BuildClassifierRequest(config::GuardClassifier::Format format, std::string_view text,
                                   std::string_view role);

// ClassifierScore: what a classifier answered, normalised to an injection score in [0, 1].
struct ClassifierScore {
  double score = 0;
  std::string label;  // the classifier's own label, when it gives one (for the audit record)
};

// ParseClassifierResponse() reads a 2xx response body of `format`. Errors: InvalidArgument
// naming what is missing or malformed (the caller treats it as the classifier being
// unavailable).
absl::StatusOr<ClassifierScore> ParseClassifierResponse(
    config::GuardClassifier::Format format, std::string_view body,
    const std::vector<std::string>& positive_labels);

}  // namespace pai::guard
