// PerformCancellable(): runs one prepared libcurl easy transfer on a private multi handle so
// that a CancelToken can stop it at once (curl_multi_wakeup from the cancelling thread), which
// curl_easy_perform cannot do.
//
// Thread safety: the easy handle belongs to the calling thread; only the token crosses threads.
#pragma once

#include <curl/curl.h>

#include "harness/cancel.h"

namespace pai::harness {

// Returns the transfer's result; CURLE_ABORTED_BY_CALLBACK when `cancel` fired (or when a write
// callback refused data). `*cancelled` tells the two apart.
CURLcode PerformCancellable(CURL* easy, CancelToken& cancel, bool* cancelled);

}  // namespace pai::harness
