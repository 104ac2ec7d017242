#include "tunnel/h2_connection.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <new>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace gw::tunnel {

namespace detail {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadBufferSize = 64 << 10;
// The write loop gathers frames up to this much before one transport write (one TLS record batch).
constexpr std::size_t kWriteBatch = 256 << 10;
// Request header bytes a server collects for one stream (name + value + 32 per field, as HPACK counts).
constexpr std::size_t kMaxHeaderBlock = 16 << 10;
constexpr std::uint32_t kMaxStreamId = (1u << 31) - 1;
// Opaque data of the PING that times the final GOAWAY of a graceful server shutdown.
constexpr std::uint8_t kDrainPing[8] = {'g', 'w', '-', 'd', 'r', 'a', 'i', 'n'};

std::atomic<std::uint64_t> next_connection_id{1};

bool running_here(const asio::any_io_executor& executor) {
  if (const auto* io = executor.target<asio::io_context::executor_type>())
    return io->running_in_this_thread();
  return false;
}

nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  return {const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(name.data())),
          const_cast<std::uint8_t*>(reinterpret_cast<const std::uint8_t*>(value.data())), name.size(),
          value.size(), NGHTTP2_NV_FLAG_NONE};
}

H2Options clamped(H2Options options) {
  constexpr std::uint32_t max_window = (1u << 31) - 1;
  options.max_concurrent_streams = std::max<std::uint32_t>(options.max_concurrent_streams, 1);
  options.stream_window = std::clamp<std::uint32_t>(options.stream_window, 16 << 10, max_window);
  options.connection_window = std::clamp<std::uint32_t>(options.connection_window, 65535, max_window);
  options.max_frame_size = std::clamp<std::uint32_t>(options.max_frame_size, 16384, (1u << 24) - 1);
  return options;
}

}  // namespace

// Wakes one coroutine waiting on the connection's executor: a timer that never expires serves as the
// condition variable (Boost 1.74 has no channels). The timer is created on first use, so a stream that
// never waits in a direction costs a pointer. Not a coroutine itself (one frame less per pending
// operation): `co_await waiter.wait(...)`, then `waiter.woken()`. The waiter always re-checks its
// condition after waking.
class Waiter {
 public:
  auto wait(const asio::any_io_executor& executor, Clock::time_point deadline = Clock::time_point::max()) {
    if (!timer_) timer_ = std::make_unique<asio::steady_timer>(executor);
    timer_->expires_at(deadline);
    waiting_ = true;
    return timer_->async_wait(asio::redirect_error(asio::use_awaitable, result_));
  }
  // After the wait: true when woken by wake(), false when the deadline passed.
  bool woken() noexcept {
    waiting_ = false;
    return result_ == asio::error::operation_aborted;
  }
  void wake() noexcept {
    if (waiting_) timer_->cancel();
  }

 private:
  std::unique_ptr<asio::steady_timer> timer_;
  error_code result_;
  bool waiting_ = false;
};

// Buffers of drained ByteQueues, kept per thread for the next queue that needs one. A busy stream
// drains and refills its queue all the time, and many request/response streams each need a small
// queue now and then; handing the memory back to the allocator each time costs page faults (large
// blocks are mapped and unmapped). At most kCachedBytes in all, in buffers of at most
// kMaxCachedBuffer bytes, per worker thread.
class BufferCache {
 public:
  static constexpr std::size_t kCachedBytes = 8 << 20;
  static constexpr std::size_t kMaxCachedBuffer = 4 << 20;

  // A buffer of at least `capacity` bytes (a power of two); sets `capacity` to its real size.
  static std::unique_ptr<std::uint8_t[]> take(std::size_t& capacity) {
    auto& free = list();
    // Most recently given first: it is the likeliest to be in the CPU cache.
    for (auto it = free.rbegin(); it != free.rend(); ++it) {
      if (it->first >= capacity) {
        capacity = it->first;
        auto buffer = std::move(it->second);
        bytes() -= capacity;
        free.erase(std::next(it).base());
        return buffer;
      }
    }
    return std::unique_ptr<std::uint8_t[]>(new std::uint8_t[capacity]);
  }
  static void give(std::unique_ptr<std::uint8_t[]> buffer, std::size_t capacity) {
    auto& free = list();
    if (!buffer || capacity > kMaxCachedBuffer || bytes() + capacity > kCachedBytes) return;
    bytes() += capacity;
    free.emplace_back(capacity, std::move(buffer));
  }

 private:
  static std::vector<std::pair<std::size_t, std::unique_ptr<std::uint8_t[]>>>& list() {
    thread_local std::vector<std::pair<std::size_t, std::unique_ptr<std::uint8_t[]>>> free;
    return free;
  }
  static std::size_t& bytes() {
    thread_local std::size_t cached = 0;
    return cached;
  }
};

// Received bytes a reader has not taken yet: a ring buffer allocated on demand and released when drained,
// so idle streams hold no buffer. Its size is bounded by the stream window (the peer cannot send
// more before we consume), which on_data_chunk_recv also enforces.
class ByteQueue {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  void append(const std::uint8_t* data, std::size_t n) {
    if (n == 0) return;
    if (size_ + n > capacity_) grow(size_ + n);
    const std::size_t tail = (head_ + size_) & (capacity_ - 1);
    const std::size_t first = std::min(n, capacity_ - tail);
    std::memcpy(buffer_.get() + tail, data, first);
    if (n > first) std::memcpy(buffer_.get(), data + first, n - first);
    size_ += n;
  }

  std::size_t read(std::uint8_t* out, std::size_t n) {
    n = std::min(n, size_);
    if (n == 0) return 0;
    copy_out(out, n);
    head_ = (head_ + n) & (capacity_ - 1);
    size_ -= n;
    if (size_ == 0) clear();
    return n;
  }

  void clear() noexcept {
    BufferCache::give(std::move(buffer_), capacity_);
    capacity_ = head_ = size_ = 0;
  }

 private:
  void copy_out(std::uint8_t* out, std::size_t n) const {
    const std::size_t first = std::min(n, capacity_ - head_);
    std::memcpy(out, buffer_.get() + head_, first);
    if (n > first) std::memcpy(out + first, buffer_.get(), n - first);
  }

