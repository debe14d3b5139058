// Embeds the rank files with the assembler's .incbin: no generated multi-megabyte source, and
// the binary needs no data file at run time. PAI_O200K_FILE / PAI_CL100K_FILE are absolute
// paths (string literals) given by CMake, which also makes this object depend on the files.
#include "tokenizer/internal/rank_data.h"

#define PAI_INCBIN(sym, file)       \
  __asm__(                          \
      ".pushsection .rodata\n"      \
      ".global " #sym               \
      "_begin\n"                    \
      ".balign 16\n" #sym           \
      "_begin:\n"                   \
      ".incbin \"" file             \
      "\"\n"                        \
      ".global " #sym "_end\n" #sym \
      "_end:\n"                     \
      ".byte 0\n"                   \
      ".popsection\n")

PAI_INCBIN(pai_tiktoken_o200k, PAI_O200K_FILE);
PAI_INCBIN(pai_tiktoken_cl100k, PAI_CL100K_FILE);

extern "C" {
extern const char pai_tiktoken_o200k_begin[];
extern const char pai_tiktoken_o200k_end[];
extern const char pai_tiktoken_cl100k_begin[];
extern const char pai_tiktoken_cl100k_end[];
}

namespace pai::tokenizer::internal {

std::string_view O200kBaseData() {
  return {pai_tiktoken_o200k_begin,
          static_cast<size_t>(pai_tiktoken_o200k_end - pai_tiktoken_o200k_begin)};
}

std::string_view Cl100kBaseData() {
  return {pai_tiktoken_cl100k_begin,
          static_cast<size_t>(pai_tiktoken_cl100k_end - pai_tiktoken_cl100k_begin)};
}

}  // namespace pai::tokenizer::internal
