// Task<T>: the gateway's coroutine type — an Asio awaitable bound to the concrete executor of
// its shard's io_context, not to the type-erased any_io_executor Asio uses by default. Every
// resumption, completion and I/O operation copies the executor: with the type-erased one each
// copy was a call through a function table (~10k instructions of a proxied call,
// docs/benchmarks.md, "Instructions per request"); with this one it is a pointer.
// A Task is co_awaited only from another Task (Asio requires the same executor type).
//
// Thread safety: a Task runs on its shard's thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

namespace pai::gateway {

using Executor = boost::asio::io_context::executor_type;

template <typename T = void>
using Task = boost::asio::awaitable<T, Executor>;

}  // namespace pai::gateway
