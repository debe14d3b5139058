#include "gateway/stages/input_tokens.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "gateway/providers/native_request.h"
#include "gateway/stages/admission.h"
#include "gateway/stages/tool_tokens.h"

namespace pai::gateway {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What OpenAI bills for the fixture requests (tiktoken + the cookbook's formulas), recorded by
// tests/tokenizer/gen_vectors.mjs.
int64_t Billed(std::string_view encoding, std::string_view fixture) {
  static const boost::json::value v =
      boost::json::parse(ReadFile(PAI_SOURCE_DIR "/tests/tokenizer/vectors.json"));
  return v.at("encodings").at(encoding).at("cookbook").at(fixture).as_int64();
}

std::string SourceRequest() {
  boost::json::object req;
  req["model"] = "gpt-4o-mini";
  req["max_tokens"] = 1024;
  boost::json::object msg;
  msg["role"] = "user";
  msg["content"] = "Review this file and list its bugs.\n\n" +
                   ReadFile(PAI_SOURCE_DIR "/bench/fixtures/source_40k.cc");
  req["messages"] = boost::json::array{msg};
  return boost::json::serialize(req);
}

const tokenizer::Encoding& O200k() {
  return tokenizer::Encoding::Get(tokenizer::EncodingId::kO200kBase);
}

TEST_CASE("the chat input bound of a 40 KB source file is its billed tokens plus framing") {
  const std::string body = SourceRequest();
  auto bound = ChatInputTokens(body, O200k());
  REQUIRE(bound.ok());
  const int64_t billed = Billed("o200k_base", "source_40k");
  CHECK(*bound >= billed);
  CHECK(*bound <= billed + 16);  // the role and the numbers are counted, nothing else
  CHECK(static_cast<int64_t>(body.size()) > 3 * *bound);  // the byte bound it replaces
}

TEST_CASE("the chat input bound of an agent request with tools is within 3 percent of its bill") {
  for (auto id : {tokenizer::EncodingId::kO200kBase, tokenizer::EncodingId::kCl100kBase}) {
    const std::string body = ReadFile(PAI_SOURCE_DIR "/bench/fixtures/agent_request_100k.json");
    auto bound = ChatInputTokens(body, tokenizer::Encoding::Get(id));
    REQUIRE(bound.ok());
    const int64_t billed = Billed(tokenizer::EncodingName(id), "agent_request_100k");
    INFO(tokenizer::EncodingName(id) << ": bound " << *bound << ", billed " << billed);
    CHECK(*bound >= billed);
    CHECK(*bound * 1000 <= billed * 1030);  // within 3 %: tool calls' framing, the tools' slack
  }
}

TEST_CASE("chat framing: 3 per message, 1 per name, 3 for the reply, tools by their declaration") {
  const auto count = [](std::string_view s) { return O200k().Count(s); };
  const std::string one = R"({"model":"m","messages":[{"role":"user","content":"hello there"}]})";
  CHECK(*ChatInputTokens(one, O200k()) == 3 + 3 + count("user") + count("hello there"));
  const std::string named =
      R"({"model":"m","messages":[{"role":"user","name":"bob","content":"hi"}],"n":2})";
  CHECK(*ChatInputTokens(named, O200k()) == 3 + 3 + count("user") + 1 + count("bob") + count("hi"));
  const std::string tool = R"({"type":"function","function":{"name":"f","parameters":{}}})";
  const std::string tools =
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[)" + tool + "," + tool +
      "]}";
  CHECK(*ChatInputTokens(tools, O200k()) ==
        3 + 3 + count("user") + count("hi") +
            2 * (count("// \ntype f = () => any;\n\n") + kToolSlack) + kToolsEnd);
  // A member the gateway does not know counts as its JSON text (it may be rendered).
  const std::string extra =
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}})";
  CHECK(*ChatInputTokens(extra, O200k()) ==
        3 + 3 + count("user") + count("hi") + count(R"({"type":"json_object"})"));
}

TEST_CASE("an image part costs kImageTokens whatever its data URL size") {
  const std::string url = "data:image/png;base64," + std::string(100000, 'A');
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":[)"
                           R"({"type":"text","text":"what is this?"},)"
                           R"({"type":"image_url","image_url":{"url":")" +
                           url + R"("}}]}]})";
  auto bound = ChatInputTokens(body, O200k());
  REQUIRE(bound.ok());
  CHECK(*bound >= kImageTokens);
  CHECK(*bound < kImageTokens + 40);
}

