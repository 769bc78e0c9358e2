// tests/perf/lock_calls_test.cpp
//
// Which lock calls go through the C library (detail/raw_syscall.hpp). On
// Linux x86-64 and AArch64 the calls that do not wait (a request asked
// without waiting, every release) are made without it, so that each is no
// call deep; calls that wait go through it (cancellation points). With
// DREADLOCKS_LIBC_LOCK_CALLS defined (the target lock_calls_libc_test),
// every lock call does, for programs that interpose on fcntl()/flock().
//
// This binary interposes on fcntl(), fcntl64() and flock() itself and
// counts, per thread, the lock calls that reach it; it forwards them to the
// kernel with syscall(2). Whichever way a call is made, the lock must be
// real: a second open file description of the file is refused while a
// guard holds it and granted once it is released.

#define BOOST_TEST_MODULE lock_calls_test
#include <fcntl.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <filesystem>
#include <thread>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/proc_locks.hpp"
#include "tests/support/temp_path.hpp"
#include "tests/support/watchdog.hpp"

using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

// The lock calls of this thread that reached the C library's entry points
// (here, interposed), by kind.
thread_local int fcntl_lock_calls = 0;
thread_local int fcntl_waiting_calls = 0;
thread_local int flock_calls = 0;

bool is_lock_command(int command) {
  return command == F_SETLK || command == F_SETLKW ||
         command == F_OFD_SETLK || command == F_OFD_SETLKW;
}

int forward_fcntl(int fd, int command, long argument) {
  if (is_lock_command(command)) {
    ++fcntl_lock_calls;
    if (command == F_SETLKW || command == F_OFD_SETLKW) ++fcntl_waiting_calls;
  }
  return static_cast<int>(::syscall(SYS_fcntl, fd, command, argument));
}

}  // namespace

// The interposers: calls the library makes through the C library land here
// (this executable's definitions come before libc's).
extern "C" int fcntl(int fd, int command, ...) {
  va_list arguments;
  va_start(arguments, command);
  const long argument = va_arg(arguments, long);
  va_end(arguments);
  return forward_fcntl(fd, command, argument);
}

// The name large-file builds call it by: the same interposer.
extern "C" int fcntl64(int fd, int command, ...)
    __attribute__((alias("fcntl")));

extern "C" int flock(int fd, int operation) {
  ++flock_calls;
  return static_cast<int>(::syscall(SYS_flock, fd, operation));
}

namespace {

namespace fs = std::filesystem;

// Whether the calls that do not wait skip the C library in this build, as
// docs/building.md says ("Configuration macros").
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__)) && \
    !defined(DREADLOCKS_LIBC_LOCK_CALLS)
constexpr bool kRawCalls = true;
#else
constexpr bool kRawCalls = false;
#endif

using flock_path_lock =
    dreadlocks::basic_path_lock<dreadlocks::shareable_thread_lock,
                                dreadlocks::flock_process_lock,
                                dreadlocks::reentrant_if_requested>;

// A second open file description of `file`, asking for its own OFD lock,
// or flock(2) lock with `flock_kind` (through syscall(2), so that the
// counters see nothing of it).
class other_description {
 public:
  explicit other_description(const fs::path& file, bool flock_kind = false)
      : fd_(::open(file.c_str(), O_RDWR | O_CLOEXEC)), flock_kind_(flock_kind) {
    BOOST_REQUIRE(fd_ >= 0);
  }
  ~other_description() { ::close(fd_); }
  other_description(const other_description&) = delete;
  other_description& operator=(const other_description&) = delete;

  // Asks for the exclusive lock without waiting; returns whether granted.
  bool try_exclusive() { return set(F_WRLCK) == 0; }
  void unlock() { BOOST_REQUIRE(set(F_UNLCK) == 0); }

 private:
  int set(short type) {
    if (flock_kind_) {
      const int operation = type == F_UNLCK ? LOCK_UN : LOCK_EX | LOCK_NB;
      return static_cast<int>(::syscall(SYS_flock, fd_, operation));
    }
    struct ::flock request {};
    request.l_type = type;
    request.l_whence = SEEK_SET;
    return static_cast<int>(::syscall(SYS_fcntl, fd_, F_OFD_SETLK, &request));
  }

