// tests/api/errors_test.cpp
//
// SPEC §1: the four error classes, their hierarchy and std::errc codes, and
// their accessors and messages (operation, level, mode, path).

#define BOOST_TEST_MODULE dreadlocks_api_errors

#include <boost/test/unit_test.hpp>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/api/api_support.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/temp_path.hpp"
#include "tests/support/watchdog.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

namespace fs = std::filesystem;
using api_test::contains;
using dreadlocks::acquiring_lock_would_block_error;
using dreadlocks::acquiring_process_level_lock_would_block_error;
using dreadlocks::acquiring_thread_level_lock_would_block_error;
using dreadlocks::lock_level;
using dreadlocks::lock_options;
using dreadlocks::recursive_deadlock_error;

// ---- compile time: hierarchy and copying ----

static_assert(std::is_base_of_v<std::system_error,
                                acquiring_lock_would_block_error>);
static_assert(std::is_base_of_v<acquiring_lock_would_block_error,
                                acquiring_thread_level_lock_would_block_error>);
static_assert(
    std::is_base_of_v<acquiring_lock_would_block_error,
                      acquiring_process_level_lock_would_block_error>);
static_assert(std::is_base_of_v<std::system_error,
                                acquiring_thread_level_lock_would_block_error>);
static_assert(
    std::is_base_of_v<std::system_error,
                      acquiring_process_level_lock_would_block_error>);
static_assert(std::is_base_of_v<std::system_error, recursive_deadlock_error>);
// A deadlock is not a would-block, and the two levels are siblings.
static_assert(!std::is_base_of_v<acquiring_lock_would_block_error,
                                 recursive_deadlock_error>);
static_assert(!std::is_base_of_v<recursive_deadlock_error,
                                 acquiring_lock_would_block_error>);
static_assert(
    !std::is_base_of_v<acquiring_thread_level_lock_would_block_error,
                       acquiring_process_level_lock_would_block_error>);
static_assert(
    !std::is_base_of_v<acquiring_process_level_lock_would_block_error,
                       acquiring_thread_level_lock_would_block_error>);
// Unambiguous, public bases: a catch of std::system_error catches them all.
static_assert(std::is_convertible_v<acquiring_thread_level_lock_would_block_error*,
                                    std::system_error*>);
static_assert(
    std::is_convertible_v<acquiring_process_level_lock_would_block_error*,
                          std::system_error*>);
static_assert(
    std::is_convertible_v<recursive_deadlock_error*, std::system_error*>);
static_assert(std::is_convertible_v<acquiring_lock_would_block_error*,
                                    std::exception*>);

template <class E>
constexpr bool nothrow_copyable() {
  return std::is_nothrow_copy_constructible_v<E> &&
         std::is_nothrow_copy_assignable_v<E> &&
         std::is_nothrow_destructible_v<E>;
}
static_assert(nothrow_copyable<acquiring_lock_would_block_error>());
static_assert(nothrow_copyable<acquiring_thread_level_lock_would_block_error>());
static_assert(
    nothrow_copyable<acquiring_process_level_lock_would_block_error>());
static_assert(nothrow_copyable<recursive_deadlock_error>());

// Accessors are noexcept and typed.
static_assert(noexcept(std::declval<const acquiring_lock_would_block_error&>()
                           .path()));
static_assert(std::is_same_v<
              decltype(std::declval<const recursive_deadlock_error&>().path()),
              const fs::path&>);
static_assert(std::is_same_v<
              decltype(std::declval<const recursive_deadlock_error&>().level()),
              lock_level>);
static_assert(std::is_same_v<
              decltype(std::declval<const recursive_deadlock_error&>().shared()),
              bool>);

static_assert(std::string_view(dreadlocks::to_string(lock_level::thread)) ==
              "thread-level");
static_assert(std::string_view(dreadlocks::to_string(lock_level::process)) ==
              "process-level");

// ---- helpers ----

// Runs `body` on a fresh thread and returns the exception it threw, if any.
template <class Body>
std::exception_ptr on_other_thread(Body body) {
  std::exception_ptr thrown;
  std::thread worker([&] {
    try {
      body();
    } catch (...) {
      thrown = std::current_exception();
    }
  });
  worker.join();
  return thrown;
}

