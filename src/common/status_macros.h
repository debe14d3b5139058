// Small status helpers that Debian's abseil (20220623) does not ship.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define PAI_STATUS_CONCAT_INNER_(a, b) a##b
#define PAI_STATUS_CONCAT_(a, b) PAI_STATUS_CONCAT_INNER_(a, b)

// PAI_RETURN_IF_ERROR(expr): returns the status of `expr` from the enclosing function when it is
// not OK.
#define PAI_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status pai_status_ = (expr);       \
    if (!pai_status_.ok()) return pai_status_; \
  } while (0)

// PAI_ASSIGN_OR_RETURN(lhs, expr): evaluates the StatusOr `expr`; on error returns its status,
// otherwise moves the value into `lhs` (which may be a declaration).
#define PAI_ASSIGN_OR_RETURN(lhs, expr) \
  PAI_ASSIGN_OR_RETURN_IMPL_(PAI_STATUS_CONCAT_(pai_statusor_, __LINE__), lhs, expr)
// `tmp` is a name and `lhs` may be a declaration: neither can be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define PAI_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return std::move(tmp).status();   \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
