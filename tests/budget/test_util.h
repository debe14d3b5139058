// Helpers shared by the budget store tests (embedded and Redis): a fresh temporary directory
// and a reservation request of agent default/coder on provider `up`.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "budget/budget_store.h"

namespace pai::budget {

// TempDir(): a new directory under /tmp.
inline std::string TempDir() {
  char tmpl[] = "/tmp/pai-budget-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}

// Req(): `input` tokens of input bound (estimate input / 4), the client's max_tokens `output`,
// `choices` choices, under a daily token budget (0 = none).
inline ReserveRequest Req(int64_t tokens_per_day, int64_t input, std::optional<int64_t> output = {},
                          int64_t choices = 1) {
  ReserveRequest r;
  r.agent = "default/coder";
  r.provider = "up";
  r.agent_limits.tokens_per_day = tokens_per_day;
  r.input_upper = input;
  r.input_estimate = input / 4;
  r.requested_output = output;
  r.choices = choices;
  return r;
}

}  // namespace pai::budget