  void grow(std::size_t needed) {
    std::size_t capacity = std::max<std::size_t>(capacity_, 16 << 10);
    while (capacity < needed) capacity *= 2;
    std::unique_ptr<std::uint8_t[]> bigger = BufferCache::take(capacity);
    if (size_ > 0) copy_out(bigger.get(), size_);
    BufferCache::give(std::move(buffer_), capacity_);
    buffer_ = std::move(bigger);
    capacity_ = capacity;
    head_ = 0;
  }

  std::unique_ptr<std::uint8_t[]> buffer_;
  std::size_t capacity_ = 0;  // a power of two, or 0
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

// One stream's state, touched only on the connection's executor (except `user_closed`). Owned by the
// connection while nghttp2 knows the stream, and by the H2Stream handed to the user.
struct StreamState {
  enum class Phase : std::uint8_t {
    opening,    // client: request sent, waiting for the response
    requested,  // server: request received, waiting for respond()
    open,       // 200 sent or received: data flows
    refused,    // another status, or a reset before any response
  };
  explicit StreamState(Phase initial) : phase(initial) {}

  std::int32_t id = 0;
  Phase phase;
  bool in_session = false;    // nghttp2 knows the stream (from submission until on_stream_close)
  bool remote_eof = false;    // END_STREAM received
  bool send_eof = false;      // shutdown_write() asked for END_STREAM
  bool eof_taken = false;     // ... and nghttp2 took it
  bool deferred = false;      // the data provider is parked (NGHTTP2_ERR_DEFERRED) until a write
  bool request_sent = false;  // client: the HEADERS of the request went out
  bool unprocessed = false;   // client: the server certainly did not act on it (see H2Connection::open)
  std::atomic<bool> user_closed{false};
  std::uint32_t reset_code = NGHTTP2_NO_ERROR;  // the code the stream closed with
  error_code failure;                           // why the stream ended abnormally

  // Receive side: a pending read's buffer (filled directly from DATA frames) and the queue behind it.
  ByteQueue queue;
  std::uint8_t* read_dest = nullptr;
  std::size_t read_room = 0;
  std::size_t read_filled = 0;

  // Send side: the pending write's bytes, taken by the data provider.
  const std::uint8_t* send_data = nullptr;
  std::size_t send_left = 0;

  Waiter reader;  // read_some, and open() waiting for the response
  Waiter writer;  // write, shutdown_write

  // Response (client) while it arrives.
  int status = 0;
  std::string reason;
  // Request headers (server) while they arrive.
  std::unique_ptr<HeaderList> headers;
  std::size_t header_bytes = 0;
  bool headers_overflow = false;
};

using Phase = StreamState::Phase;

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Side = H2Connection::Side;

  Session(std::unique_ptr<Stream> transport, Side side, H2Options options,
          H2Connection::StreamHandler handler);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const asio::any_io_executor& executor() const noexcept { return executor_; }
  std::uint64_t id() const noexcept { return id_; }
  void set_on_closed(std::function<void(const std::string&)> callback) { on_closed_ = std::move(callback); }
  void set_on_established(std::function<void()> callback) { on_established_ = std::move(callback); }
  bool accepting() const noexcept {
    return alive_.load(std::memory_order_acquire) && !going_away_.load(std::memory_order_acquire) &&
           (side_ == Side::server ||
            active_.load(std::memory_order_relaxed) < peer_max_streams_.load(std::memory_order_relaxed));
  }
  std::size_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  bool alive() const noexcept { return alive_.load(std::memory_order_acquire); }

  // The rest runs on the executor.
  void start();
  void shutdown();
  void finish(const std::string& reason);

  asio::awaitable<OpenResult> open(TunnelRequest request, asio::any_io_executor caller,
                                   asio::const_buffer early_data, bool* unprocessed);
  asio::awaitable<IoResult> read(std::shared_ptr<StreamState> s, asio::mutable_buffer buffer);
  asio::awaitable<IoResult> write(std::shared_ptr<StreamState> s, asio::const_buffer buffer);
  asio::awaitable<error_code> shutdown_write(std::shared_ptr<StreamState> s);
  asio::awaitable<void> respond(std::shared_ptr<StreamState> s, int status, std::string reason);
  // After the user closed the stream: RST_STREAM(CANCEL) and hand back the window of unread bytes.
  void reset(const std::shared_ptr<StreamState>& s);

 private:
  void spawn(asio::awaitable<void> task);
  asio::awaitable<void> read_loop(std::shared_ptr<Session> self);
  asio::awaitable<void> write_loop(std::shared_ptr<Session> self);
  asio::awaitable<void> keepalive_loop(std::shared_ptr<Session> self);
  // Serialises what nghttp2 has to send (up to kWriteBatch) into out_; false when the session failed.
  bool gather();
  // Writes out_ to the transport; only one write is in flight (writing_).
  asio::awaitable<void> write_out();
  // A stream operation queued frames: wakes the writer, or writes at once when early_flush_after
  // operations have queued frames since the last write.
  asio::awaitable<void> queued();