TEST_CASE("the Responses input bound counts instructions, input items and tools") {
  const auto count = [](std::string_view s) { return O200k().Count(s); };
  const auto body =
      boost::json::parse(R"({"model":"gpt-4.1","instructions":"Be brief.","input":"hello there",)"
                         R"("max_output_tokens":100})")
          .as_object();
  CHECK(ResponsesInputTokens(body, O200k()) ==
        3 + count("Be brief.") + 3 + count("hello there") + 3);
}

TEST_CASE("native bodies: every image part adds kImageTokens to the byte bound") {
  // 20 short image URLs in a small body: the byte bound alone would hold far fewer tokens than
  // the provider bills for the images.
  boost::json::array parts;
  for (int i = 0; i < 20; ++i) {
    parts.push_back(boost::json::object{{"type", "input_image"}, {"image_url", "https://x/a.png"}});
  }
  boost::json::object item{{"role", "user"}, {"content", parts}};
  boost::json::object req{{"model", "gpt-4.1"}, {"input", boost::json::array{item}}};
  const std::string body = boost::json::serialize(req);
  NativeRequest native;
  native.doc = std::make_shared<const boost::json::object>(req);
  const InputBound none = InputBoundOf(Route::kResponses, std::nullopt, body, nullptr, &native);
  CHECK(none.upper >= 20 * kImageTokens);
  const InputBound o200k =
      InputBoundOf(Route::kResponses, tokenizer::EncodingId::kO200kBase, body, nullptr, &native);
  CHECK(o200k.upper >= 20 * kImageTokens);
  // Anthropic Messages image blocks count too.
  boost::json::object block{{"type", "image"},
                            {"source", boost::json::object{{"type", "url"}, {"url", "https://x"}}}};
  boost::json::object msg{{"role", "user"}, {"content", boost::json::array{block, block}}};
  boost::json::object messages{
      {"model", "claude-haiku-4-5"}, {"max_tokens", 10}, {"messages", boost::json::array{msg}}};
  native.doc = std::make_shared<const boost::json::object>(messages);
  CHECK(InputBoundOf(Route::kMessages, std::nullopt, boost::json::serialize(messages), nullptr,
                     &native)
            .upper >= 2 * kImageTokens);
}

TEST_CASE("the embeddings input bound is the tokens of its inputs") {
  const auto& cl100k = tokenizer::Encoding::Get(tokenizer::EncodingId::kCl100kBase);
  const auto count = [&](std::string_view s) { return cl100k.Count(s); };
  CHECK(*EmbeddingsInputTokens(R"({"model":"m","input":"hello there"})", cl100k) ==
        count("hello there"));
  CHECK(*EmbeddingsInputTokens(R"({"input":["a b c","hello"],"model":"m"})", cl100k) ==
        count("a b c") + count("hello"));
  CHECK(*EmbeddingsInputTokens(R"({"model":"m","input":[[1,2,3],[4]]})", cl100k) == 4);
}

TEST_CASE("models use their provider's public tokenizer, the mock o200k_base, others none") {
  using config::ProviderKind;
  CHECK(EncodingFor(ProviderKind::kOpenAI, "gpt-4o-mini") == tokenizer::EncodingId::kO200kBase);
  CHECK(EncodingFor(ProviderKind::kOpenAI, "gpt-4-turbo") == tokenizer::EncodingId::kCl100kBase);
  CHECK(EncodingFor(ProviderKind::kOpenAI, "my-finetune") == std::nullopt);
  CHECK(EncodingFor(ProviderKind::kOpenRouter, "openai/gpt-4o") ==
        tokenizer::EncodingId::kO200kBase);
  CHECK(EncodingFor(ProviderKind::kOpenRouter, "meta-llama/llama-3-70b") == std::nullopt);
  CHECK(EncodingFor(ProviderKind::kMock, "echo") == tokenizer::EncodingId::kO200kBase);
  CHECK(EncodingFor(ProviderKind::kAnthropic, "claude-sonnet-4-5") == std::nullopt);
  CHECK(EncodingFor(ProviderKind::kGemini, "gemini-2.5-flash") == std::nullopt);
}

}  // namespace
}  // namespace pai::gateway

