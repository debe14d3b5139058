// What the agent-request files of the server share (agent_request.cc, exchange.cc,
// relay/response_relay.cc): small helpers of the response side. Internal to pai_gateway.
#pragma once

#include <chrono>
#include <string_view>

#include "absl/status/status.h"
#include "gateway/http/errors.h"
#include "gateway/pipeline/pipeline.h"
#include "gateway/relay/sse.h"
#include "gateway/relay/stream_writer.h"
#include "gateway/server/server_impl.h"

namespace pai::gateway {

using Clock = std::chrono::steady_clock;

// kMaxErrorBody: the most of a provider's error body read (bytes).
inline constexpr size_t kMaxErrorBody = 1u << 20;

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// JsonReply() is the JSON response `status` with `body` to ctx's request, made from its Reply:
// the reply headers (x-ratelimit-*, Retry-After, Allow), the request id, keep-alive unless the
// connection or the request closes; sets ctx.reply.status. Every JSON answer to an agent
// request is made here.
JsonAnswer JsonReply(const ClientConn& conn, RequestContext& ctx, int status, std::string body);

// WriteReply() writes `res` (from JsonReply()) to the client within `timeout`, marking
// ctx.reply.started first; a failed write closes the connection after this request.
Task<beast::error_code> WriteReply(ClientConn* conn, RequestContext* ctx, JsonAnswer& res,
                                   std::chrono::milliseconds timeout);

// ChunkWriter: the streamed response to the client (chunked, or close-delimited towards
// HTTP/1.0), scrubbed of provider keys (relay/stream_writer.h).
using ChunkWriter = StreamWriter;

// NotAudited(): the status a call gets when its audit record could not be made durable — the
// provider answered, but the gateway does not report a success it cannot prove. 503
// audit_unavailable.
absl::Status NotAudited();

// WaitDurable() suspends the request until the audit chain has acknowledged record `seq` (in
// strict mode the chain's syncer thread posts the wake-up to this shard after its fdatasync).
// False when the chain stopped. The caller checks durable_seq() first: a record already
// acknowledged (group mode, once written) needs no call and no coroutine frame. Runs on the
// request's shard.
Task<bool> WaitDurable(audit::Chain* chain, uint64_t seq);

// StartClientWatch() watches the client socket while a provider call runs: a client that
// disconnects cancels the call (conn->watch->upstream) and sets conn->watch->gone. The watch
// is armed once the call has run for 5 to 10 ms (exchange.cc). StopClientWatch() ends it (no
// other operation is pending on the socket then). Both on the connection's shard thread.
void StartClientWatch(ClientConn* conn);
void StopClientWatch(ClientConn* conn);

// ScrubForRecords(): a stream's relay reads the provider's raw bytes; what its guards (an
// external classifier may be called) and audit records get is scrubbed of provider keys as the
// client's bytes are. Either pointer may be null.
void ScrubForRecords(const RequestContext& ctx, std::vector<GuardText>* texts,
                     std::vector<ToolCall>* calls);

// TranslateEvents() feeds provider bytes through the SSE parser into `translator`, appending
// chat.completion.chunk events to `out`.
void TranslateEvents(SseParser& parser, std::string_view bytes, ChatStreamTranslator& translator,
                     std::string& out);

}  // namespace pai::gateway
