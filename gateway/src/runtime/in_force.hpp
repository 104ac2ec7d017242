// A value a reload may replace while connections use it: a connection takes the one in force when it
// starts (get) and keeps it to its end; set() puts a new one in force for those that come after.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

namespace gw::runtime {

// Any thread. get() takes one uncontended lock: once per connection, never per read or write.
template <class T>
class InForce {
 public:
  explicit InForce(std::shared_ptr<const T> value = nullptr) : value_(std::move(value)) {}

  std::shared_ptr<const T> get() const {
    std::lock_guard lock(mutex_);
    return value_;
  }

  void set(std::shared_ptr<const T> value) {
    std::shared_ptr<const T> previous;  // released after the lock: destroying it may take a while
    std::lock_guard lock(mutex_);
    previous = std::exchange(value_, std::move(value));
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const T> value_;
};

}  // namespace gw::runtime