  void wake_writer() noexcept {
    if (writer_sleeping_) write_wake_.cancel();
  }
  void update_active() noexcept { active_.store(streams_.size(), std::memory_order_relaxed); }
  StreamState* state_of(std::int32_t stream_id) const {
    return session_ ? static_cast<StreamState*>(nghttp2_session_get_stream_user_data(session_, stream_id))
                    : nullptr;
  }
  // Why a stream operation cannot go on, or success.
  error_code stream_error(const StreamState& s) const;
  // Hands `n` received bytes back to the peer's window (WINDOW_UPDATE when worth it).
  void consume(std::int32_t stream_id, std::size_t n);
  void resume(StreamState& s);
  void on_request(StreamState& s);
  void refuse(StreamState& s, int status, std::string_view reason);
  void deliver_accepted();
  std::string end_reason() const;

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                       std::uint8_t flags, void* user_data);
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int on_data_chunk_recv(nghttp2_session*, std::uint8_t flags, std::int32_t stream_id,
                                const std::uint8_t* data, std::size_t len, void* user_data);
  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code,
                             void* user_data);
  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int on_frame_not_send(nghttp2_session*, const nghttp2_frame* frame, int lib_error_code,
                               void* user_data);
  static ssize_t read_length(nghttp2_session*, std::uint8_t frame_type, std::int32_t stream_id,
                             std::int32_t session_window, std::int32_t stream_window,
                             std::uint32_t remote_max_frame_size, void* user_data);
  static ssize_t read_data(nghttp2_session*, std::int32_t stream_id, std::uint8_t* buf, std::size_t length,
                           std::uint32_t* data_flags, nghttp2_data_source* source, void* user_data);
  static int send_data(nghttp2_session*, nghttp2_frame* frame, const std::uint8_t* frame_header,
                       std::size_t length, nghttp2_data_source* source, void* user_data);

  std::unique_ptr<Stream> transport_;
  asio::any_io_executor executor_;
  const Side side_;
  const H2Options options_;
  H2Connection::StreamHandler handler_;
  std::function<void(const std::string&)> on_closed_;
  std::function<void()> on_established_;
  const std::uint64_t id_;
  nghttp2_session* session_ = nullptr;  // null once finished

  std::unordered_map<std::int32_t, std::shared_ptr<StreamState>> streams_;        // those nghttp2 knows
  std::vector<std::pair<std::shared_ptr<StreamState>, TunnelRequest>> accepted_;  // for the handler

  // The write loop's batch. DATA frames are serialised straight into it from the writer's buffer
  // (send_data), everything else is copied in from nghttp2's frame buffer.
  std::vector<std::uint8_t> out_;
  asio::steady_timer write_wake_;
  bool writer_sleeping_ = false;
  bool writing_ = false;
  std::uint32_t queued_since_write_ = 0;
  asio::steady_timer keepalive_;
  Clock::time_point last_received_ = Clock::now();
  std::uint64_t reads_ = 0;  // transport reads that brought bytes

  bool started_ = false;
  bool finished_ = false;
  bool shutdown_requested_ = false;
  bool drain_ping_pending_ = false;
  bool peer_goaway_ = false;
  std::int32_t peer_goaway_last_id_ = 0;
  std::uint32_t peer_goaway_code_ = NGHTTP2_NO_ERROR;
  std::uint32_t sent_goaway_code_ = NGHTTP2_NO_ERROR;

  std::atomic<bool> alive_{true};
  std::atomic<bool> going_away_{false};
  std::atomic<std::size_t> active_{0};
  // Until the peer's SETTINGS arrive nghttp2 assumes 100, and so do we.
  std::atomic<std::uint32_t> peer_max_streams_{100};
};

// ---- construction ----------------------------------------------------------------------------------

Session::Session(std::unique_ptr<Stream> transport, Side side, H2Options options,
                 H2Connection::StreamHandler handler)
    : transport_(std::move(transport)),
      executor_(transport_->executor()),
      side_(side),
      options_(clamped(options)),
      handler_(std::move(handler)),
      id_(next_connection_id.fetch_add(1, std::memory_order_relaxed)),
      write_wake_(executor_),
      keepalive_(executor_) {
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) throw std::bad_alloc();
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &Session::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &Session::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Session::on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &Session::on_data_chunk_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Session::on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &Session::on_frame_send);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks, &Session::on_frame_not_send);
  nghttp2_session_callbacks_set_data_source_read_length_callback(callbacks, &Session::read_length);
  nghttp2_session_callbacks_set_send_data_callback(callbacks, &Session::send_data);

  nghttp2_option* option = nullptr;
  if (nghttp2_option_new(&option) != 0) {
    nghttp2_session_callbacks_del(callbacks);
    throw std::bad_alloc();
  }
  // Window updates only after the reader took the bytes: that is the backpressure.
  nghttp2_option_set_no_auto_window_update(option, 1);
  // No priority tree of closed streams: memory per connection stays proportional to open streams.
  nghttp2_option_set_no_closed_streams(option, 1);

  const int rv = side_ == Side::client ? nghttp2_session_client_new2(&session_, callbacks, this, option)
                                       : nghttp2_session_server_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  if (rv != 0) throw std::runtime_error(std::string("nghttp2 session: ") + nghttp2_strerror(rv));
}

Session::~Session() {
  if (session_) nghttp2_session_del(session_);
}

void Session::spawn(asio::awaitable<void> task) {
  asio::co_spawn(executor_, std::move(task), [self = shared_from_this()](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      self->finish(std::string("internal error: ") + e.what());
    } catch (...) {
      self->finish("internal error");
    }
  });
}

void Session::start() {
  if (started_ || finished_) return;
  started_ = true;
  nghttp2_settings_entry settings[4];
  std::size_t count = 0;
  settings[count++] = {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams};
  settings[count++] = {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options_.stream_window};
  settings[count++] = {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, options_.max_frame_size};
  if (side_ == Side::client) settings[count++] = {NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
  int rv = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, count);
  if (rv == 0) {
    rv = nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                               static_cast<std::int32_t>(options_.connection_window));
  }
  if (rv != 0) {
    finish(std::string("protocol error: ") + nghttp2_strerror(rv));
    return;
  }
  last_received_ = Clock::now();
  auto self = shared_from_this();
  spawn(read_loop(self));
  spawn(write_loop(self));
  if (options_.ping_interval.count() > 0) spawn(keepalive_loop(self));
}

// ---- loops -----------------------------------------------------------------------------------------

asio::awaitable<void> Session::read_loop(std::shared_ptr<Session> self) {
  std::unique_ptr<std::uint8_t[]> buffer(new std::uint8_t[kReadBufferSize]);
  while (!finished_) {
    IoResult r = co_await transport_->read_some(asio::buffer(buffer.get(), kReadBufferSize));
    if (finished_) co_return;
    if (r.bytes > 0) {
      last_received_ = Clock::now();
      ++reads_;
      const ssize_t rv = nghttp2_session_mem_recv(session_, buffer.get(), r.bytes);
      if (rv < 0) {
        finish(std::string("protocol error: ") + nghttp2_strerror(static_cast<int>(rv)));
        co_return;
      }
      deliver_accepted();
      if (finished_) co_return;
      wake_writer();
    }
    if (r.error) {
      finish(r.error == asio::error::eof ? std::string("peer closed the connection")
                                         : "transport: " + r.error.message());
      co_return;
    }
  }
}

