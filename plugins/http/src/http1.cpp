#include "http1.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <limits>
#include <memory>
#include <vector>

namespace gw::http {

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;

// Room for "ffffffffffffffff\r\n" before a chunk's data and "\r\n" after it.
constexpr std::size_t kChunkPrefix = 18;
constexpr std::size_t kChunkSuffix = 2;

bool is_header_too_large(const error_code& ec) {
  return ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow;
}

std::string clean_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  return out;
}

std::string hex(std::size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), digits[n & 0xf]);
    n >>= 4;
  } while (n != 0);
  return out;
}

// Calls `element` with each element of the comma-separated lists (RFC 9110 §5.6.1) in the fields
// named `name`, without surrounding whitespace; empty elements are skipped.
template <class Fields, class Element>
void for_each_list_element(const Fields& fields, bhttp::field name, Element&& element) {
  auto [first, last] = fields.equal_range(name);
  for (auto it = first; it != last; ++it) {
    std::string_view list(it->value().data(), it->value().size());
    while (!list.empty()) {
      const std::size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (!item.empty()) element(item);
    }
  }
}

// Beast 1.74 asserts, in debug builds, that a last chunk it has seen but could not finish is presented
// again with at least 5 bytes, which holds only when a data chunk came before it ("\r\n0\r\n"). A body
// whose last chunk is its first ("0\r\n", then one more byte) would abort a debug build (release builds
// parse it correctly). From the start of a last chunk the message needs at least 5 more bytes
// ("0\r\n\r\n"), so holding fewer back from the parser until more arrive changes nothing else (chunk
// data that looks the same only waits for the bytes that must follow it).
template <bool IsRequest>
bool partial_first_last_chunk(const bhttp::parser<IsRequest, bhttp::buffer_body>& parser,
                              asio::const_buffer buffered) {
  const std::string_view bytes(static_cast<const char*>(buffered.data()), buffered.size());
  return parser.chunked() && bytes.size() < 5 && bytes.starts_with('0') &&
         bytes.find("\r\n") != std::string_view::npos;
}