// Checks what every lock error promises: code, accessors, and a message
// naming the operation, the level, the mode and the path.
void check_lock_error(const dreadlocks::lock_error& e, std::errc code,
                      lock_level level, bool shared, const fs::path& path) {
  BOOST_TEST((e.code() == code), "code is " << e.code().message());
  BOOST_TEST((e.code() == std::make_error_condition(code)));
  BOOST_TEST((e.level() == level));
  BOOST_TEST(e.shared() == shared);
  BOOST_TEST(e.path() == path);
  const std::string what = e.what();
  BOOST_TEST(contains(what, "basic_path_lock::basic_path_lock"), what);
  BOOST_TEST(contains(what, dreadlocks::to_string(level)), what);
  // "thread-level exclusive", "process-level shared", ...
  BOOST_TEST(contains(what, std::string(dreadlocks::to_string(level)) +
                                (shared ? " shared" : " exclusive")),
             what);
  BOOST_TEST(contains(what, path.string()), what);
  // It ends with the code's text, worded alike on every platform (not the
  // C library's, which mingw-w64's lacks for EWOULDBLOCK).
  const std::string code_text = code == std::errc::operation_would_block
                                    ? ": Resource temporarily unavailable"
                                    : ": Resource deadlock avoided";
  BOOST_TEST(what.size() > code_text.size(), what);
  BOOST_TEST(what.compare(what.size() - code_text.size(), code_text.size(),
                          code_text) == 0,
             what);
  const char* other_level = level == lock_level::thread ? "process-level"
                                                        : "thread-level";
  BOOST_TEST(!contains(what, other_level), what);

  // A copy is the same error.
  const auto copy = e;
  BOOST_TEST(std::string(copy.what()) == what);
  BOOST_TEST(copy.path() == e.path());
  BOOST_TEST((copy.code() == e.code()));
}

// Rethrows `thrown`, expecting E, and checks it.
template <class E>
void expect_error(std::exception_ptr thrown, std::errc code, lock_level level,
                  bool shared, const fs::path& path) {
  BOOST_TEST_REQUIRE(static_cast<bool>(thrown), "nothing was thrown");
  try {
    std::rethrow_exception(thrown);
  } catch (const E& e) {
    check_lock_error(e, code, level, shared, path);
    return;
  } catch (const std::exception& e) {
    BOOST_ERROR("unexpected exception: " << e.what());
  }
}

BOOST_FIXTURE_TEST_SUITE(errors, dreadlocks_test::nothing_left_behind)

// ---- thread level: would block ----

using thread_level_aliases =
    std::tuple<dreadlocks::thread_level_path_lock, dreadlocks::path_lock>;

BOOST_AUTO_TEST_CASE_TEMPLATE(thread_level_would_block, L,
                              thread_level_aliases) {
  dreadlocks_test::watchdog dog;
  const fs::path file = dreadlocks_test::unique_path("thread-wb");
  for (const bool held_shared : {false, true}) {
    L holder(file, {.shared = held_shared});
    for (const bool ask_shared : {false, true}) {
      if (held_shared && ask_shared) continue;  // compatible
      const auto thrown = on_other_thread([&] {
        L refused(file, {.shared = ask_shared, .blocking = false});
      });
      expect_error<acquiring_thread_level_lock_would_block_error>(
          thrown, std::errc::operation_would_block, lock_level::thread,
          ask_shared, file);
      // The same error is caught as its bases.
      BOOST_CHECK_THROW(std::rethrow_exception(thrown),
                        acquiring_lock_would_block_error);
      BOOST_CHECK_THROW(std::rethrow_exception(thrown), std::system_error);
      BOOST_TEST(holder.owns_lock());
    }
  }
}

BOOST_AUTO_TEST_CASE(thread_level_error_names_the_normalized_path) {
  dreadlocks_test::watchdog dog;
  const fs::path file = dreadlocks_test::unique_path("thread-wb-norm");
  const fs::path spelled = file.parent_path() / "x" / ".." / file.filename();
  dreadlocks::thread_level_path_lock holder(file);
  const auto thrown = on_other_thread([&] {
    dreadlocks::thread_level_path_lock refused(spelled, {.blocking = false});
  });
  expect_error<acquiring_thread_level_lock_would_block_error>(
      thrown, std::errc::operation_would_block, lock_level::thread, false,
      file);
}

// ---- process level: would block ----
#if defined(F_OFD_SETLK)

using process_level_aliases =
    std::tuple<dreadlocks::process_level_path_lock, dreadlocks::path_lock>;

BOOST_AUTO_TEST_CASE_TEMPLATE(process_level_would_block, L,
                              process_level_aliases) {
  const fs::path file = dreadlocks_test::unique_path("process-wb");
  for (const bool held_shared : {false, true}) {
    api_test::foreign_holder holder(file, held_shared);
    for (const bool ask_shared : {false, true}) {
      if (held_shared && ask_shared) {
        L granted(file, {.shared = true, .blocking = false});
        BOOST_TEST(granted.owns_lock());
        continue;
      }
      std::exception_ptr thrown;
      try {
        L refused(file, {.shared = ask_shared, .blocking = false});
      } catch (...) {
        thrown = std::current_exception();
      }
      expect_error<acquiring_process_level_lock_would_block_error>(
          thrown, std::errc::operation_would_block, lock_level::process,
          ask_shared, file);
      BOOST_CHECK_THROW(std::rethrow_exception(thrown),
                        acquiring_lock_would_block_error);
      // Nothing is left behind, the thread level of path_lock included.
      BOOST_TEST(dreadlocks::introspection::held_thread_keys() == 0u);
      BOOST_TEST(dreadlocks::introspection::open_lock_files() == 0u);
    }
  }
}

