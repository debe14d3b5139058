// TrackReceiveQueue() and NoteReceiveQueueEmpty() (http/wire.h).
//
// Asio's epoll reactor tries a receive at once (a "speculative" recv(2)) unless the descriptor's
// try_speculative_[read_op] is false; it sets the flag true again on the descriptor's next epoll
// event, and clears it itself only when a receive returns 0 bytes (boost/asio/detail/impl/
// epoll_reactor.ipp: start_op(), descriptor_state::perform_io()). NoteReceiveQueueEmpty() also
// clears it after a short receive, which is nginx's rule (ngx_unix_recv(): a receive shorter than
// its buffer leaves the event not ready until the next edge). The registration is edge-triggered
// (EPOLLET), so bytes that arrive after that receive raise a new event.
//
// A short receive does not mean that nothing is left to read when the peer's FIN or reset came
// with or before the bytes: the end of the stream stays readable and raises no new event. nginx
// tells this from EPOLLRDHUP (its pending_eof); so does this: TrackReceiveQueue() adds
// EPOLLRDHUP to the descriptor's registration, and NoteReceiveQueueEmpty() leaves the flag alone
// when the descriptor's last events (the reactor keeps them in the descriptor's task_result_)
// include EPOLLRDHUP, EPOLLHUP or EPOLLERR. EPOLLRDHUP stays in every later event once the FIN
// has come, and a FIN that comes after those events raises an event of its own.
//
// The reactor's state is private to Asio: it is named here through explicit template
// instantiations, where C++ does not check access ([temp.spec.general]/6), and a C-style cast to
// the descriptor state's private base ([expr.cast]/4). Verified against Boost 1.81 (Debian
// bookworm); any other version or backend compiles the no-ops at the end.
#include <sys/epoll.h>

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/version.hpp>

#include "gateway/pipeline/task.h"

namespace pai::gateway {

using TcpSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;

#if BOOST_VERSION == 108100 && defined(BOOST_ASIO_HAS_EPOLL) && \
    !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)

namespace {

namespace detail = boost::asio::detail;
using BaseSocket = boost::asio::basic_socket<boost::asio::ip::tcp, Executor>;
using SocketImpl =
    detail::io_object_impl<detail::reactive_socket_service<boost::asio::ip::tcp>, Executor>;
using Reactor = detail::epoll_reactor;
using State = Reactor::descriptor_state;
using Mutex = detail::conditionally_enabled_mutex;

// Member<Tag, M>: its explicit instantiation defines Get(Tag), which returns the member pointer M.
template <typename Tag, typename Tag::Type M>
struct Member {
  friend typename Tag::Type Get(Tag) { return M; }
};
#define PAI_ASIO_MEMBER(TAG, TYPE, MEMBER) \
  struct TAG {                             \
    using Type = TYPE;                     \
    friend Type Get(TAG);                  \
  };                                       \
  template struct Member<TAG, MEMBER>
PAI_ASIO_MEMBER(ImplTag, SocketImpl BaseSocket::*, &BaseSocket::impl_);
PAI_ASIO_MEMBER(SpeculateTag, bool (State::*)[Reactor::max_ops], &State::try_speculative_);
PAI_ASIO_MEMBER(MutexTag, Mutex State::*, &State::mutex_);
PAI_ASIO_MEMBER(RegisteredTag, uint32_t State::*, &State::registered_events_);
PAI_ASIO_MEMBER(DescriptorTag, int State::*, &State::descriptor_);
PAI_ASIO_MEMBER(ReactorTag, Reactor* State::*, &State::reactor_);
PAI_ASIO_MEMBER(EpollFdTag, int Reactor::*, &Reactor::epoll_fd_);
PAI_ASIO_MEMBER(EventsTag, unsigned int detail::scheduler_operation::*,
                &detail::scheduler_operation::task_result_);
#undef PAI_ASIO_MEMBER

State* StateOf(TcpSocket& socket) {
  BaseSocket& base = socket;
  return (base.*Get(ImplTag{})).get_implementation().reactor_data_;  // null when closed
}

// The events of the descriptor's last epoll_wait(2) report.
unsigned int LastEvents(State* state) {
  // descriptor_state derives privately from scheduler_operation: a C-style cast is the one cast
  // that may name a private base.
  auto* op = (detail::scheduler_operation*)state;  // NOLINT(*cstyle-cast)
  return op->*Get(EventsTag{});
}

}  // namespace

void TrackReceiveQueue(TcpSocket& socket) {
  State* state = StateOf(socket);
  if (state == nullptr) return;
  Mutex::scoped_lock lock(state->*Get(MutexTag{}));
  uint32_t& registered = state->*Get(RegisteredTag{});
  if (registered == 0 || (registered & EPOLLRDHUP) != 0) return;
  epoll_event ev{};
  ev.events = registered | EPOLLRDHUP;
  ev.data.ptr = state;  // what the reactor registered
  const int epoll_fd = (state->*Get(ReactorTag{}))->*Get(EpollFdTag{});
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, state->*Get(DescriptorTag{}), &ev) == 0) {
    registered = ev.events;  // kept by the reactor's own later EPOLL_CTL_MODs
  }
}

void NoteReceiveQueueEmpty(TcpSocket& socket) {
  State* state = StateOf(socket);
  if (state == nullptr) return;
  Mutex::scoped_lock lock(state->*Get(MutexTag{}));
  // Untracked, nothing tells a pending close from an empty queue: the next receive is tried.
  if ((state->*Get(RegisteredTag{}) & EPOLLRDHUP) == 0) return;
  if ((LastEvents(state) & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) return;
  (state->*Get(SpeculateTag{}))[Reactor::read_op] = false;
}

bool ReceiveQueueNotedEmpty(TcpSocket& socket) {
  State* state = StateOf(socket);
  if (state == nullptr) return false;
  Mutex::scoped_lock lock(state->*Get(MutexTag{}));
  return !(state->*Get(SpeculateTag{}))[Reactor::read_op];
}

bool NotesReceiveQueue() { return true; }

#else

void TrackReceiveQueue(TcpSocket&) {}
void NoteReceiveQueueEmpty(TcpSocket&) {}
bool ReceiveQueueNotedEmpty(TcpSocket&) { return false; }
bool NotesReceiveQueue() { return false; }

#endif

}  // namespace pai::gateway
