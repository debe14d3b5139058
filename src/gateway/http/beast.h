// Asio/Beast in one place. Only the few translation units that do network I/O include this
// (docs/architecture.md, "The gateway's layout"): a Beast TU costs ~1 min to compile here.
// Asio and Beast are compiled once, in beast_impl.cc (separate compilation).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>

#include "gateway/pipeline/task.h"

namespace pai::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// The I/O objects of a shard, on its io_context's concrete executor (pipeline/task.h).
using Socket = net::basic_stream_socket<tcp, Executor>;
using Acceptor = net::basic_socket_acceptor<tcp, Executor>;
using Resolver = net::ip::basic_resolver<tcp, Executor>;
using SteadyTimer =
    net::basic_waitable_timer<std::chrono::steady_clock,
                              net::wait_traits<std::chrono::steady_clock>, Executor>;
using TcpStream = beast::basic_stream<tcp, Executor>;

// Completion tokens of a Task: kAwait throws on error; kTuple returns it for expected errors:
// `auto [ec, n] = co_await op(..., kTuple);`
inline constexpr net::use_awaitable_t<Executor> kAwait{};
inline constexpr auto kTuple = net::as_tuple(net::use_awaitable_t<Executor>{});

}  // namespace pai::gateway
