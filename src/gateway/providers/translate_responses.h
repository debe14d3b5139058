// OpenAI Responses API ⇄ OpenAI Chat Completions translation, for the providers with their own
// API (Anthropic, Gemini): a Responses request becomes a chat completion request, which the
// chat translators (translate_anthropic.h, translate_gemini.h) take on to the provider; the
// provider's answer comes back through them as a chat.completion, which becomes a Response
// object here (streams: translate_responses_stream.h). docs/providers.md, "The Responses API".
//
// Wire formats: OpenAI API reference, "Responses" — "Create a model response" (request:
// `input` as a string or items: `message` items with `input_text` / `input_image` /
// `output_text` parts, `function_call` and `function_call_output` items; `instructions`,
// `tools` of type `function`, `tool_choice`, `max_output_tokens`, `temperature`, `top_p`,
// `parallel_tool_calls`, `text.format`, `reasoning`, `stream`) and "The response object"
// (`output` items `message` with `output_text` parts and `function_call` with `call_id` /
// `name` / `arguments`; `status` completed / incomplete with `incomplete_details.reason`;
// `usage` with `input_tokens_details.cached_tokens` and
// `output_tokens_details.reasoning_tokens`); the shapes as the openai-node SDK types them
// (resources/responses/responses.d.ts). "Create chat completion" for the other side.
//
// Thread safety: pure functions.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pai::gateway::responses {

// ResponsesToChat() translates a Responses request (the parsed body) into a chat completion
// request body:
//   `instructions` → a first system message; `input` string → one user message; `input`
//   items: `message` (or an item without `type`) of role user / system / developer with
//   `input_text` / `output_text` parts → text parts and `input_image` (`image_url`) →
//   image_url parts; role assistant with `output_text` / `refusal` parts → assistant text;
//   `function_call` → a `tool_calls` entry of the assistant message ({id: call_id, function:
//   {name, arguments}}, consecutive calls in one message); `function_call_output` → a `tool`
//   message (`output` a string or its text parts joined); `reasoning` items are dropped
//   (the provider's thinking is not carried between turns);
//   `tools` of type function → chat function tools; `tool_choice` auto / none / required /
//   {type: function, name} → the chat forms; `max_output_tokens` → `max_completion_tokens`;
//   `temperature`, `top_p`, `parallel_tool_calls`, `stream` as they are; `user` /
//   `safety_identifier` → `user`; `text.format` json_object / json_schema → `response_format`;
//   `reasoning.effort` → `reasoning_effort` (the Anthropic and Gemini translators drop it).
// Ignored (no effect on what a stateless translation answers): store, metadata, include,
// truncation, service_tier, prompt_cache_key, max_tool_calls, text.verbosity, stream_options.
// Errors: InvalidArgument (400) with `param`: code `unsupported_parameter` for what needs
// state the gateway does not keep (`previous_response_id`, `conversation`, `background`,
// `prompt`, `item_reference` items) or cannot translate (tools other than `function`,
// `input_file` parts, image parts given by `file_id`, other item types, `top_logprobs`);
// `invalid_request_error` for a malformed body.
absl::StatusOr<std::string> ResponsesToChat(const boost::json::object& request);

// ResponseShell() is a Response object without output and usage: `id` ("resp_…"),
// `created_at`, `model`, `status`, and the request's settings echoed (`instructions`,
// `max_output_tokens`, `parallel_tool_calls`, `temperature`, `top_p`, `tool_choice`, `tools`,
// `text`, `reasoning`, `metadata`, `user`), `store: false` (nothing is stored), `error` and
// `incomplete_details` null, `output` [].
boost::json::object ResponseShell(const boost::json::object& request, std::string_view id,
                                  int64_t created_at, std::string_view model,
                                  std::string_view status);

// ResponseUsage() is the Responses `usage` of a chat completion `usage` object: input_tokens
// = prompt_tokens, output_tokens = completion_tokens, cached_tokens =
// prompt_tokens_details.cached_tokens, reasoning_tokens =
// completion_tokens_details.reasoning_tokens (0 when absent), total = input + output.
boost::json::object ResponseUsage(const boost::json::object& chat_usage);

// SetStatus() sets `status` and `incomplete_details` of `response` from a chat finish_reason:
// "length" → incomplete / max_output_tokens, "content_filter" → incomplete / content_filter,
// anything else → completed.
void SetStatus(boost::json::object& response, std::string_view finish_reason);

// ItemId() is the id of output item `index` of the response with id base `base`: "msg_…" for
// a message, "fc_…" for a function call.
std::string ItemId(std::string_view prefix, std::string_view base, size_t index);

// IdBase() turns a chat completion id into the base of the Response's ids (its letters and
// digits).
std::string IdBase(std::string_view chat_id);

// ChatCompletionToResponse() translates a chat.completion (choice 0) into a Response object:
// the message content → one `message` item with one `output_text` part; `tool_calls` →
// `function_call` items (call_id = the tool call id, status completed); finish_reason and
// usage as above. Errors: InvalidArgument when the body is not a chat.completion.
absl::StatusOr<std::string> ChatCompletionToResponse(std::string_view chat_completion,
                                                     const boost::json::object& request);

}  // namespace pai::gateway::responses