bool Session::gather() {
  out_.clear();
  queued_since_write_ = 0;
  while (out_.size() < kWriteBatch) {
    const std::uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      finish(std::string("protocol error: ") + nghttp2_strerror(static_cast<int>(n)));
      return false;
    }
    if (n == 0) break;
    out_.insert(out_.end(), data, data + n);
  }
  return true;
}

asio::awaitable<void> Session::write_out() {
  writing_ = true;
  IoResult w = co_await transport_->write(asio::buffer(out_));
  writing_ = false;
  if (finished_) co_return;
  if (w.error) finish("transport: " + w.error.message());
}

asio::awaitable<void> Session::queued() {
  wake_writer();
  if (options_.early_flush_after == 0 || ++queued_since_write_ < options_.early_flush_after) co_return;
  // Written here, by the stream that queued the last frames, unless the writer is busy anyway.
  if (writing_ || !writer_sleeping_ || finished_) co_return;
  if (!gather() || out_.empty()) co_return;
  co_await write_out();
  wake_writer();  // for what was queued during the write
}

asio::awaitable<void> Session::write_loop(std::shared_ptr<Session> self) {
  out_.reserve(kWriteBatch + options_.max_frame_size + 64);
  while (!finished_) {
    if (!writing_) {
      if (!gather()) co_return;
      if (!out_.empty()) {
        co_await write_out();
        continue;
      }
      if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
        // Both sides are done (GOAWAY and no streams left), and everything we had is written.
        co_await transport_->shutdown_write();
        finish(end_reason());
        co_return;
      }
    }
    writer_sleeping_ = true;
    write_wake_.expires_at(Clock::time_point::max());
    error_code ignored;
    co_await write_wake_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    writer_sleeping_ = false;
  }
}

asio::awaitable<void> Session::keepalive_loop(std::shared_ptr<Session> self) {
  bool outstanding = false;
  Clock::time_point sent{};
  std::uint64_t reads_at_ping = 0;
  while (!finished_) {
    keepalive_.expires_at(outstanding ? sent + options_.ping_timeout
                                      : last_received_ + options_.ping_interval);
    error_code ignored;
    co_await keepalive_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (finished_) co_return;
    const auto now = Clock::now();
    if (outstanding) {
      if (reads_ != reads_at_ping) {
        outstanding = false;  // the peer is alive; back to measuring idleness
      } else if (now >= sent + options_.ping_timeout) {
        finish("ping timeout");
        co_return;
      }
    } else if (now >= last_received_ + options_.ping_interval) {
      if (nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr) != 0) {
        finish("protocol error: cannot submit PING");
        co_return;
      }
      outstanding = true;
      sent = now;
      reads_at_ping = reads_;
      wake_writer();
    }
  }
}

void Session::deliver_accepted() {
  while (!accepted_.empty() && !finished_) {
    auto batch = std::move(accepted_);
    accepted_.clear();
    for (auto& [state, request] : batch) {
      std::unique_ptr<IncomingStream> stream(
          new IncomingStream(shared_from_this(), state, executor_, std::move(request)));
      if (!handler_) continue;  // the stream resets as it goes
      try {
        handler_(std::move(stream));
      } catch (...) {
        // The handler's failure concerns its stream only, which resets when destroyed.
      }
    }
  }
}

// ---- connection state ------------------------------------------------------------------------------

std::string Session::end_reason() const {
  if (sent_goaway_code_ != NGHTTP2_NO_ERROR) {
    return std::string("protocol error: sent GOAWAY ") + nghttp2_http2_strerror(sent_goaway_code_);
  }
  if (peer_goaway_ && peer_goaway_code_ != NGHTTP2_NO_ERROR) {
    return std::string("peer sent GOAWAY ") + nghttp2_http2_strerror(peer_goaway_code_);
  }
  if (shutdown_requested_) return "shutdown";
  if (peer_goaway_) return "peer going away";
  return "finished";
}

void Session::finish(const std::string& reason) {
  if (finished_) return;
  finished_ = true;
  alive_.store(false, std::memory_order_release);
  transport_->close();
  write_wake_.cancel();
  keepalive_.cancel();
  auto streams = std::move(streams_);
  streams_.clear();
  update_active();
  for (auto& [id, s] : streams) {
    s->in_session = false;
    if (!s->failure) s->failure = TunnelErrc::tunnel_lost;
    s->reader.wake();
    s->writer.wake();
  }
  accepted_.clear();
  if (session_) {
    nghttp2_session_del(session_);
    session_ = nullptr;
  }
  handler_ = nullptr;
  if (auto callback = std::move(on_closed_)) {
    on_closed_ = nullptr;
    callback(reason);
  }
}

void Session::shutdown() {
  if (finished_ || shutdown_requested_) return;
  shutdown_requested_ = true;
  going_away_.store(true, std::memory_order_release);
  if (side_ == Side::server) {
    // RFC 9113 §6.8: announce, then send the final GOAWAY with the last stream we took after a round
    // trip, so that requests already in flight are not refused.
    nghttp2_submit_shutdown_notice(session_);
    nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, kDrainPing);
    drain_ping_pending_ = true;
  } else {
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
  }
  wake_writer();
}

// ---- streams ---------------------------------------------------------------------------------------

error_code Session::stream_error(const StreamState& s) const {
  if (s.user_closed.load(std::memory_order_acquire)) return asio::error::operation_aborted;
  if (s.phase == Phase::refused) return asio::error::not_connected;
  if (s.failure) return s.failure;
  if (finished_) return TunnelErrc::tunnel_lost;
  if (s.phase != Phase::open) return asio::error::not_connected;  // not answered yet
  if (!s.in_session) return asio::error::connection_reset;
  return {};
}

void Session::consume(std::int32_t stream_id, std::size_t n) {
  if (!session_ || n == 0) return;
  // Also returns connection-level window when nghttp2 already forgot the stream.
  nghttp2_session_consume(session_, stream_id, n);
  wake_writer();
}

void Session::resume(StreamState& s) {
  if (s.deferred && session_ && s.in_session) {
    s.deferred = false;
    nghttp2_session_resume_data(session_, s.id);
  }
  wake_writer();
}

