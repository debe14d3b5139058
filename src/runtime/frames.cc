#include "runtime/frames.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace pai::runtime {
namespace {

constexpr size_t kHeader = 5;

void PutU32(char* out, uint32_t v) {
  out[0] = static_cast<char>(v >> 24);
  out[1] = static_cast<char>(v >> 16);
  out[2] = static_cast<char>(v >> 8);
  out[3] = static_cast<char>(v);
}

uint32_t GetU32(const char* in) {
  const auto* u = reinterpret_cast<const unsigned char*>(in);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

// Writes all of `data`; send() with MSG_NOSIGNAL on sockets, write() otherwise.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Reads exactly `size` bytes: 1 done, 0 end of stream before any byte, -1 error or truncation.
int ReadExactly(int fd, char* data, size_t size) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = read(fd, data + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) return got == 0 ? 0 : -1;
    got += static_cast<size_t>(n);
  }
  return 1;
}

}  // namespace

std::string EncodeFrame(Channel channel, std::string_view payload) {
  std::string out(kHeader + payload.size(), '\0');
  PutU32(out.data(), static_cast<uint32_t>(payload.size() + 1));
  out[4] = static_cast<char>(channel);
  if (!payload.empty()) std::memcpy(out.data() + kHeader, payload.data(), payload.size());
  return out;
}

absl::StatusOr<std::optional<Frame>> FrameDecoder::Next() {
  if (Buffered() < kHeader) return std::nullopt;
  const char* head = buffer_.data() + offset_;
  uint32_t length = GetU32(head);
  if (length == 0 || length - 1 > kMaxFramePayload) {
    return absl::InvalidArgumentError("malformed frame length " + std::to_string(length));
  }
  if (Buffered() < 4 + size_t{length}) return std::nullopt;
  Frame frame;
  frame.channel = static_cast<Channel>(static_cast<uint8_t>(head[4]));
  frame.payload.assign(head + kHeader, length - 1);
  offset_ += 4 + size_t{length};
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > (64u << 10)) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return frame;
}

absl::Status WriteFrame(int fd, Channel channel, std::string_view payload) {
  std::string bytes = EncodeFrame(channel, payload);
  if (!WriteAll(fd, bytes.data(), bytes.size())) {
    return absl::UnavailableError(std::string("control socket write: ") + std::strerror(errno));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Frame>> ReadFrame(int fd) {
  char head[kHeader];
  int r = ReadExactly(fd, head, kHeader);
  if (r == 0) return std::nullopt;
  if (r < 0) return absl::UnavailableError("control socket: truncated frame");
  uint32_t length = GetU32(head);
  if (length == 0 || length - 1 > kMaxFramePayload) {
    return absl::InvalidArgumentError("malformed frame length " + std::to_string(length));
  }
  Frame frame;
  frame.channel = static_cast<Channel>(static_cast<uint8_t>(head[4]));
  frame.payload.resize(length - 1);
  if (length > 1 && ReadExactly(fd, frame.payload.data(), length - 1) != 1) {
    return absl::UnavailableError("control socket: truncated frame");
  }
  return frame;
}

}  // namespace pai::runtime
