// Helpers shared by the pai_resource tests.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "resource/resource.h"

namespace pai::resource::testing {

// One YAML document as JSON (REQUIREs that it parses).
inline boost::json::value Doc(const std::string& yaml) {
  auto docs = YamlToJson(yaml);
  REQUIRE(docs.ok());
  REQUIRE(docs->size() == 1);
  return (*docs)[0];
}

inline std::vector<FieldError> Errors(const std::string& yaml, const Lookup& lookup = {}) {
  return Validate(Doc(yaml), lookup);
}

inline std::string Describe(const std::vector<FieldError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.field + ": " + e.message + "\n";
  return out;
}

// The errors must be exactly one, on `field`, with `message` (when given).
inline void RequireOneError(const std::vector<FieldError>& errors, const std::string& field,
                            const std::string& message = "") {
  INFO(Describe(errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].field == field);
  if (!message.empty()) CHECK(errors[0].message == message);
}

}  // namespace pai::resource::testing