#endif  // F_OFD_SETLK

// ---- recursive deadlock ----

BOOST_AUTO_TEST_CASE(recursive_deadlock_at_the_thread_level) {
  const fs::path file = dreadlocks_test::unique_path("rec-thread");
  for (const bool held_shared : {false, true}) {
    for (const bool ask_shared : {false, true}) {
      dreadlocks::thread_level_path_lock holder(file, {.shared = held_shared});
      std::exception_ptr thrown;
      try {
        dreadlocks::thread_level_path_lock again(file, {.shared = ask_shared});
      } catch (...) {
        thrown = std::current_exception();
      }
      expect_error<recursive_deadlock_error>(
          thrown, std::errc::resource_deadlock_would_occur,
          lock_level::thread, ask_shared, file);
      BOOST_TEST(holder.owns_lock());
      BOOST_TEST(dreadlocks::introspection::held_thread_keys() == 1u);
    }
  }
}

BOOST_AUTO_TEST_CASE(recursive_deadlock_at_the_process_level) {
  const fs::path file = dreadlocks_test::unique_path("rec-process");
  for (const bool held_shared : {false, true}) {
    for (const bool ask_shared : {false, true}) {
      dreadlocks::process_level_path_lock holder(file, {.shared = held_shared});
      std::exception_ptr thrown;
      try {
        dreadlocks::process_level_path_lock again(file,
                                                  {.shared = ask_shared});
      } catch (...) {
        thrown = std::current_exception();
      }
      expect_error<recursive_deadlock_error>(
          thrown, std::errc::resource_deadlock_would_occur,
          lock_level::process, ask_shared, file);
      BOOST_TEST(holder.owns_lock());
      BOOST_TEST(dreadlocks::introspection::open_lock_files() == 1u);
    }
  }
}

// path_lock takes the thread level first: a repeat is refused there.
BOOST_AUTO_TEST_CASE(recursive_deadlock_of_path_lock_is_thread_level) {
  const fs::path file = dreadlocks_test::unique_path("rec-both");
  dreadlocks::path_lock holder(file);
  std::exception_ptr thrown;
  try {
    dreadlocks::path_lock again(file, {.blocking = false});
  } catch (...) {
    thrown = std::current_exception();
  }
  expect_error<recursive_deadlock_error>(
      thrown, std::errc::resource_deadlock_would_occur, lock_level::thread,
      false, file);
  BOOST_TEST(dreadlocks::introspection::held_thread_keys() == 1u);
  BOOST_TEST(dreadlocks::introspection::open_lock_files() == 1u);
}

// The upgrade deadlock (SPEC §2) is reported with the same class.
BOOST_AUTO_TEST_CASE(upgrade_deadlock_is_a_recursive_deadlock_error) {
  dreadlocks_test::watchdog dog;
  const fs::path file = dreadlocks_test::unique_path("upgrade");
  // Two shared holders; one asks to upgrade and waits for the other, which
  // then asks to upgrade too and must be refused rather than hang.
  std::mutex mutex;
  std::condition_variable changed;
  int stage = 0;
  std::exception_ptr second_error;
  dreadlocks::thread_level_path_lock mine(file, {.shared = true});
  std::thread other([&] {
    dreadlocks::thread_level_path_lock theirs(file, {.shared = true});
    {
      std::lock_guard<std::mutex> lock(mutex);
      stage = 1;
    }
    changed.notify_all();
    {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] { return stage == 2; });
    }
    // Whichever of the two upgrades comes second is refused at once.
    try {
      dreadlocks::thread_level_path_lock upgraded(
          file, {.shared = false, .reentrant = true});
    } catch (const recursive_deadlock_error&) {
      second_error = std::current_exception();
    }
  });
  {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return stage == 1; });
    stage = 2;
  }
  changed.notify_all();
  // Either waits until `other`, refused, gives up its shared hold, or (if
  // `other` asked first) is refused and gives up `mine` so `other` can go.
  std::exception_ptr first_error;
  try {
    dreadlocks::thread_level_path_lock upgraded(
        file, {.shared = false, .reentrant = true});
  } catch (const recursive_deadlock_error&) {
    first_error = std::current_exception();
  }
  mine.unlock();
  other.join();
  // Exactly one of the two upgrades was refused.
  BOOST_TEST((static_cast<bool>(first_error) != static_cast<bool>(second_error)));
  const auto refused = first_error ? first_error : second_error;
  expect_error<recursive_deadlock_error>(
      refused, std::errc::resource_deadlock_would_occur, lock_level::thread,
      false, file);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
