// guard_eval: precision, recall and F1 of the builtin classifier on labelled JSON Lines
// (tests/guard/eval/*.jsonl: {"id","label","category","lang","text"}), at one or more
// thresholds; --misses lists the misclassified texts (for tuning on the dev set only).
//
//   build/bench/guard_eval [--threshold T] [--misses] FILE...
#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "guard/builtin_classifier.h"

int main(int argc, char** argv) {
  double threshold = 0.8;
  bool misses = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threshold") && i + 1 < argc) {
      threshold = std::atof(argv[++i]);
    } else if (!std::strcmp(argv[i], "--misses")) {
      misses = true;
    } else {
      files.push_back(argv[i]);
    }
  }
  const auto& clf = pai::guard::BuiltinClassifier::Shared();
  for (const std::string& f : files) {
    std::ifstream in(f);
    if (!in) {
      std::fprintf(stderr, "guard_eval: cannot read %s\n", f.c_str());
      return 2;
    }
    int tp = 0, fp = 0, tn = 0, fn = 0;
    std::map<std::string, std::pair<int, int>> by_cat;  // category -> (correct, total)
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      auto v = boost::json::parse(line).as_object();
      const int label = static_cast<int>(v["label"].as_int64());
      const std::string text(v["text"].as_string());
      const std::string cat(v["category"].as_string());
      const auto verdict = clf.Classify(text);
      const bool flagged = verdict.score >= threshold;
      if (flagged && label) ++tp;
      if (flagged && !label) ++fp;
      if (!flagged && !label) ++tn;
      if (!flagged && label) ++fn;
      auto& c = by_cat[cat];
      c.second++;
      if (flagged == (label == 1)) c.first++;
      if (misses && flagged != (label == 1)) {
        std::string rules;
        for (const auto& e : verdict.evidence) {
          rules += std::string(e.rule) + (e.quoted ? "(q)" : "") + ":" +
                   std::to_string(e.weight).substr(0, 4) + " ";
        }
        std::printf("%s %s label=%d score=%.3f disc=%d [%s]\n   %.300s\n",
                    std::string(v["id"].as_string()).c_str(), cat.c_str(), label, verdict.score,
                    verdict.discussion ? 1 : 0, rules.c_str(), text.c_str());
      }
    }
    const double p = tp + fp ? static_cast<double>(tp) / (tp + fp) : 1;
    const double r = tp + fn ? static_cast<double>(tp) / (tp + fn) : 1;
    const double f1 = p + r ? 2 * p * r / (p + r) : 0;
    std::printf(
        "%s: threshold %.2f  n=%d  tp=%d fp=%d tn=%d fn=%d  precision %.3f recall %.3f "
        "F1 %.3f\n",
        f.c_str(), threshold, tp + fp + tn + fn, tp, fp, tn, fn, p, r, f1);
    for (const auto& [cat, c] : by_cat) {
      std::printf("  %-22s %3d/%3d\n", cat.c_str(), c.first, c.second);
    }
  }
  return 0;
}
