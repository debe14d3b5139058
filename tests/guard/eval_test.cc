// Quality gate of the builtin classifier: precision, recall and F1 on the labelled sets in
// tests/guard/eval/ at the default threshold (0.8) must not fall below the figures recorded in
// docs/guard.md ("Measured quality"). Raise the floors when the rules improve.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "guard/builtin_classifier.h"

namespace pai::guard {
namespace {

struct Figures {
  int n = 0, tp = 0, fp = 0, fn = 0;
  double precision() const { return tp + fp ? static_cast<double>(tp) / (tp + fp) : 1; }
  double recall() const { return tp + fn ? static_cast<double>(tp) / (tp + fn) : 1; }
  double f1() const {
    const double p = precision(), r = recall();
    return p + r > 0 ? 2 * p * r / (p + r) : 0;
  }
};

Figures Evaluate(const std::string& name) {
  const std::string path = std::string(PAI_SOURCE_DIR) + "/tests/guard/eval/" + name;
  std::ifstream in(path);
  REQUIRE(in.good());
  Figures f;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const boost::json::object o = boost::json::parse(line).as_object();
    const bool attack = o.at("label").as_int64() == 1;
    const bool flagged =
        BuiltinClassifier::Shared().Classify(std::string(o.at("text").as_string())).score >= 0.8;
    ++f.n;
    if (flagged && attack) ++f.tp;
    if (flagged && !attack) ++f.fp;
    if (!flagged && attack) ++f.fn;
  }
  std::printf("%s: n=%d precision %.3f recall %.3f F1 %.3f\n", name.c_str(), f.n, f.precision(),
              f.recall(), f.f1());
  return f;
}

void CheckFloors(const Figures& f, int n, double precision, double recall, double f1) {
  CHECK(f.n == n);  // the set itself did not change unnoticed
  CHECK(f.precision() >= precision);
  CHECK(f.recall() >= recall);
  CHECK(f.f1() >= f1);
}

TEST_CASE("eval: dev set figures do not regress") {
  CheckFloors(Evaluate("dev.jsonl"), kDevN, kDevP, kDevR, kDevF1);
}

TEST_CASE("eval: second dev set figures do not regress") {
  CheckFloors(Evaluate("dev2.jsonl"), kDev2N, kDev2P, kDev2R, kDev2F1);
}

TEST_CASE("eval: holdout set figures do not regress") {
  CheckFloors(Evaluate("holdout.jsonl"), kHoldN, kHoldP, kHoldR, kHoldF1);
}

}  // namespace
}  // namespace pai::guard
