// tests/process/process_custom_policy_test.cpp
//
// A user-defined ProcessPolicy (and ThreadPolicy) plugged into
// basic_path_lock: small structs that wrap the shipped policies and record
// every call. They show the order of acquisition and release (thread level,
// then process level; released in reverse; the thread level given back when
// the process level throws), that native_handle() is the wrapped policy's
// descriptor, and that the wrapped OS lock really excludes another process.

#define BOOST_TEST_MODULE dreadlocks custom process policy
#include <fcntl.h>
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "tests/process/process_test_common.hpp"
#include "tests/support/nothing_left_behind.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

// The calls the recording policies saw, in order.
class call_log {
 public:
  static call_log& instance() {
    static call_log log;
    return log;
  }
  void add(std::string entry) {
    std::lock_guard<std::mutex> guard(mutex_);
    entries_.push_back(std::move(entry));
  }
  std::vector<std::string> take() {
    std::lock_guard<std::mutex> guard(mutex_);
    return std::exchange(entries_, {});
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> entries_;
};

// Records `entry` from a release, which is noexcept: an entry that cannot
// be recorded is missing from the log, and the log checks catch that.
void note_in_release(const char* entry) noexcept {
  try {
    call_log::instance().add(entry);
  } catch (...) {
  }
}

std::string mode_of(const dreadlocks::lock_request& request) {
  return request.shared ? "shared" : "exclusive";
}

// A ProcessPolicy of the user's own: the members the concept requires,
// forwarding to Inner and recording each call.
template <class Inner>
struct recording_process_lock {
  using native_handle_type = typename Inner::native_handle_type;
  struct hold {
    typename Inner::hold inner{};
    bool held = false;
  };

  static hold acquire(const dreadlocks::lock_request& request) {
    call_log::instance().add("process acquire " + mode_of(request));
    try {
      hold result{Inner::acquire(request), true};
      call_log::instance().add("process acquired");
      return result;
    } catch (const std::exception&) {
      call_log::instance().add("process refused");
      throw;
    }
  }

  static void release(hold& held) noexcept {
    if (!held.held) return;
    held.held = false;
    note_in_release("process release");
    Inner::release(held.inner);
  }

  static native_handle_type native_handle(const hold& held) noexcept {
    return Inner::native_handle(held.inner);
  }
};

// A ThreadPolicy of the user's own, recording around shareable_thread_lock.
struct recording_thread_lock {
  using inner = dreadlocks::shareable_thread_lock;
  struct hold {
    inner::hold held{};
    bool owns = false;
  };

  static hold acquire(const dreadlocks::lock_request& request) {
    hold result{inner::acquire(request), true};
    call_log::instance().add("thread acquired " + mode_of(request));
    return result;
  }

  static void release(hold& held) noexcept {
    if (!held.owns) return;
    held.owns = false;
    note_in_release("thread release");
    inner::release(held.held);
  }
};

static_assert(dreadlocks::is_process_policy_v<
              recording_process_lock<dreadlocks::ofd_process_lock>>);
static_assert(dreadlocks::is_thread_policy_v<recording_thread_lock>);

template <class P>
using recording_lock =
    dreadlocks::basic_path_lock<recording_thread_lock,
                                recording_process_lock<P>,
                                dreadlocks::reentrant_if_requested>;

using log_entries = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(custom_process_policy)

// Acquire: thread level, then process level; release in reverse;
// native_handle() is the wrapped policy's (the registry's) descriptor on
// the lock file; another process is excluded through it.
BOOST_AUTO_TEST_CASE_TEMPLATE(records_order_and_native_handle, P,
                              dlt::process_policies) {
  dlt::watchdog dog(20s);
  using Lock = recording_lock<P>;
  const auto file = dlt::unique_path("recording");
  dlt::prober<dlt::process_level_lock<P>> other(file);
  call_log::instance().take();
  const std::size_t fds = dlt::live_descriptor_count();
  {
    Lock lock(file, dlt::mode(false));
    BOOST_TEST(
        call_log::instance().take() ==
            (log_entries{"thread acquired exclusive",
                         "process acquire exclusive", "process acquired"}),
        boost::test_tools::per_element());
    const int fd = lock.native_handle();
    BOOST_TEST(::fcntl(fd, F_GETFD) != -1);
    struct ::stat by_fd, by_path;
    BOOST_TEST_REQUIRE(::fstat(fd, &by_fd) == 0);
    BOOST_TEST_REQUIRE(::stat(file.c_str(), &by_path) == 0);
    BOOST_TEST(by_fd.st_ino == by_path.st_ino);
    BOOST_TEST(dlt::descriptors_open_on(file) == 1u);
    BOOST_TEST(dlt::live_descriptor_count() == fds + 1);
    BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
    // The custom lock and the shipped aliases share the process registry:
    // a shipped process-level lock on the file is the same hold family.
    {
      dlt::process_level_lock<P> shipped(file, dlt::mode(true, false, true));
      BOOST_TEST(shipped.native_handle() == fd);
    }
    call_log::instance().take();
  }
  BOOST_TEST(call_log::instance().take() ==
                 (log_entries{"process release", "thread release"}),
             boost::test_tools::per_element());
  BOOST_TEST(dlt::live_descriptor_count() == fds);
  BOOST_TEST(other.try_lock(false) == attempt::granted, other.last_detail());
}

// The process level refuses (another process holds the file): the guard
// gives the thread level back, and nothing else is recorded.
BOOST_AUTO_TEST_CASE_TEMPLATE(refused_process_level_releases_thread_level, P,
                              dlt::process_policies) {
  dlt::watchdog dog(20s);
  using Lock = recording_lock<P>;
  const auto file = dlt::unique_path("recording-refused");
  dlt::process_holder<dlt::process_level_lock<P>> other(file, dlt::mode(false));
  BOOST_TEST_REQUIRE(other.wait_settled() == attempt::granted);
  call_log::instance().take();
  BOOST_CHECK_THROW(Lock(file, dlt::mode(true, false)),
                    dreadlocks::acquiring_process_level_lock_would_block_error);
  BOOST_TEST(
      call_log::instance().take() ==
          (log_entries{"thread acquired shared", "process acquire shared",
                       "process refused", "thread release"}),
      boost::test_tools::per_element());
  BOOST_TEST(dlt::exited_ok(other.release_and_exit()));
  {
    Lock lock(file, dlt::mode(true, false));
    BOOST_TEST(lock.owns_lock());
  }
}

// A moved guard releases once, from its new owner; unlock() is idempotent.
BOOST_AUTO_TEST_CASE_TEMPLATE(moved_guard_releases_once, P,
                              dlt::process_policies) {
  dlt::watchdog dog(20s);
  using Lock = recording_lock<P>;
  const auto file = dlt::unique_path("recording-moved");
  call_log::instance().take();
  {
    Lock first(file, dlt::mode(false));
    Lock second(std::move(first));
    BOOST_TEST(!first.owns_lock());
    BOOST_TEST(second.native_handle() != -1);
    first.unlock();
    second.unlock();
    second.unlock();
  }
  BOOST_TEST(call_log::instance().take() ==
                 (log_entries{"thread acquired exclusive",
                              "process acquire exclusive", "process acquired",
                              "process release", "thread release"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
