#include "ldap_io.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>

namespace gw::ldap {

namespace {
constexpr std::size_t kInitialBuffer = 16 * 1024;
// The message id of the gateway's own StartTLS request: the connection is fresh, nothing else is in flight.
constexpr std::int32_t kStartTlsId = 1;
}  // namespace

// ---- MessageReader ---------------------------------------------------------------------------------

MessageReader::MessageReader(Stream& stream, std::size_t max_message_size, Watchdog& activity)
    : stream_(stream), max_message_size_(max_message_size), activity_(activity), buffer_(kInitialBuffer) {}

bool MessageReader::ready() const noexcept {
  return frame(buffered(), max_message_size_).status != Frame::Status::need_more;
}

asio::awaitable<MessageReader::Next> MessageReader::next() {
  Next out;
  for (;;) {
    const Frame f = frame(buffered(), max_message_size_);
    if (f.status == Frame::Status::complete) {
      out.status = Status::message;
      out.message = ByteView(buffer_.data() + begin_, f.size);
      begin_ += f.size;
      co_return out;
    }
    if (f.status == Frame::Status::malformed) {
      out.status = Status::malformed;
      out.error = f.error;
      co_return out;
    }
    // Make room: move what is buffered to the front, then grow if a whole message still cannot fit.
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    // A full buffer holds part of a message that frame() found within max_message_size, so growing
    // up to that size always makes room.
    if (end_ == buffer_.size()) buffer_.resize(std::min(buffer_.size() * 2, max_message_size_));
    IoResult r = co_await stream_.read_some(asio::buffer(buffer_.data() + end_, buffer_.size() - end_));
    end_ += r.bytes;
    if (r.bytes > 0) activity_.touch();
    if (r.error) {
      if (r.bytes > 0) continue;  // frame what arrived first
      if (is_eof(r.error)) {
        out.status = end_ == begin_ ? Status::eof : Status::malformed;
        if (out.status == Status::malformed) out.error = "connection ended inside a message";
      } else {
        out.status = Status::io_error;
        out.error = r.error.message();
      }
      co_return out;
    }
  }
}

// ---- WriteGate -------------------------------------------------------------------------------------

asio::awaitable<IoResult> WriteGate::write(ByteView bytes) {
  while (busy_) {
    waiters_.expires_at(asio::steady_timer::time_point::max());
    error_code ignored;
    co_await waiters_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  busy_ = true;
  IoResult result = co_await stream_.write(asio::buffer(bytes.data(), bytes.size()));
  busy_ = false;
  waiters_.cancel();
  co_return result;
}

// ---- Connection ------------------------------------------------------------------------------------

Connection::Connection(asio::any_io_executor executor, Stream& client_stream,
                       std::chrono::milliseconds idle_timeout)
    : client(client_stream),
      to_client(client_stream, executor),
      activity(executor, idle_timeout,
               [this] {
                 idle_ = true;
                 stop("idle for " + std::to_string(idle_timeout_.count()) + "ms");
               }),
      executor_(executor),
      idle_timeout_(idle_timeout),
      all_done_(executor) {}

Connection::~Connection() = default;

void Connection::spawn(asio::awaitable<void> task) {
  ++running_;
  asio::co_spawn(executor_, std::move(task), [this](std::exception_ptr error) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        stop(std::string("internal error: ") + e.what());
      }
    }
    if (--running_ == 0) {
      activity.stop();  // an idle verdict after every task ended would be wrong
      all_done_.cancel();
    }
  });
}

asio::awaitable<void> Connection::wait() {
  while (running_ > 0) {
    all_done_.expires_at(asio::steady_timer::time_point::max());
    error_code ignored;
    co_await all_done_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

void Connection::stop(std::string why) {
  if (stopped_) return;
  stopped_ = true;
  reason_ = std::move(why);
  client.close();
  if (directory) directory->close();
  activity.stop();
}

asio::awaitable<void> relay_raw(Connection& connection, Stream& from, std::size_t buffer_size,
                                std::uint64_t& bytes) {
  std::unique_ptr<std::uint8_t[]> buffer(new std::uint8_t[buffer_size]);
  for (;;) {
    IoResult r = co_await from.read_some(asio::buffer(buffer.get(), buffer_size));
    if (r.bytes > 0) {
      connection.activity.touch();
      IoResult w = co_await connection.to_client.write(ByteView(buffer.get(), r.bytes));
      bytes += w.bytes;
      if (w.error) {
        connection.stop("client: " + w.error.message());
        co_return;
      }
    }
    if (is_eof(r.error)) {
      co_await connection.client.shutdown_write();
      co_return;
    }
    if (r.error) {
      connection.stop("directory: " + r.error.message());
      co_return;
    }
  }
}

// ---- open_directory --------------------------------------------------------------------------------

asio::awaitable<OpenResult> open_directory(Tunnel& tunnel, OpenRequest request, bool starttls,
                                           std::size_t max_message_size) {
  if (!starttls) co_return co_await tunnel.open(request);
  // Early data waits for TLS: nothing of the client's may cross the network in plain text.
  OpenRequest plain = request;
  plain.tls.enabled = false;
  plain.early_data = {};
  OpenResult opened = co_await tunnel.open(plain);
  if (!opened) co_return opened;

  const std::string target = request.host + ":" + std::to_string(request.port);
  auto fail = [&](std::string reason) {
    opened.stream->close();
    OpenResult failed;
    failed.error = make_error_code(TunnelErrc::refused);
    failed.reason = "StartTLS with " + target + ": " + std::move(reason);
    return failed;
  };

  // Bounded like a connect: a directory that never answers is closed when the deadline passes.
  Deadline deadline(opened.stream->executor(), request.connect_timeout,
                    [stream = opened.stream.get()] { stream->close(); });

  const Bytes starttls_request = encode_extended_request(kStartTlsId, kStartTlsOid);
  IoResult w = co_await opened.stream->write(asio::buffer(starttls_request));
  Watchdog no_idle_limit(opened.stream->executor(), std::chrono::milliseconds(0),
                         {});  // the deadline bounds it
  MessageReader reader(*opened.stream, max_message_size, no_idle_limit);
  MessageReader::Next answer;
  if (!w.error) answer = co_await reader.next();
  deadline.disarm();
  if (deadline.expired())
    co_return fail("no answer within " + std::to_string(request.connect_timeout.count()) + "ms");
  if (w.error) co_return fail(w.error.message());
  if (answer.status != MessageReader::Status::message) {
    co_return fail(answer.status == MessageReader::Status::eof ? "the directory closed the connection"
                                                               : answer.error);
  }
  std::string error;
  auto response = decode(answer.message, error);
  if (!response) co_return fail("malformed answer: " + error);
  if (response->op != Op::extended_response || response->id != kStartTlsId) {
    co_return fail("unexpected " + std::string(op_name(response->op)) + " in answer");
  }
  if (response->result_code != result::success) {
    co_return fail("refused with result " + std::to_string(response->result_code) +
                   (response->diagnostic.empty() ? "" : " (" + response->diagnostic + ")"));
  }
  if (!reader.buffered().empty()) co_return fail("the directory sent data before the TLS handshake");
  co_return co_await tunnel.start_tls(std::move(opened.stream), request);  // with the early data
}

}  // namespace gw::ldap