template <class Header>
void append_fields(std::string& out, const Header& header) {
  for (const auto& field : header) {
    out.append(field.name_string().data(), field.name_string().size());
    out += ": ";
    out.append(field.value().data(), field.value().size());
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace

int status_for(const ReadError& error) {
  switch (error.failure) {
    case ReadFailure::none:
    case ReadFailure::closed:
    case ReadFailure::io:
      return 0;
    case ReadFailure::timeout:
      return 408;
    case ReadFailure::line_too_long:
      return 414;
    case ReadFailure::header_too_large:
      return 431;
    case ReadFailure::malformed:
      return 400;
  }
  return 400;
}

MessageReader::MessageReader(Stream& stream, const MessageLimits& limits)
    : stream_(stream),
      limits_(limits),
      buffer_(limits.max_header + kReadChunk),
      read_watch_(
          stream.executor(), limits.read_timeout, [&stream] { stream.close(); }, false) {}

asio::awaitable<ReadError> MessageReader::fill(bool at_message_start) {
  if (buffer_.size() >= buffer_.max_size())
    co_return ReadError{ReadFailure::header_too_large, "header too large"};
  const std::size_t room = std::min(kReadChunk, buffer_.max_size() - buffer_.size());
  auto space = buffer_.prepare(room);

  read_watch_.resume();
  IoResult r = co_await stream_.read_some(space);
  read_watch_.pause();
  const bool fired = read_watch_.expired();
  buffer_.commit(r.bytes);
  if (r.bytes > 0) co_return ReadError{};
  if (fired) co_return ReadError{ReadFailure::timeout, "no data within the read timeout"};
  if (is_eof(r.error) && at_message_start && buffer_.size() == 0) {
    co_return ReadError{ReadFailure::closed, "connection closed"};
  }
  co_return ReadError{ReadFailure::io, r.error ? r.error.message() : std::string("connection closed")};
}

ReadError MessageReader::check_header_block(std::size_t consumed, std::size_t& checked) const {
  const auto* data = static_cast<const char*>(buffer_.data().data());
  const std::string_view text(data, buffer_.size());
  const bool at_start_line = consumed == 0;
  if (at_start_line) {
    std::size_t line = text.find("\r\n");
    // Without its CRLF yet, a line that ends in CR is complete but for the LF.
    if (line == std::string_view::npos) line = text.size() - (text.ends_with('\r') ? 1 : 0);
    if (line > limits_.max_request_line) {
      return {ReadFailure::line_too_long,
              "start line longer than " + std::to_string(limits_.max_request_line) + " bytes"};
    }
  }
  // Beast takes the start line as soon as it is complete (`consumed`), and the fields once they all
  // are; the limit counts both, however the bytes were split. `block_end`: just past the empty line
  // that ends the header, or all of `text` while it has not arrived.
  std::size_t block_end = 2;
  std::size_t scan_end = 0;  // the empty line itself needs no check
  if (at_start_line || !text.starts_with("\r\n")) {
    const std::size_t blank = text.find("\r\n\r\n", checked > 3 ? checked - 3 : 0);
    block_end = blank == std::string_view::npos ? text.size() : blank + 4;
    scan_end = blank == std::string_view::npos ? text.size() : blank + 2;
  }
  if (consumed + block_end > limits_.max_header) {
    return {ReadFailure::header_too_large,
            "header larger than " + std::to_string(limits_.max_header) + " bytes"};
  }
  // A CR or LF at the end of what was checked before is looked at again, with what follows it now.
  for (std::size_t i = checked > 1 ? checked - 1 : 0; i < scan_end; ++i) {
    const char c = text[i];
    if (c == '\n' && (i == 0 || text[i - 1] != '\r'))
      return {ReadFailure::malformed, "bare LF in the header"};
    if (c == '\r' && i + 1 < text.size() && text[i + 1] != '\n') {
      return {ReadFailure::malformed, "bare CR in the header"};
    }
    if (c == '\n' && i + 1 < scan_end && (text[i + 1] == ' ' || text[i + 1] == '\t')) {
      return {ReadFailure::malformed, "obsolete line folding in the header"};
    }
  }
  checked = scan_end;
  return {};
}

template <bool IsRequest>
ReadError check_framing(const bhttp::header<IsRequest>& header) {
  if constexpr (!IsRequest) {
    // Beast takes any three digits; RFC 9110 §15 defines 100-599, and a status like 020 could not be
    // passed on as it was received (it would go out as "20", which no client reads).
    if (const unsigned status = header.result_int(); status < 100 || status > 599) {
      return {ReadFailure::malformed, "status code " + std::to_string(status) + " outside 100-599"};
    }
  }
  // Beast refuses Content-Length values that differ, but lets equal ones through, which would be
  // forwarded as they are; RFC 9110 §8.6 allows refusing them, and a peer may read them otherwise.
  if (header.count(bhttp::field::content_length) > 1)
    return {ReadFailure::malformed, "more than one Content-Length"};
  if (auto length = header.find(bhttp::field::content_length);
      length != header.end() && length->value().find(',') != std::string_view::npos) {
    return {ReadFailure::malformed, "a list in Content-Length"};
  }
  const auto transfer_encoding = header.find(bhttp::field::transfer_encoding);
  if (transfer_encoding == header.end()) return {};
  // RFC 9112 §6.1: in an HTTP/1.0 message, Transfer-Encoding means faulty framing.
  if (header.version() < 11) return {ReadFailure::malformed, "Transfer-Encoding in an HTTP/1.0 message"};
  // Only `chunked`, once, frames a body this reader can find the end of and re-frame: Beast ignores a
  // final coding other than chunked (the body would be taken for the next message, RFC 9112 §6.3), and
  // any other coding would be forwarded without its label.
  int codings = 0;
  bool only_chunked = true;
  for_each_list_element(header, bhttp::field::transfer_encoding, [&](std::string_view coding) {
    ++codings;
    if (!beast::iequals(beast::string_view(coding.data(), coding.size()), "chunked")) only_chunked = false;
  });
  if (codings != 1 || !only_chunked) {
    const std::string value(transfer_encoding->value().data(), transfer_encoding->value().size());
    return {ReadFailure::malformed, "unsupported Transfer-Encoding: " + clean_text(value.substr(0, 64))};
  }
  return {};
}

template <bool IsRequest>
asio::awaitable<ReadError> MessageReader::read_header(bhttp::parser<IsRequest, bhttp::buffer_body>& parser) {
  parser.header_limit(static_cast<std::uint32_t>(limits_.max_header));
  // Bodies stream through; their size is the application's business.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  bool at_start = true;
  std::size_t consumed = 0;  // Beast takes the start line as soon as it is complete
  std::size_t checked = 0;   // of the buffer's bytes, how many check_header_block() has seen
  bool skipped_empty_line = false;
  for (;;) {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before a request-line (some
    // clients send CRLF after a POST body). One is ignored; more are a malformed request. A lone CR
    // waits for what follows it (Beast would take it for a bad method).
    const std::string_view unparsed(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    bool wait_for_lf = false;
    if (IsRequest && consumed == 0 && !skipped_empty_line) {
      if (unparsed.starts_with("\r\n")) {
        buffer_.consume(2);
        skipped_empty_line = true;
      } else {
        wait_for_lf = unparsed == "\r";
      }
    }
    if (buffer_.size() > 0 && !wait_for_lf) {
      if (ReadError bad = check_header_block(consumed, checked)) co_return bad;
      error_code ec;
      const std::size_t used = parser.put(buffer_.data(), ec);
      buffer_.consume(used);
      consumed += used;
      checked = used > checked ? 0 : checked - used;
      if (!ec && parser.is_header_done()) co_return check_framing(parser.get().base());
      if (ec && ec != bhttp::error::need_more) {
        if (is_header_too_large(ec)) co_return ReadError{ReadFailure::header_too_large, "header too large"};
        co_return ReadError{ReadFailure::malformed, ec.message()};
      }
    }
    ReadError more = co_await fill(at_start);
    at_start = false;
    if (more) co_return more;
  }
}

template <bool IsRequest>
asio::awaitable<std::size_t> MessageReader::read_body(bhttp::parser<IsRequest, bhttp::buffer_body>& parser,
                                                      asio::mutable_buffer out, ReadError& error) {
  error = {};
  auto& body = parser.get().body();
  for (;;) {
    if (parser.is_done()) co_return 0;
    body.data = out.data();
    body.size = out.size();
    error_code ec;
    std::size_t used = 0;
    if (buffer_.size() > 0 && !partial_first_last_chunk(parser, buffer_.data())) {
      used = parser.put(buffer_.data(), ec);
      buffer_.consume(used);
    } else {
      ec = bhttp::error::need_more;
    }
    const std::size_t placed = out.size() - body.size;
    if (placed > 0) co_return placed;
    if (parser.is_done()) co_return 0;
    if (ec && ec != bhttp::error::need_more && ec != bhttp::error::need_buffer) {
      error = {ReadFailure::malformed, ec.message()};
      co_return 0;
    }
    if (used > 0 && !ec) continue;  // framing only (a chunk header or extension): parse on
    ReadError more = co_await fill(false);
    if (more.failure == ReadFailure::header_too_large) {
      // A chunk line or trailer that does not end within the buffer: bad framing, not a large header.
      more = {ReadFailure::malformed,
              "chunk line or trailer longer than " + std::to_string(limits_.max_header) + " bytes"};
    }
    if (more) {
      if (more.failure == ReadFailure::io && parser.need_eof()) {
        // A body delimited by the end of the connection (RFC 9112 §6.3, responses only).
        error_code eof_ec;
        parser.put_eof(eof_ec);
        if (!eof_ec) co_return 0;
      }
      error = more;
      co_return 0;
    }
  }
}

template asio::awaitable<ReadError> MessageReader::read_header<true>(RequestParser&);
template asio::awaitable<ReadError> MessageReader::read_header<false>(ResponseParser&);
template asio::awaitable<std::size_t> MessageReader::read_body<true>(RequestParser&, asio::mutable_buffer,
                                                                     ReadError&);
template asio::awaitable<std::size_t> MessageReader::read_body<false>(ResponseParser&, asio::mutable_buffer,
                                                                      ReadError&);

asio::awaitable<error_code> write_all(Stream& stream, std::string_view text) {
  IoResult r = co_await stream.write(asio::buffer(text.data(), text.size()));
  co_return r.error;
}

std::string serialize(const RequestHeader& header) {
  std::string out;
  out.reserve(256);
  out.append(header.method_string().data(), header.method_string().size());
  out += ' ';
  out.append(header.target().data(), header.target().size());
  out += " HTTP/1.1\r\n";
  append_fields(out, header);
  return out;
}

std::string serialize(const ResponseHeader& header) {
  std::string out;
  out.reserve(256);
  out += "HTTP/1.1 ";
  out += std::to_string(header.result_int());
  out += ' ';
  const auto reason = header.reason();
  if (!reason.empty()) {
    out += clean_text(std::string_view(reason.data(), reason.size()));
  } else {
    const auto standard = bhttp::obsolete_reason(static_cast<bhttp::status>(header.result_int()));
    out.append(standard.data(), standard.size());
  }
  out += "\r\n";
  append_fields(out, header);
  return out;
}

char* RelayBuffer::body() {
  if (!storage_) storage_.reset(new char[kChunkPrefix + chunk_ + kChunkSuffix]);
  return storage_.get() + kChunkPrefix;
}

template <bool IsRequest>
BodyRelay<IsRequest>::BodyRelay(MessageReader& reader, bhttp::parser<IsRequest, bhttp::buffer_body>& parser,
                                bool chunked, RelayBuffer& buffer)
    : reader_(reader), parser_(parser), chunked_(chunked), buffer_(buffer) {}

template <bool IsRequest>
asio::awaitable<ReadError> BodyRelay<IsRequest>::read_first() {
  ReadError error;
  read_first_done_ = true;
  pending_ = co_await reader_.read_body(parser_, asio::buffer(buffer_.body(), buffer_.chunk()), error);
  co_return error;
}

template <bool IsRequest>
asio::awaitable<std::uint64_t> BodyRelay<IsRequest>::relay(Stream& to, std::string_view head,
                                                           ReadError& read_error, error_code& write_error) {
  char* const data = buffer_.body();
  const std::size_t buffer_size_ = buffer_.chunk();
  std::uint64_t total = 0;
  bool first = true;
  std::string combined;  // head + first piece
  for (;;) {
    std::size_t n = 0;
    if (first && read_first_done_) {
      n = pending_;
    } else if (!parser_.is_done()) {
      n = co_await reader_.read_body(parser_, asio::buffer(data, buffer_size_), read_error);
      if (read_error) co_return total;
    }
    asio::const_buffer out(data, n);
    if (n > 0 && chunked_) {
      const std::string size_line = hex(n) + "\r\n";
      char* const start = data - size_line.size();
      std::copy(size_line.begin(), size_line.end(), start);
      data[n] = '\r';
      data[n + 1] = '\n';
      out = asio::const_buffer(start, size_line.size() + n + kChunkSuffix);
    }
    const bool last = n == 0;
    if (first) {
      first = false;
      combined.reserve(head.size() + out.size() + 5);
      combined.assign(head);
      combined.append(static_cast<const char*>(out.data()), out.size());
      if (last && chunked_) combined += "0\r\n\r\n";
      IoResult w = co_await to.write(asio::buffer(combined));
      if (w.error) {
        write_error = w.error;
        co_return total;
      }
      total += n;
      if (last) co_return total;
      continue;
    }
    if (last) break;
    IoResult w = co_await to.write(out);
    if (w.error) {
      write_error = w.error;
      co_return total;
    }
    total += n;
  }
  if (chunked_) write_error = co_await write_all(to, "0\r\n\r\n");
  co_return total;
}

template class BodyRelay<true>;
template class BodyRelay<false>;

asio::awaitable<void> answer_and_close(MessageReader& reader, std::string_view response) {
  Stream& stream = reader.stream();
  if (co_await write_all(stream, response)) co_return;
  co_await close_gently(stream, 1u << 20, std::chrono::seconds(1));
}

OutgoingRequest prepare_request(const RequestParser& request, RequestHeader& upstream_header) {
  OutgoingRequest out;
  if (request.chunked()) upstream_header.set(bhttp::field::transfer_encoding, "chunked");
  out.has_body = request.chunked() || request.content_length().value_or(0) > 0;
  out.head = serialize(upstream_header);
  return out;
}

bool frame_response(const ResponseParser& response, ResponseHeader& header, bool head_request, bool close) {
  const int status = header.result_int();
  const bool has_body = !head_request && status != 204 && status != 304;
  const bool chunked = has_body && !response.content_length().has_value();
  if (chunked) header.set(bhttp::field::transfer_encoding, "chunked");
  if (close) header.set(bhttp::field::connection, "close");
  return chunked;
}

void remove_hop_by_hop(bhttp::fields& fields, bool keep_upgrade) {
  std::vector<std::string> named;
  for_each_list_element(fields, bhttp::field::connection,
                        [&named](std::string_view token) { named.emplace_back(token); });
  for (const auto& name : named) {
    if (keep_upgrade && beast::iequals(name, "upgrade")) continue;
    fields.erase(name);
  }
  fields.erase(bhttp::field::connection);
  fields.erase(bhttp::field::keep_alive);
  fields.erase(bhttp::field::proxy_connection);
  fields.erase(bhttp::field::te);
  fields.erase(bhttp::field::trailer);
  fields.erase(bhttp::field::transfer_encoding);
  if (!keep_upgrade) fields.erase(bhttp::field::upgrade);
}

std::string error_response(int status, std::string_view message, std::string_view request_id) {
  const std::string text = clean_text(message);
  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  std::string out =
      "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason.data(), reason.size()) + "\r\n";
  out += "content-type: text/plain; charset=utf-8\r\n";
  out += "x-error-message: " + text + "\r\n";
  if (!request_id.empty()) out += "x-request-id: " + clean_text(request_id) + "\r\n";
  out += "content-length: " + std::to_string(text.size() + 1) + "\r\n";
  out += "connection: close\r\n\r\n";
  out += text + "\n";
  return out;
}

}  // namespace gw::http
