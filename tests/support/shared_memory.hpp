// tests/support/shared_memory.hpp
//
// Memory and synchronisation shared by a test process and the children it
// forks: an object in a MAP_SHARED | MAP_ANONYMOUS mapping made before
// fork(), and process-shared events and barriers (Boost.Interprocess) whose
// every wait is bounded.
//
//   struct shared_state {
//     dreadlocks_test::process_event held;
//     dreadlocks_test::process_barrier readers{3};
//     std::atomic<int> inside{0};
//   };
//   dreadlocks_test::shared_object<shared_state> state;  // before fork()
//   ... child:  state->held.signal();
//   ... parent: BOOST_TEST(state->held.wait());
//
// None of these opens a descriptor, so they do not disturb descriptor
// counts (fd_count.hpp).

#ifndef DREADLOCKS_TESTS_SUPPORT_SHARED_MEMORY_HPP_
#define DREADLOCKS_TESTS_SUPPORT_SHARED_MEMORY_HPP_

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/sync/interprocess_condition.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/interprocess_semaphore.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>
#include <cerrno>
#include <chrono>
#include <new>
#include <system_error>
#include <utility>

namespace dreadlocks_test {

// The default bound of a wait on an event or a barrier.
inline constexpr std::chrono::milliseconds default_event_wait{15000};

// Converts a timeout to the absolute UTC time Boost.Interprocess expects.
inline boost::posix_time::ptime deadline_after(
    std::chrono::milliseconds timeout) {
  return boost::posix_time::microsec_clock::universal_time() +
         boost::posix_time::milliseconds(timeout.count());
}

// shared_object
//
// Constructs a T in anonymous shared memory; processes forked afterwards
// see the same object. The creating process destroys and unmaps it (a
// child _exits without running destructors). T must not own memory outside
// the mapping.
template <class T>
class shared_object {
 public:
  template <class... Args>
  explicit shared_object(Args&&... args) : owner_(::getpid()) {
    void* memory = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
      throw std::system_error(errno, std::generic_category(),
                              "shared_object: mmap");
    }
    try {
      object_ = ::new (memory) T(std::forward<Args>(args)...);
    } catch (...) {
      ::munmap(memory, sizeof(T));
      throw;
    }
  }

  shared_object(const shared_object&) = delete;
  shared_object& operator=(const shared_object&) = delete;

  ~shared_object() {
    if (::getpid() != owner_) return;
    object_->~T();
    ::munmap(static_cast<void*>(object_), sizeof(T));
  }

  T* get() const noexcept { return object_; }
  T* operator->() const noexcept { return object_; }
  T& operator*() const noexcept { return *object_; }

 private:
  pid_t owner_;
  T* object_ = nullptr;
};

// process_event
//
// A counting event between processes (a process-shared semaphore): each
// signal() lets one wait() through. Lives in shared memory.
class process_event {
 public:
  process_event() : semaphore_(0) {}

  // Lets `count` waits through.
  void signal(unsigned count = 1) {
    for (unsigned i = 0; i < count; ++i) semaphore_.post();
  }

  // Consumes one signal, waiting up to `timeout`; false on timeout.
  bool wait(std::chrono::milliseconds timeout = default_event_wait) {
    return semaphore_.timed_wait(deadline_after(timeout));
  }

  // Consumes `count` signals, each within `timeout` of the call; false on
  // timeout.
  bool wait_n(unsigned count,
              std::chrono::milliseconds timeout = default_event_wait) {
    const auto deadline = deadline_after(timeout);
    for (unsigned i = 0; i < count; ++i) {
      if (!semaphore_.timed_wait(deadline)) return false;
    }
    return true;
  }

  // Consumes one signal if there is one; never waits.
  bool try_wait() { return semaphore_.try_wait(); }

 private:
  boost::interprocess::interprocess_semaphore semaphore_;
};

// process_barrier
//
// A reusable barrier for `count` participants in any processes. Lives in
// shared memory.
class process_barrier {
 public:
  explicit process_barrier(unsigned count) : count_(count) {}

  // Waits up to `timeout` until `count` participants have arrived in this
  // generation; false on timeout (the arrival is then withdrawn, so the
  // barrier stays consistent for the others).
  bool arrive_and_wait(std::chrono::milliseconds timeout = default_event_wait) {
    const auto deadline = deadline_after(timeout);
    boost::interprocess::scoped_lock<boost::interprocess::interprocess_mutex>
        lock(mutex_, deadline);
    if (!lock.owns()) return false;
    const unsigned generation = generation_;
    if (++arrived_ == count_) {
      arrived_ = 0;
      ++generation_;
      changed_.notify_all();
      return true;
    }
    if (changed_.timed_wait(lock, deadline,
                            [&] { return generation_ != generation; })) {
      return true;
    }
    --arrived_;
    return false;
  }

 private:
  boost::interprocess::interprocess_mutex mutex_;
  boost::interprocess::interprocess_condition changed_;
  const unsigned count_;
  unsigned arrived_ = 0;
  unsigned generation_ = 0;
};

static_assert(std::atomic<long>::is_always_lock_free,
              "counters in shared memory must be lock-free (address-free)");

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_SHARED_MEMORY_HPP_
