// Fuzz target: the stream translators and answer readers of the provider adapters — Anthropic
// Messages and Gemini streams into chat.completion.chunk events, the native stream relay, the
// non-streamed answer translations and the error mappings (src/gateway/providers/translate_*.h,
// native_request.h). The first byte picks the adapter; the rest is the provider's bytes.
#include "fuzz.h"
#include "gateway/providers/native_request.h"
#include "gateway/providers/translate_anthropic.h"
#include "gateway/providers/translate_gemini.h"

namespace gw = pai::gateway;

namespace {

template <typename Translator>
void Translate(std::string_view bytes) {
  gw::SseParser parser;
  Translator t("model", /*include_usage=*/true, 1700000000);
  std::string out;
  parser.Feed(bytes, [&](const gw::SseEvent& ev) { t.Process(ev, out); });
  t.Finish(out);
  (void)t.usage();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = pai::fuzz::Input(data, size);
  if (in.empty()) return 0;
  const unsigned char mode = static_cast<unsigned char>(in[0]) % 8;
  in.remove_prefix(1);
  switch (mode) {
    case 0:
      Translate<gw::anthropic::StreamTranslator>(in);
      break;
    case 1:
      Translate<gw::gemini::StreamTranslator>(in);
      break;
    case 2:
    case 3: {
      gw::NativeStreamRelay relay(/*anthropic=*/mode == 2);
      std::string out;
      const size_t cut = pai::fuzz::SplitPoint(in);
      relay.Process(in.substr(0, cut), out);
      relay.Process(in.substr(cut), out);
      relay.Finish(out);
      (void)relay.usage();
      (void)relay.texts();
      break;
    }
    case 4:
      (void)gw::anthropic::MessageToChatCompletion(in, "model", 1700000000);
      (void)gw::AnthropicMessageResult(in);
      break;
    case 5:
      (void)gw::gemini::GenerateContentToChatCompletion(in, "model", 1700000000);
      (void)gw::ResponsesResult(in);
      break;
    case 6:
      (void)gw::anthropic::ErrorToOpenAI(400 + static_cast<int>(size % 200), in);
      break;
    default:
      (void)gw::gemini::ErrorToOpenAI(400 + static_cast<int>(size % 200), in);
      break;
  }
  return 0;
}