  int fd_;
  bool flock_kind_;
};

// Without this, a zero below could mean the interposer is not in use.
BOOST_AUTO_TEST_CASE(the_interposer_counts_this_threads_lock_calls) {
  const fs::path file = dreadlocks_test::unique_path("count.lock");
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  BOOST_REQUIRE(fd >= 0);
  struct ::flock request {};
  request.l_type = F_WRLCK;
  request.l_whence = SEEK_SET;
  const int before = fcntl_lock_calls;
  BOOST_TEST(::fcntl(fd, F_OFD_SETLK, &request) == 0);
  BOOST_TEST(fcntl_lock_calls - before == 1);
  const int flocks = flock_calls;
  BOOST_TEST(::flock(fd, LOCK_UN) == 0);
  BOOST_TEST(flock_calls - flocks == 1);
  ::close(fd);
}

// An uncontended cycle (its file idle and reused after the first) asks and
// releases without waiting: two lock calls, through the C library only
// without raw calls; and the OS lock is real either way.
template <class Lock>
void check_uncontended_cycle(int& counter, bool flock_kind) {
  const fs::path file = dreadlocks_test::unique_path("cycle.lock");
  { Lock warm(file); }
  other_description other(file, flock_kind);
  const int before = counter;
  {
    Lock lock(file);
    BOOST_TEST(!other.try_exclusive());
  }
  BOOST_TEST(counter - before == (kRawCalls ? 0 : 2));
  BOOST_TEST(other.try_exclusive());
  other.unlock();
  dreadlocks::close_idle_lock_files();
}

BOOST_AUTO_TEST_CASE(an_ofd_cycle_makes_its_calls_as_built) {
  check_uncontended_cycle<dreadlocks::path_lock>(fcntl_lock_calls, false);
}

BOOST_AUTO_TEST_CASE(a_flock_cycle_makes_its_calls_as_built) {
  check_uncontended_cycle<flock_path_lock>(flock_calls, true);
}

BOOST_AUTO_TEST_CASE(a_kept_mutex_cycle_makes_its_calls_as_built) {
  const fs::path file = dreadlocks_test::unique_path("mutex.lock");
  dreadlocks::path_mutex mutex(file);
  mutex.lock();
  mutex.unlock();
  other_description other(file);
  const int before = fcntl_lock_calls;
  mutex.lock();
  BOOST_TEST(!other.try_exclusive());
  mutex.unlock();
  BOOST_TEST(fcntl_lock_calls - before == (kRawCalls ? 0 : 2));
  BOOST_TEST(other.try_exclusive());
  other.unlock();
}

// A request that must wait waits in the C library's fcntl() in every
// build: the ask before it (refused) and the release after it are the
// calls that skip it with raw calls.
BOOST_AUTO_TEST_CASE(a_waiting_request_waits_through_the_c_library) {
  dreadlocks_test::watchdog dog(std::chrono::seconds(20));
  const fs::path file = dreadlocks_test::unique_path("wait.lock");
  { dreadlocks::path_lock warm(file); }
  other_description other(file);
  BOOST_REQUIRE(other.try_exclusive());
  int calls = -1;
  int waiting = -1;
  std::thread waiter([&] {
    const int before = fcntl_lock_calls;
    const int waits = fcntl_waiting_calls;
    { dreadlocks::path_lock lock(file); }
    calls = fcntl_lock_calls - before;
    waiting = fcntl_waiting_calls - waits;
  });
  // Released only once the waiter is queued in the kernel.
  BOOST_TEST(dreadlocks_test::wait_for_blocked_requests(file, 1));
  other.unlock();
  waiter.join();
  BOOST_TEST(waiting == 1);
  BOOST_TEST(calls == (kRawCalls ? 1 : 3));
  dreadlocks::close_idle_lock_files();
}

}  // namespace
