// tests/windows/thread_level_test.cpp
//
// dreadlocks on Windows within one process: the platform's choices, bad
// input, and threads against threads for the thread-level lock and
// path_lock (a child process checks what the OS sees where it matters).
// Part of the Windows test binary (main.cpp).

#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <type_traits>

#include "dreadlocks/dreadlocks.hpp"
#include "dreadlocks/introspection.hpp"
#include "tests/windows/child_modes.hpp"
#include "tests/windows/windows_support.hpp"

namespace {

using namespace dreadlocks_windows_test;
using namespace std::chrono_literals;


// ---------------------------------------------------------------- platform

BOOST_AUTO_TEST_CASE(aliases_select_lockfileex) {
  static_assert(std::is_same_v<dreadlocks::default_process_lock,
                               dreadlocks::windows_process_lock>);
  static_assert(std::is_same_v<dreadlocks::path_lock::native_handle_type,
                               void*>);
  temp_dir dir;
  dreadlocks::path_lock held(dir.path() / "alias.lock");
  BOOST_TEST(held.native_handle() != nullptr);
  BOOST_TEST(fs::exists(dir.path() / "alias.lock"));
}

BOOST_AUTO_TEST_CASE(bad_input_names_the_path_and_leaves_nothing) {
  watchdog dog("bad_input");
  temp_dir dir;
  const fs::path missing_parent = dir.path() / "no-such-dir" / "x.lock";
  try {
    dreadlocks::path_lock held(missing_parent);
    BOOST_FAIL("locked a file in a missing directory");
  } catch (const std::system_error& error) {
    BOOST_TEST(std::string(error.what()).find("no-such-dir") !=
               std::string::npos);
    BOOST_TEST(error.code().value() == ERROR_PATH_NOT_FOUND);
  }
  try {
    dreadlocks::path_lock held(dir.path());
    BOOST_FAIL("locked a directory");
  } catch (const std::system_error& error) {
    BOOST_TEST(std::string(error.what()).find("a directory") !=
               std::string::npos);
  }
  BOOST_TEST(dreadlocks::introspection::held_thread_keys() == 0u);
  BOOST_TEST(dreadlocks::introspection::open_lock_files() == 0u);
}

// ----------------------------------------------------------------- threads

using thread_locks =
    boost::mpl::list<dreadlocks::thread_level_path_lock, dreadlocks::path_lock>;

// True when `thrown` is the library's "would block".
bool would_block(const std::exception_ptr& thrown) {
  if (!thrown) return false;
  try {
    std::rethrow_exception(thrown);
  } catch (const dreadlocks::acquiring_lock_would_block_error&) {
    return true;
  } catch (...) {
    return false;
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(threads_nonblocking_matrix, Lock, thread_locks) {
  watchdog dog("threads_nonblocking_matrix");
  temp_dir dir;
  const fs::path path = dir.path() / "matrix.lock";
  for (const bool first : {true, false}) {
    for (const bool second : {true, false}) {
      Lock held(path, mode(first));
      const std::exception_ptr thrown =
          on_thread([&] { Lock other(path, mode(second, false)); });
      if (first && second) {
        BOOST_TEST(!thrown, "shared beside shared");
      } else {
        BOOST_TEST(would_block(thrown), "conflict refused");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(threads_waiter_granted_on_release, Lock,
                              thread_locks) {
  watchdog dog("threads_waiter_granted_on_release");
  temp_dir dir;
  const fs::path path = dir.path() / "wait.lock";
  auto held = std::make_unique<Lock>(path);
  std::promise<void> asking;
  auto granted = std::async(std::launch::async, [&] {
    asking.set_value();
    Lock waiter(path);
    return waiter.owns_lock();
  });
  asking.get_future().wait();
  BOOST_TEST((granted.wait_for(0s) == std::future_status::timeout));
  held.reset();
  BOOST_REQUIRE((granted.wait_for(20s) == std::future_status::ready));
  BOOST_TEST(granted.get());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(threads_timed_waiter_expires, Lock,
                              thread_locks) {
  watchdog dog("threads_timed_waiter_expires");
  temp_dir dir;
  const fs::path path = dir.path() / "timed.lock";
  Lock held(path);
  const auto start = std::chrono::steady_clock::now();
  const std::exception_ptr thrown = on_thread([&] {
    dreadlocks::lock_options options;
    options.timeout = 50ms;
    Lock waiter(path, options);
  });
  BOOST_TEST(would_block(thrown));
  BOOST_TEST((std::chrono::steady_clock::now() - start >= 50ms));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(reentrancy, Lock, thread_locks) {
  watchdog dog("reentrancy");
  temp_dir dir;
  const fs::path path = dir.path() / "again.lock";
  Lock held(path);
  BOOST_CHECK_THROW(Lock(path, mode(false)), dreadlocks::recursive_deadlock_error);
  dreadlocks::lock_options again;
  again.reentrant = true;
  again.shared = true;
  Lock nested(path, again);
  BOOST_TEST(nested.owns_lock());
}

BOOST_AUTO_TEST_CASE(mutex_and_multi_path) {
  watchdog dog("mutex_and_multi_path");
  temp_dir dir;
  dreadlocks::path_mutex mutex(dir.path() / "mutex.lock");
  {
    std::unique_lock<dreadlocks::path_mutex> writer(mutex);
    BOOST_TEST(child_try(dir.path() / "mutex.lock", true) == kWouldBlock);
  }
  BOOST_TEST(mutex.try_lock_shared());
  BOOST_TEST(child_try(dir.path() / "mutex.lock", true) == kGranted);
  BOOST_TEST(child_try(dir.path() / "mutex.lock", false) == kWouldBlock);
  mutex.unlock_shared();
  dreadlocks::multi_path_lock both({dir.path() / "a.lock", dir.path() / "b.lock"});
  BOOST_TEST(child_try(dir.path() / "a.lock", true) == kWouldBlock);
  BOOST_TEST(child_try(dir.path() / "b.lock", true) == kWouldBlock);
}

}  // namespace
