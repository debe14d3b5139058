// The official tiktoken rank files, compiled into the library (rank_data.cc, .incbin of
// third_party/tiktoken/*.tiktoken; their SHA-256 is checked when CMake configures).
#pragma once

#include <string_view>

namespace pai::tokenizer::internal {

std::string_view O200kBaseData();   // o200k_base.tiktoken, verbatim
std::string_view Cl100kBaseData();  // cl100k_base.tiktoken, verbatim

}  // namespace pai::tokenizer::internal
