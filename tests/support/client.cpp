#include "support/client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <ostream>
#include <system_error>

namespace gw::e2e {
namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return address;
}

void set_timeout(int fd, int option, std::chrono::milliseconds guard) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(guard.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((guard.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

}  // namespace

const char* to_string(End end) {
  switch (end) {
    case End::data:
      return "data";
    case End::eof:
      return "eof";
    case End::reset:
      return "reset";
    case End::timeout:
      return "timeout";
    case End::error:
      return "error";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, End end) {
  return out << to_string(end);
}

TcpClient::TcpClient(std::uint16_t port, std::chrono::milliseconds guard) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  set_timeout(fd_, SO_RCVTIMEO, guard);
  set_timeout(fd_, SO_SNDTIMEO, guard);
  sockaddr_in address = loopback(port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    int error = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::system_error(error, std::generic_category(), "connect to port " + std::to_string(port));
  }
}

TcpClient::~TcpClient() {
  close();
}

TcpClient::TcpClient(TcpClient&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

int TcpClient::connect_error(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  set_timeout(fd, SO_SNDTIMEO, kGuard);
  sockaddr_in address = loopback(port);
  int result = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 ? 0 : errno;
  ::close(fd);
  return result;
}

std::uint16_t TcpClient::local_port() const {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  return ntohs(address.sin_port);
}

std::string TcpClient::local_address() const {
  return "127.0.0.1:" + std::to_string(local_port());
}

void TcpClient::send(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "send");
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

End TcpClient::receive_stream(const std::function<void(const char*, std::size_t)>& sink, int* error) {
  char buffer[64 * 1024];
  while (true) {
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n > 0) {
      sink(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) return End::eof;
    if (errno == EINTR) continue;
    if (error) *error = errno;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return End::timeout;
    if (errno == ECONNRESET) return End::reset;
    return End::error;
  }
}

Received TcpClient::receive_all() {
  Received result;
  result.end = receive_stream([&](const char* data, std::size_t size) { result.data.append(data, size); },
                              &result.error);
  return result;
}

Received TcpClient::receive_exact(std::size_t size) {
  Received result;
  result.data.resize(size);
  std::size_t have = 0;
  while (have < size) {
    ssize_t n = ::recv(fd_, result.data.data() + have, size - have, 0);
    if (n > 0) {
      have += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    result.data.resize(have);
    if (n == 0) {
      result.end = End::eof;
    } else {
      result.error = errno;
      result.end = (errno == EAGAIN || errno == EWOULDBLOCK) ? End::timeout
                   : errno == ECONNRESET                     ? End::reset
                                                             : End::error;
    }
    return result;
  }
  result.end = End::data;
  return result;
}

void TcpClient::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

void TcpClient::shutdown_both() {
  ::shutdown(fd_, SHUT_RDWR);
}

void TcpClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace gw::e2e
