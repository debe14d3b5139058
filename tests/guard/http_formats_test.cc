#include "guard/http_formats.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

namespace pai::guard {
namespace {

using Format = config::GuardClassifier::Format;
const std::vector<std::string> kPositive = {"INJECTION", "JAILBREAK", "LABEL_1"};

TEST_CASE("http formats: request bodies follow each service's API") {
  auto plain = boost::json::parse(BuildClassifierRequest(Format::kPlain, "hi \"x\"", "user"));
  CHECK(plain == boost::json::parse(R"({"text":"hi \"x\""})"));
  auto llm = boost::json::parse(BuildClassifierRequest(Format::kLlmGuard, "hi", "user"));
  CHECK(llm == boost::json::parse(R"({"prompt":"hi"})"));
  auto lakera = boost::json::parse(BuildClassifierRequest(Format::kLakera, "hi", "tool"));
  CHECK(lakera ==
        boost::json::parse(R"({"messages":[{"role":"tool","content":"hi"}],"breakdown":false})"));
}

TEST_CASE("http formats: plain {label / score} and Hugging Face lists") {
  auto a =
      ParseClassifierResponse(Format::kPlain, R"({"label":"INJECTION","score":0.97})", kPositive);
  REQUIRE(a.ok());
  CHECK(a->score == Approx(0.97));
  CHECK(a->label == "INJECTION");
  auto b = ParseClassifierResponse(Format::kPlain, R"({"label":"SAFE","score":0.9})", kPositive);
  REQUIRE(b.ok());
  CHECK(b->score == Approx(0.1));  // the probability of the other class
  auto c = ParseClassifierResponse(
      Format::kPlain, R"([[{"label":"BENIGN","score":0.2},{"label":"jailbreak","score":0.8}]])",
      kPositive);
  REQUIRE(c.ok());
  CHECK(c->score == Approx(0.8));  // labels compare case-insensitively
  CHECK_FALSE(
      ParseClassifierResponse(Format::kPlain, R"({"label":"x","score":2})", kPositive).ok());
  CHECK_FALSE(ParseClassifierResponse(Format::kPlain, R"({"score":0.5})", kPositive).ok());
  CHECK_FALSE(ParseClassifierResponse(Format::kPlain, "not json", kPositive).ok());
  CHECK_FALSE(ParseClassifierResponse(Format::kPlain, "[]", kPositive).ok());
}

TEST_CASE("http formats: LLM Guard analyze/prompt answers") {
  auto a = ParseClassifierResponse(
      Format::kLlmGuard,
      R"({"sanitized_prompt":"x","is_valid":false,"scanners":{"PromptInjection":0.99,"Toxicity":0.1}})",
      kPositive);
  REQUIRE(a.ok());
  CHECK(a->score == Approx(0.99));
  CHECK(a->label == "PromptInjection");
  auto b = ParseClassifierResponse(
      Format::kLlmGuard,
      R"({"sanitized_prompt":"x","is_valid":true,"scanners":{"PromptInjection":-1.0}})", kPositive);
  REQUIRE(b.ok());
  CHECK(b->score == 0);
  auto c =
      ParseClassifierResponse(Format::kLlmGuard, R"({"is_valid":false,"scanners":{}})", kPositive);
  REQUIRE(c.ok());
  CHECK(c->score == 1);  // invalid without a score: flagged
  CHECK_FALSE(ParseClassifierResponse(Format::kLlmGuard, R"({"scanners":{}})", kPositive).ok());
}

TEST_CASE("http formats: Lakera Guard v2 answers") {
  auto a = ParseClassifierResponse(
      Format::kLakera, R"({"flagged":true,"metadata":{"request_uuid":"u"}})", kPositive);
  REQUIRE(a.ok());
  CHECK(a->score == 1);
  auto b = ParseClassifierResponse(Format::kLakera, R"({"flagged":false})", kPositive);
  REQUIRE(b.ok());
  CHECK(b->score == 0);
  CHECK_FALSE(ParseClassifierResponse(Format::kLakera, R"({"flagged":"yes"})", kPositive).ok());
}

}  // namespace
}  // namespace pai::guard