void Session::reset(const std::shared_ptr<StreamState>& s) {
  if (!s->queue.empty()) {
    consume(s->id, s->queue.size());
    s->queue.clear();
  }
  if (session_ && s->in_session) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
    wake_writer();
  }
  s->reader.wake();
  s->writer.wake();
}

asio::awaitable<IoResult> Session::read(std::shared_ptr<StreamState> s, asio::mutable_buffer buffer) {
  IoResult result;
  for (;;) {
    if (s->user_closed.load(std::memory_order_acquire)) {
      result.error = asio::error::operation_aborted;
      co_return result;
    }
    if (s->phase != Phase::open) {
      result.error = stream_error(*s);
      co_return result;
    }
    if (buffer.size() == 0) co_return result;
    if (!s->queue.empty()) {
      result.bytes = s->queue.read(static_cast<std::uint8_t*>(buffer.data()), buffer.size());
      consume(s->id, result.bytes);
      co_return result;
    }
    // Data received before the end is delivered before it, whatever ended the stream.
    if (s->remote_eof) {
      result.error = asio::error::eof;
      co_return result;
    }
    if (auto ec = stream_error(*s)) {
      result.error = ec;
      co_return result;
    }
    // on_data_chunk_recv fills the buffer directly (and consumes) while we wait.
    s->read_dest = static_cast<std::uint8_t*>(buffer.data());
    s->read_room = buffer.size();
    s->read_filled = 0;
    co_await s->reader.wait(executor_);
    s->reader.woken();
    const std::size_t got = s->read_filled;
    s->read_dest = nullptr;
    s->read_room = s->read_filled = 0;
    if (got > 0) {
      result.bytes = got;
      co_return result;
    }
  }
}

asio::awaitable<IoResult> Session::write(std::shared_ptr<StreamState> s, asio::const_buffer buffer) {
  IoResult result;
  if (s->send_eof && s->phase == Phase::open && !s->user_closed.load(std::memory_order_acquire)) {
    result.error = asio::error::shut_down;
    co_return result;
  }
  if (auto ec = stream_error(*s)) {
    result.error = ec;
    co_return result;
  }
  if (buffer.size() == 0) co_return result;
  s->send_data = static_cast<const std::uint8_t*>(buffer.data());
  s->send_left = buffer.size();
  resume(*s);
  co_await queued();
  while (s->send_left > 0) {
    if (auto ec = stream_error(*s)) {
      result.error = ec;
      break;
    }
    co_await s->writer.wait(executor_);
    s->writer.woken();
  }
  result.bytes = buffer.size() - s->send_left;
  s->send_data = nullptr;
  s->send_left = 0;
  co_return result;
}

asio::awaitable<error_code> Session::shutdown_write(std::shared_ptr<StreamState> s) {
  if (s->send_eof) {
    // Already asked; report whether it went out.
    co_return s->eof_taken ? error_code{} : stream_error(*s);
  }
  if (auto ec = stream_error(*s)) co_return ec;
  s->send_eof = true;
  resume(*s);
  while (!s->eof_taken) {
    if (auto ec = stream_error(*s)) co_return ec;
    co_await s->writer.wait(executor_);
    s->writer.woken();
  }
  co_return error_code{};
}

asio::awaitable<void> Session::respond(std::shared_ptr<StreamState> s, int status, std::string reason) {
  if (!session_ || s->phase != Phase::requested || !s->in_session || s->user_closed.load()) co_return;
  int rv = 0;
  if (status == 200) {
    const nghttp2_nv headers[] = {make_nv(":status", "200")};
    nghttp2_data_provider provider{};
    provider.source.ptr = s.get();
    provider.read_callback = &Session::read_data;
    rv = nghttp2_submit_response(session_, s->id, headers, 1, &provider);
    if (rv == 0) s->phase = Phase::open;
  } else {
    refuse(*s, status, reason);
  }
  if (rv != 0) {
    s->phase = Phase::refused;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
  }
  co_await queued();
}

void Session::refuse(StreamState& s, int status, std::string_view reason) {
  if (status < 300 || status > 599) status = 500;
  const std::string code = std::to_string(status);
  const std::string text = sanitize_reason(reason);
  nghttp2_nv headers[2] = {make_nv(":status", code), make_nv(kReasonHeader, text)};
  s.phase = Phase::refused;
  // No data provider: the HEADERS frame carries END_STREAM. on_frame_send resets our receiving side.
  if (nghttp2_submit_response(session_, s.id, headers, text.empty() ? 1 : 2, nullptr) != 0) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
  }
  wake_writer();
}

void Session::on_request(StreamState& s) {
  auto headers = std::move(s.headers);
  if (s.headers_overflow) {
    refuse(s, 400, "request headers too large");
    return;
  }
  // Only tunnel streams here; nghttp2 already checked the request's form (pseudo-headers, names).
  auto method =
      std::find_if(headers->begin(), headers->end(), [](const auto& h) { return h.first == ":method"; });
  if (method == headers->end() || method->second != "CONNECT") {
    s.phase = Phase::refused;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_REFUSED_STREAM);
    return;
  }
  std::string error;
  auto request = parse_request(*headers, error);
  if (!request) {
    refuse(s, 400, error);
    return;
  }
  auto it = streams_.find(s.id);
  if (!handler_ || it == streams_.end()) {
    s.phase = Phase::refused;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_REFUSED_STREAM);
    return;
  }
  accepted_.emplace_back(it->second, std::move(*request));
}