TEST_CASE("CountedInputBound: a provider count plus the margin and the slack, saturating",
          "[input_tokens]") {
  using pai::gateway::CountedInputBound;
  using pai::gateway::kCountSlack;
  CHECK(CountedInputBound(10000, 2) == 10000 + 200 + kCountSlack);
  CHECK(CountedInputBound(10001, 2) == 10001 + 201 + kCountSlack);  // the margin rounds up
  CHECK(CountedInputBound(0, 2) == kCountSlack);
  CHECK(CountedInputBound(-5, 2) == kCountSlack);  // a negative count is no count
  CHECK(CountedInputBound(1000, 0) == 1000 + kCountSlack);
  CHECK(CountedInputBound(INT64_MAX, 2) == INT64_MAX);
}

TEST_CASE("a function tool is rendered as its harmony declaration, other schemas as their JSON",
          "[input_tokens]") {
  using pai::gateway::RenderTool;
  const auto tool = boost::json::parse(R"({"type":"function","function":{
    "name":"get_weather","description":"Get the weather",
    "parameters":{"type":"object","required":["city"],"properties":{
      "city":{"type":"string","description":"City name"},
      "unit":{"type":"string","enum":["celsius","fahrenheit"],"default":"celsius"},
      "days":{"type":"array","items":{"type":"integer"}},
      "where":{"type":"object","properties":{"lat":{"type":"number"}}}}}}})");
  auto r = RenderTool(tool);
  REQUIRE(r);
  CHECK(r->declaration ==
        "// Get the weather\ntype get_weather = (_: {\n// City name\ncity: string,\n"
        "unit?: \"celsius\" | \"fahrenheit\", // default: \"celsius\",\ndays?: number[],\n}) => "
        "any;\n\n");
  // A nested object is not a plain type: its name and whole schema are counted instead.
  CHECK(r->unrendered == R"(where: {"type":"object","properties":{"lat":{"type":"number"}}})"
                         "\n");
  // The Responses API's flat shape renders the same.
  const auto flat = boost::json::parse(
      R"({"type":"function","name":"f","description":"d","parameters":{"type":"object","properties":{}}})");
  REQUIRE(RenderTool(flat));
  CHECK(RenderTool(flat)->declaration == "// d\ntype f = () => any;\n\n");
  // What the declaration does not show is counted as JSON text: the parameters' $defs and
  // additionalProperties, a property's format, an integer enum (whole), items with more than a
  // type (whole).
  const auto rich = boost::json::parse(R"({"type":"function","function":{"name":"g",
    "parameters":{"type":"object","additionalProperties":false,
      "$defs":{"Point":{"type":"object","properties":{"x":{"type":"number"}}}},
      "properties":{
        "url":{"type":"string","format":"uri"},
        "level":{"type":"integer","enum":[1,2,3]},
        "tags":{"type":"array","items":{"type":"string","maxLength":8}},
        "at":{"$ref":"#/$defs/Point"}}}}})");
  auto g = RenderTool(rich);
  REQUIRE(g);
  CHECK(g->declaration == "// \ntype g = (_: {\nurl?: string,\n}) => any;\n\n");
  CHECK(
      g->unrendered ==
      R"(parameters: {"additionalProperties":false,"$defs":{"Point":{"type":"object","properties":{"x":{"type":"number"}}}}})"
      "\n"
      R"(url: {"format":"uri"})"
      "\n"
      R"(level: {"type":"integer","enum":[1,2,3]})"
      "\n"
      R"(tags: {"type":"array","items":{"type":"string","maxLength":8}})"
      "\n"
      R"(at: {"$ref":"#/$defs/Point"})"
      "\n");
  // Tools that are not functions are not rendered (counted as their JSON text).
  CHECK(!RenderTool(boost::json::parse(R"({"type":"web_search_preview"})")));
  CHECK(!RenderTool(boost::json::parse(R"({"type":"function","function":{"parameters":{}}})")));
  const auto& enc = pai::gateway::O200k();
  const auto other = boost::json::parse(R"({"type":"custom","name":"x","format":{"type":"text"}})");
  CHECK(pai::gateway::ToolTokens(other, enc) ==
        enc.Count(boost::json::serialize(other)) + pai::gateway::kToolSlack);
}
