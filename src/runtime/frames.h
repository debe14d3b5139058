// The control-socket frame codec shared by the host (Sandbox) and pai-sandbox-init
// (docs/sessions.md, "Control socket protocol").
//
// A frame is `u32 length | u8 channel | payload`, the length big-endian and counting what
// follows it (the channel byte and the payload), so a zero-length payload has length 1. A frame
// whose payload exceeds kMaxFramePayload is a protocol error.
//
// Thread safety: the free functions are thread-safe; a FrameDecoder is not.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pai::runtime {

// Channels (Kubernetes' v4.channel.k8s.io numbering plus 5, the request).
enum class Channel : uint8_t {
  kStdin = 0,
  kStdout = 1,
  kStderr = 2,
  kStatus = 3,   // JSON: {"status":"Success"|"Failure","exitCode":N,"message":"..."}
  kResize = 4,   // JSON: {"Width":W,"Height":H}
  kRequest = 5,  // JSON, the first frame from the client
};

inline constexpr size_t kMaxFramePayload = 4u << 20;  // 4 MiB

struct Frame {
  Channel channel = Channel::kStdin;
  std::string payload;
};

// EncodeFrame(): the bytes of one frame (payload must not exceed kMaxFramePayload).
std::string EncodeFrame(Channel channel, std::string_view payload);

// FrameDecoder: splits a byte stream into frames, incrementally.
class FrameDecoder {
 public:
  // Feed(): appends received bytes.
  void Feed(std::string_view bytes) { buffer_.append(bytes); }
  // Next(): the next complete frame, nullopt when more bytes are needed; InvalidArgument on a
  // malformed frame (length 0 or payload above kMaxFramePayload; the stream is then unusable).
  absl::StatusOr<std::optional<Frame>> Next();
  // Buffered(): bytes received but not yet returned as frames.
  size_t Buffered() const { return buffer_.size() - offset_; }

 private:
  std::string buffer_;
  size_t offset_ = 0;
};

// WriteFrame(): writes one frame to a blocking fd (EINTR retried, no SIGPIPE on sockets).
// Errors: Unavailable when the peer is gone.
absl::Status WriteFrame(int fd, Channel channel, std::string_view payload);

// ReadFrame(): reads one frame from a blocking fd. nullopt on a clean end of stream between
// frames. Errors: Unavailable (read error or end of stream inside a frame), InvalidArgument
// (malformed frame).
absl::StatusOr<std::optional<Frame>> ReadFrame(int fd);

}  // namespace pai::runtime
