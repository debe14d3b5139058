#include "harness/http.h"

namespace pai::harness {

CURLcode PerformCancellable(CURL* easy, CancelToken& cancel, bool* cancelled) {
  *cancelled = false;
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) return CURLE_OUT_OF_MEMORY;
  curl_multi_add_handle(multi, easy);
  CURLcode result = CURLE_OK;
  {
    ScopedCancelHook hook(cancel, [multi] { curl_multi_wakeup(multi); });
    for (;;) {
      if (cancel.cancelled()) {
        *cancelled = true;
        result = CURLE_ABORTED_BY_CALLBACK;
        break;
      }
      int running = 0;
      const CURLMcode mc = curl_multi_perform(multi, &running);
      if (mc != CURLM_OK) {
        result = CURLE_FAILED_INIT;
        break;
      }
      if (running == 0) {
        int left = 0;
        result = CURLE_GOT_NOTHING;
        while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
          if (m->msg == CURLMSG_DONE) result = m->data.result;
        }
        break;
      }
      curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
  }
  curl_multi_remove_handle(multi, easy);
  curl_multi_cleanup(multi);
  return result;
}

}  // namespace pai::harness