asio::awaitable<OpenResult> Session::open(TunnelRequest request, asio::any_io_executor caller,
                                          asio::const_buffer early_data, bool* unprocessed) {
  OpenResult result;
  bool ignored_unprocessed = true;
  if (!unprocessed) unprocessed = &ignored_unprocessed;
  *unprocessed = true;
  HeaderList headers = encode_request(request);
  std::string error;
  if (!parse_request(headers, error)) {
    result.error = boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
    result.reason = "invalid tunnel request: " + error;
    co_return result;
  }
  if (side_ != Side::client) {
    result.error = boost::system::errc::make_error_code(boost::system::errc::operation_not_supported);
    result.reason = "streams are opened by the client side of a tunnel connection";
    co_return result;
  }
  if (finished_) {
    result.error = TunnelErrc::tunnel_lost;
    result.reason = "tunnel connection " + std::to_string(id_) + " is closed";
    co_return result;
  }
  if (going_away_.load() || !nghttp2_session_check_request_allowed(session_)) {
    result.error = TunnelErrc::tunnel_lost;
    result.reason = "tunnel connection " + std::to_string(id_) + " is going away";
    co_return result;
  }
  const std::uint32_t limit =
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  if (streams_.size() >= limit) {
    result.error = TunnelErrc::busy;
    result.reason = "tunnel connection " + std::to_string(id_) + " is at its limit of " +
                    std::to_string(limit) + " concurrent streams";
    co_return result;
  }

  auto s = std::make_shared<StreamState>(Phase::opening);
  // Taken by the data provider right behind the HEADERS, in the same write when the window allows.
  s->send_data = static_cast<const std::uint8_t*>(early_data.data());
  s->send_left = early_data.size();
  std::vector<nghttp2_nv> nva;
  nva.reserve(headers.size());
  for (const auto& [name, value] : headers) nva.push_back(make_nv(name, value));
  nghttp2_data_provider provider{};
  provider.source.ptr = s.get();
  provider.read_callback = &Session::read_data;
  const std::int32_t stream_id =
      nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &provider, s.get());
  if (stream_id < 0) {
    s->send_data = nullptr;
    s->send_left = 0;
    if (stream_id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE) shutdown();
    result.error = TunnelErrc::tunnel_lost;
    result.reason = std::string("cannot open a stream: ") + nghttp2_strerror(stream_id);
    co_return result;
  }
  s->id = stream_id;
  s->in_session = true;
  streams_.emplace(stream_id, s);
  update_active();
  // A connection that lives long enough runs out of stream ids (2^30 streams): it drains and the
  // connector dials a fresh one.
  if (nghttp2_session_get_next_stream_id(session_) > kMaxStreamId) shutdown();
  co_await queued();

  // A failure below: stop the stream (if it still exists) and hand back what it received. The early
  // data's buffer belongs to the caller, who gets it back now.
  auto discard = [this, &s, unprocessed] {
    *unprocessed = s->unprocessed || !s->request_sent || s->reset_code == NGHTTP2_REFUSED_STREAM;
    s->send_data = nullptr;
    s->send_left = 0;
    s->user_closed.store(true);
    reset(s);
  };
  const auto deadline = Clock::now() + options_.open_timeout;
  while (s->phase == Phase::opening && s->in_session && !s->failure && !finished_) {
    co_await s->reader.wait(executor_, deadline);
    if (!s->reader.woken() && s->phase == Phase::opening && Clock::now() >= deadline) {
      discard();
      result.error = TunnelErrc::timed_out;
      result.reason =
          "the connector did not answer within " + std::to_string(options_.open_timeout.count()) + " ms";
      co_return result;
    }
  }
  // Accepted: the early data may still wait for the server's window.
  while (s->phase == Phase::open && s->send_left > 0 && !stream_error(*s)) {
    co_await s->writer.wait(executor_);
    s->writer.woken();
  }
  if (s->phase == Phase::open && s->send_left == 0) {
    s->send_data = nullptr;
    auto* stream = new H2Stream(shared_from_this(), s, caller, request);
    stream->bytes_written_ = early_data.size();
    result.stream.reset(stream);
    co_return result;
  }
  if (s->phase == Phase::open) {
    result.error = stream_error(*s);
    result.reason = "the stream ended before its first bytes were sent: " + result.error.message();
  } else if (s->phase == Phase::refused) {
    result.error = errc_for_status(s->status);
    result.reason = s->reason.empty() ? "the connector answered " + std::to_string(s->status) : s->reason;
  } else if (finished_ || s->failure == TunnelErrc::tunnel_lost) {
    result.error = TunnelErrc::tunnel_lost;
    result.reason = "tunnel connection " + std::to_string(id_) + " lost before the connector answered";
  } else if (s->reset_code == NGHTTP2_REFUSED_STREAM) {
    result.error = TunnelErrc::busy;
    result.reason = "the connector refused the stream (REFUSED_STREAM)";
  } else {
    result.error = TunnelErrc::refused;
    result.reason = std::string("the connector reset the stream: ") + nghttp2_http2_strerror(s->reset_code);
  }
  discard();
  co_return result;
}

// ---- nghttp2 callbacks -----------------------------------------------------------------------------
// They run inside mem_recv/mem_send: they may submit frames and wake coroutines (which resume later),
// but never call user code or finish().

int Session::on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  auto* self = static_cast<Session*>(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  const std::int32_t stream_id = frame->hd.stream_id;
  if (self->side_ == Side::server && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    auto s = std::make_shared<StreamState>(Phase::requested);
    s->id = stream_id;
    s->in_session = true;
    s->headers = std::make_unique<HeaderList>();
    nghttp2_session_set_stream_user_data(self->session_, stream_id, s.get());
    self->streams_.emplace(stream_id, std::move(s));
    self->update_active();
  } else if (auto* s = self->state_of(stream_id)) {
    s->status = 0;  // a new header block; only its own :status counts
  }
  return 0;
}

