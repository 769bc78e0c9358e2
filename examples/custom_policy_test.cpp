// A unit test of code that takes path locks, run without touching the disk:
// the code under test is a template over its lock type, and the test plugs
// in a process policy of its own that locks nothing and counts the calls
// (docs/policies.md, "Writing your own"). Threads are still excluded by the
// shipped thread policy.
#define BOOST_TEST_MODULE custom_policy_test
#include <atomic>
#include <string>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "dreadlocks/dreadlocks.hpp"

namespace {

// The code under test: renders a report under the lock of its output path.
template <class Lock>
std::string render_report(const std::string& output_path) {
  Lock lock(output_path);
  return "report for " + lock.path().string();
}

// A ProcessPolicy that opens no file and only counts what it is asked.
struct counting_no_process_lock {
  using native_handle_type = int;
  // No file is opened, so keys are folded as text.
  static constexpr dreadlocks::key_form keys = dreadlocks::key_form::lexical;
  struct hold {
    bool held = false;
  };
  static inline std::atomic<int> acquired{0};
  static inline std::atomic<int> released{0};

  static hold acquire(const dreadlocks::lock_request&) {
    ++acquired;
    return hold{true};
  }
  static void release(hold& h) noexcept {
    if (h.held) ++released;
    h.held = false;
  }
  static native_handle_type native_handle(const hold&) noexcept { return -1; }
};

using test_lock = dreadlocks::basic_path_lock<dreadlocks::shareable_thread_lock,
                                              counting_no_process_lock,
                                              dreadlocks::reentrant_if_requested>;

}  // namespace

BOOST_AUTO_TEST_CASE(code_under_test_runs_without_a_lock_file) {
  counting_no_process_lock::acquired = 0;
  counting_no_process_lock::released = 0;
  // The directory does not exist: a file-backed policy would throw.
  const std::string report =
      render_report<test_lock>("/nonexistent-dir/dreadlocks-example/report.lock");
  BOOST_TEST(report == "report for /nonexistent-dir/dreadlocks-example/report.lock");
  BOOST_TEST(counting_no_process_lock::acquired == 1);
  BOOST_TEST(counting_no_process_lock::released == 1);
}

BOOST_AUTO_TEST_CASE(threads_are_still_excluded) {
  const std::string path = "/nonexistent-dir/dreadlocks-example/shared.lock";
  test_lock held(path);
  bool refused = false;
  std::thread other([&] {
    try {
      test_lock second(path, {.blocking = false});
    } catch (const dreadlocks::acquiring_thread_level_lock_would_block_error&) {
      refused = true;
    }
  });
  other.join();
  BOOST_TEST(refused);
  BOOST_TEST(held.native_handle() == -1);
}