int Session::on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen, std::uint8_t,
                       void* user_data) {
  auto* self = static_cast<Session*>(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto* s = self->state_of(frame->hd.stream_id);
  if (!s) return 0;
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (s->headers) {
    s->header_bytes += namelen + valuelen + 32;
    if (s->header_bytes > kMaxHeaderBlock || s->headers->size() > kMaxRequestHeaders) {
      s->headers_overflow = true;
    } else if (!s->headers_overflow) {
      s->headers->emplace_back(n, v);
    }
    return 0;
  }
  if (s->phase == Phase::opening) {
    if (n == ":status" && v.size() == 3 &&
        std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      s->status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
    } else if (n == kReasonHeader) {
      s->reason = sanitize_reason(v);
    }
  }
  return 0;
}

int Session::on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
  auto* self = static_cast<Session*>(user_data);
  const std::int32_t stream_id = frame->hd.stream_id;
  switch (frame->hd.type) {
    case NGHTTP2_DATA:
      if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        if (auto* s = self->state_of(stream_id)) {
          s->remote_eof = true;
          s->reader.wake();
        }
      }
      break;
    case NGHTTP2_HEADERS: {
      auto* s = self->state_of(stream_id);
      if (!s) break;
      if (s->headers && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        self->on_request(*s);
      } else if (s->phase == Phase::opening && s->status >= 200) {
        s->phase = s->status == 200 ? Phase::open : Phase::refused;
        s->reader.wake();
      }
      if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        s->remote_eof = true;
        s->reader.wake();
      }
      break;
    }
    case NGHTTP2_SETTINGS:
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
        self->peer_max_streams_.store(
            nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
            std::memory_order_relaxed);
        if (auto callback = std::move(self->on_established_)) {
          self->on_established_ = nullptr;
          callback();
        }
      }
      break;
    case NGHTTP2_GOAWAY:
      // nghttp2 closes our streams above last_stream_id (REFUSED_STREAM); the others go on.
      self->peer_goaway_ = true;
      self->peer_goaway_last_id_ = frame->goaway.last_stream_id;
      self->peer_goaway_code_ = frame->goaway.error_code;
      self->going_away_.store(true, std::memory_order_release);
      break;
    case NGHTTP2_PING:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) && self->drain_ping_pending_ &&
          std::memcmp(frame->ping.opaque_data, kDrainPing, sizeof kDrainPing) == 0) {
        self->drain_ping_pending_ = false;
        nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session),
                              NGHTTP2_NO_ERROR, nullptr, 0);
      }
      break;
    default:
      break;
  }
  return 0;
}

int Session::on_data_chunk_recv(nghttp2_session* session, std::uint8_t, std::int32_t stream_id,
                                const std::uint8_t* data, std::size_t len, void* user_data) {
  auto* self = static_cast<Session*>(user_data);
  auto* s = self->state_of(stream_id);
  if (!s || s->user_closed.load(std::memory_order_acquire) || s->phase == Phase::refused) {
    // Nobody will read it: give the window back at once.
    nghttp2_session_consume(session, stream_id, len);
    return 0;
  }
  if (s->phase == Phase::requested && self->options_.early_data_bytes) {
    self->options_.early_data_bytes->add(len);
  }
  if (s->read_dest && s->queue.empty() && s->read_filled < s->read_room) {
    // Straight into the waiting reader's buffer: no queue, no second copy.
    const std::size_t n = std::min(len, s->read_room - s->read_filled);
    std::memcpy(s->read_dest + s->read_filled, data, n);
    s->read_filled += n;
    nghttp2_session_consume(session, stream_id, n);
    data += n;
    len -= n;
    s->reader.wake();
  }
  if (len == 0) return 0;
  if (s->queue.size() + len > self->options_.stream_window) {
    // Cannot happen while the peer honours flow control (nghttp2 enforces it); stay bounded anyway.
    nghttp2_session_consume(session, stream_id, len);
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_FLOW_CONTROL_ERROR);
    return 0;
  }
  s->queue.append(data, len);
  s->reader.wake();
  return 0;
}

int Session::on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code,
                             void* user_data) {
  auto* self = static_cast<Session*>(user_data);
  if (auto* s = self->state_of(stream_id)) {
    s->in_session = false;
    s->reset_code = error_code;
    if (!s->failure) {
      if (s->user_closed.load(std::memory_order_acquire)) {
        s->failure = asio::error::operation_aborted;
      } else if (error_code == NGHTTP2_REFUSED_STREAM && self->peer_goaway_ &&
                 stream_id > self->peer_goaway_last_id_) {
        s->failure = TunnelErrc::tunnel_lost;  // the peer is going away and never saw this stream
        s->unprocessed = true;
      } else if (error_code != NGHTTP2_NO_ERROR || !s->remote_eof) {
        s->failure = asio::error::connection_reset;
      }
    }
    s->reader.wake();
    s->writer.wake();
  }
  self->streams_.erase(stream_id);
  self->update_active();
  return 0;
}

int Session::on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
  auto* self = static_cast<Session*>(user_data);
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    if (auto* s = self->state_of(frame->hd.stream_id)) s->request_sent = true;
  } else if (frame->hd.type == NGHTTP2_HEADERS && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
             self->side_ == Side::server) {
    // A refusal ended our side; the client may still be sending: tell it to stop (RFC 9113 §8.1).
    auto* s = self->state_of(frame->hd.stream_id);
    if (s && s->phase == Phase::refused &&
        nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    }
  } else if (frame->hd.type == NGHTTP2_GOAWAY) {
    self->going_away_.store(true, std::memory_order_release);
    if (frame->goaway.error_code != NGHTTP2_NO_ERROR) self->sent_goaway_code_ = frame->goaway.error_code;
  }
  return 0;
}

int Session::on_frame_not_send(nghttp2_session*, const nghttp2_frame* frame, int, void* user_data) {
  auto* self = static_cast<Session*>(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  // A request that never left (GOAWAY received meanwhile, stream ids exhausted): open() holds the state.
  auto it = self->streams_.find(frame->hd.stream_id);
  if (it == self->streams_.end()) return 0;
  auto s = it->second;
  self->streams_.erase(it);
  self->update_active();
  s->in_session = false;
  s->unprocessed = true;
  if (!s->failure) s->failure = TunnelErrc::tunnel_lost;
  s->reader.wake();
  return 0;
}

ssize_t Session::read_length(nghttp2_session*, std::uint8_t, std::int32_t, std::int32_t, std::int32_t,
                             std::uint32_t remote_max_frame_size, void* user_data) {
  auto* self = static_cast<Session*>(user_data);
  // nghttp2 cuts this down to the flow-control windows.
  return static_cast<ssize_t>(std::min(self->options_.max_frame_size, remote_max_frame_size));
}

ssize_t Session::read_data(nghttp2_session*, std::int32_t, std::uint8_t*, std::size_t length,
                           std::uint32_t* data_flags, nghttp2_data_source* source, void*) {
  auto* s = static_cast<StreamState*>(source->ptr);
  if (s->send_left > 0) {
    // The bytes are taken in send_data, which nghttp2 calls next within the same mem_send.
    *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    return static_cast<ssize_t>(std::min(length, s->send_left));
  }
  if (s->send_eof) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    s->eof_taken = true;
    s->writer.wake();
    return 0;
  }
  s->deferred = true;
  return NGHTTP2_ERR_DEFERRED;
}

int Session::send_data(nghttp2_session*, nghttp2_frame* frame, const std::uint8_t* frame_header,
                       std::size_t length, nghttp2_data_source* source, void* user_data) {
  auto* self = static_cast<Session*>(user_data);
  auto* s = static_cast<StreamState*>(source->ptr);
  auto& out = self->out_;
  constexpr std::size_t kFrameHeader = 9;
  out.insert(out.end(), frame_header, frame_header + kFrameHeader);
  const std::size_t padding = frame->data.padlen;  // we never pad, but nghttp2 defines how it is sent
  if (padding > 0) out.push_back(static_cast<std::uint8_t>(padding - 1));
  out.insert(out.end(), s->send_data, s->send_data + length);
  if (padding > 1) out.insert(out.end(), padding - 1, 0);
  s->send_data += length;
  s->send_left -= length;
  if (s->send_left == 0) s->writer.wake();
  return 0;
}

}  // namespace detail

// ---- H2Stream --------------------------------------------------------------------------------------

namespace {

// The awaitable that runs `op` (an operation of the session) on the connection's executor: `op` itself
// when already there, otherwise a co_spawn whose completion resumes the caller on its own executor.
// A plain function, not a coroutine, so that it adds no frame to a pending operation.
template <typename T>
asio::awaitable<T> on_connection(const asio::any_io_executor& executor, asio::awaitable<T> op) {
  if (detail::running_here(executor)) return op;
  return asio::co_spawn(executor, std::move(op), asio::use_awaitable);
}

}  // namespace

H2Stream::H2Stream(std::shared_ptr<detail::Session> session, std::shared_ptr<detail::StreamState> state,
                   asio::any_io_executor executor, const TunnelRequest& request)
    : session_(std::move(session)), state_(std::move(state)), executor_(std::move(executor)) {
  info_.peer = "tunnel:" + std::to_string(session_->id()) + "/" + std::to_string(state_->id);
  info_.metadata["route_type"] = request.route_type;
  if (!request.destination.empty()) info_.metadata["destination"] = request.destination;
  if (!request.request_id.empty()) info_.metadata["request_id"] = request.request_id;
  if (!request.principal.empty()) info_.metadata["principal"] = request.principal;
}

H2Stream::~H2Stream() {
  close();
}

asio::awaitable<IoResult> H2Stream::read_some(asio::mutable_buffer buffer) {
  IoResult result = co_await on_connection(session_->executor(), session_->read(state_, buffer));
  bytes_read_ += result.bytes;
  co_return result;
}

asio::awaitable<IoResult> H2Stream::write(asio::const_buffer buffer) {
  IoResult result = co_await on_connection(session_->executor(), session_->write(state_, buffer));
  bytes_written_ += result.bytes;
  co_return result;
}

asio::awaitable<error_code> H2Stream::shutdown_write() {
  co_return co_await on_connection(session_->executor(), session_->shutdown_write(state_));
}

void H2Stream::close() noexcept {
  if (state_->user_closed.exchange(true, std::memory_order_acq_rel)) return;
  try {
    // Posted even on the connection's own thread, so that close() never re-enters the session; the
    // flag above already stops every operation.
    asio::post(session_->executor(), [session = session_, state = state_] { session->reset(state); });
  } catch (...) {
    // Out of memory: the stream stays open until the connection ends.
  }
}

IncomingStream::IncomingStream(std::shared_ptr<detail::Session> session,
                               std::shared_ptr<detail::StreamState> state, asio::any_io_executor executor,
                               TunnelRequest request)
    : H2Stream(std::move(session), std::move(state), std::move(executor), request),
      request_(std::move(request)) {}

asio::awaitable<void> IncomingStream::respond(int status, std::string_view reason) {
  std::string text(reason);  // the view's target need not outlive the hop
  co_await on_connection(session_->executor(), session_->respond(state_, status, std::move(text)));
}

// ---- H2Connection ----------------------------------------------------------------------------------

H2Connection::H2Connection(std::shared_ptr<detail::Session> session) : session_(std::move(session)) {}

std::shared_ptr<H2Connection> H2Connection::create(std::unique_ptr<Stream> transport, Side side,
                                                   H2Options options, StreamHandler handler) {
  auto session = std::make_shared<detail::Session>(std::move(transport), side, options, std::move(handler));
  return std::shared_ptr<H2Connection>(new H2Connection(std::move(session)));
}

H2Connection::~H2Connection() {
  if (session_->alive()) close();
}

void H2Connection::start() {
  asio::dispatch(session_->executor(), [session = session_] { session->start(); });
}

asio::any_io_executor H2Connection::executor() const {
  return session_->executor();
}

asio::awaitable<OpenResult> H2Connection::open(const TunnelRequest& request, asio::const_buffer early_data,
                                               bool* unprocessed) {
  auto caller = co_await asio::this_coro::executor;
  auto session = session_;  // the connection may be dropped by others while we wait
  co_return co_await on_connection(session->executor(),
                                   session->open(request, caller, early_data, unprocessed));
}

void H2Connection::shutdown() {
  asio::post(session_->executor(), [session = session_] { session->shutdown(); });
}

void H2Connection::close() {
  try {
    asio::post(session_->executor(), [session = session_] { session->finish("closed"); });
  } catch (...) {
  }
}

bool H2Connection::runs_on_this_thread() const noexcept {
  return detail::running_here(session_->executor());
}

bool H2Connection::accepting_streams() const noexcept {
  return session_->accepting();
}

std::size_t H2Connection::active_streams() const noexcept {
  return session_->active();
}

void H2Connection::on_closed(std::function<void(const std::string& reason)> callback) {
  session_->set_on_closed(std::move(callback));
}

void H2Connection::on_established(std::function<void()> callback) {
  session_->set_on_established(std::move(callback));
}

std::uint64_t H2Connection::id() const noexcept {
  return session_->id();
}

}  // namespace gw::tunnel
