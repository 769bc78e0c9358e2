// tests/api/guard_test.cpp
//
// SPEC §1: the guard is move-only; a moved-from guard owns nothing and
// releases nothing; move assignment releases the target's lock first;
// unlock() is idempotent and noexcept; owns_lock(), explicit operator bool,
// options(), path() and native_handle() report what they promise.

#define BOOST_TEST_MODULE dreadlocks_api_guard

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <type_traits>
#include <utility>

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
using api_test::all_aliases;
using api_test::expect_free;
using api_test::expect_held;
using api_test::file_backed_aliases;
using dreadlocks::lock_options;

// ---- compile time ----

template <class L>
constexpr bool check_guard_traits() {
  static_assert(!std::is_copy_constructible_v<L>);
  static_assert(!std::is_copy_assignable_v<L>);
  static_assert(std::is_nothrow_move_constructible_v<L>);
  static_assert(std::is_nothrow_move_assignable_v<L>);
  static_assert(std::is_nothrow_destructible_v<L>);
  static_assert(noexcept(std::declval<L&>().unlock()));
  static_assert(noexcept(std::declval<const L&>().owns_lock()));
  static_assert(noexcept(std::declval<const L&>().native_handle()));
  // path() builds its std::filesystem::path on first use (keys keep only
  // the text), so it may throw std::bad_alloc and is not noexcept.
  static_assert(noexcept(std::declval<const L&>().options()));
  static_assert(std::is_same_v<decltype(std::declval<const L&>().owns_lock()),
                               bool>);
  // operator bool is explicit: usable in `if`, not as an implicit bool.
  static_assert(!std::is_convertible_v<L, bool>);
  static_assert(std::is_constructible_v<bool, const L&>);
  static_assert(
      std::is_same_v<decltype(std::declval<const L&>().path()),
                     const std::filesystem::path&>);
  static_assert(std::is_same_v<decltype(std::declval<const L&>().options()),
                               const dreadlocks::lock_options&>);
  static_assert(std::is_same_v<typename L::native_handle_type, int>);
  static_assert(
      std::is_same_v<decltype(std::declval<const L&>().native_handle()), int>);
  return true;
}
static_assert(check_guard_traits<dreadlocks::thread_level_path_lock>());
static_assert(check_guard_traits<dreadlocks::process_level_path_lock>());
static_assert(check_guard_traits<dreadlocks::path_lock>());

// The policies each alias is made of (platform.hpp).
static_assert(std::is_same_v<dreadlocks::path_lock::thread_policy,
                             dreadlocks::shareable_thread_lock>);
static_assert(std::is_same_v<dreadlocks::path_lock::process_policy,
                             dreadlocks::default_process_lock>);
static_assert(std::is_same_v<dreadlocks::process_level_path_lock::thread_policy,
                             dreadlocks::no_thread_lock>);
static_assert(std::is_same_v<dreadlocks::thread_level_path_lock::process_policy,
                             dreadlocks::no_process_lock>);
#if defined(__linux__)
static_assert(std::is_same_v<dreadlocks::default_process_lock,
                             dreadlocks::ofd_process_lock>);
#endif

bool cloexec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  return flags >= 0 && (flags & FD_CLOEXEC) != 0;
}

BOOST_FIXTURE_TEST_SUITE(guard, dreadlocks_test::nothing_left_behind)

BOOST_AUTO_TEST_CASE_TEMPLATE(constructor_locks_destructor_releases, L,
                              all_aliases) {
  dreadlocks_test::watchdog dog;
  const fs::path file = dreadlocks_test::unique_path("raii");
  {
    L lock(file);
    BOOST_TEST(lock.owns_lock());
    expect_held<L>(file);
  }
  expect_free<L>(file);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(owns_lock_and_explicit_bool, L, all_aliases) {
  L lock(dreadlocks_test::unique_path("bool"));
  BOOST_TEST(lock.owns_lock());
  BOOST_TEST(static_cast<bool>(lock));
  bool entered = false;
  if (lock) entered = true;
  BOOST_TEST(entered);
  BOOST_TEST(!!lock);
  lock.unlock();
  BOOST_TEST(!lock.owns_lock());
  BOOST_TEST(!static_cast<bool>(lock));
  BOOST_TEST(!lock);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(move_construction_transfers_ownership, L,
                              all_aliases) {
  dreadlocks_test::watchdog dog;
  const fs::path file = dreadlocks_test::unique_path("move-construct");
  {
    L target = [&] {
      L source(file, {.shared = true});
      L moved(std::move(source));
      BOOST_TEST(!source.owns_lock());
      BOOST_TEST(!static_cast<bool>(source));
      BOOST_TEST(moved.owns_lock());
      BOOST_TEST(moved.path() == file);
      BOOST_TEST(moved.options().shared);
      // unlock() on a moved-from guard does nothing.
      source.unlock();
      BOOST_TEST(moved.owns_lock());
      return moved;  // `source` is destroyed here: it must release nothing
    }();
    BOOST_TEST(target.owns_lock());
    expect_held<L>(file);
    if constexpr (api_test::has_process_level<L>) {
      BOOST_TEST(dreadlocks::introspection::open_lock_files() == 1u);
    }
  }
  expect_free<L>(file);
}

// A moved-from guard owns nothing, so it has no descriptor to offer either:
// native_handle() must say "none" (-1), as after unlock(), instead of
// handing out the new owner's descriptor (or, once that owner released, a
// pointer into freed registry state).
BOOST_AUTO_TEST_CASE_TEMPLATE(moved_from_guard_has_no_native_handle, L,
                              all_aliases) {
  const fs::path file = dreadlocks_test::unique_path("moved-handle");
  L source(file);
  L target(std::move(source));
  BOOST_TEST(source.native_handle() == -1);
  L assigned(dreadlocks_test::unique_path("moved-handle-2"));
  assigned = std::move(target);
  BOOST_TEST(target.native_handle() == -1);
  BOOST_TEST(!target.owns_lock());
  BOOST_TEST(assigned.owns_lock());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(move_assignment_releases_the_target_first, L,
                              all_aliases) {
  dreadlocks_test::watchdog dog;
  const fs::path first = dreadlocks_test::unique_path("assign-first");
  const fs::path second = dreadlocks_test::unique_path("assign-second");
  L a(first);
  L b(second, {.shared = true, .reentrant = true});
  expect_held<L>(first);
  expect_held<L>(second);

  a = std::move(b);

  expect_free<L>(first);  // a's former lock is gone
  expect_held<L>(second);
  BOOST_TEST(a.owns_lock());
  BOOST_TEST(!b.owns_lock());
  BOOST_TEST(a.path() == second);
  BOOST_TEST(a.options().shared);
  BOOST_TEST(a.options().reentrant);
  if constexpr (api_test::has_process_level<L>) {
    BOOST_TEST(dreadlocks::introspection::open_lock_files() == 1u);
  }
  if constexpr (api_test::has_thread_level<L>) {
    BOOST_TEST(dreadlocks::introspection::held_thread_keys() == 1u);
  }
  // Another guard may now take `first` without waiting.
  L again(first, {.blocking = false});
  BOOST_TEST(again.owns_lock());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(move_assignment_into_an_empty_guard, L,
                              all_aliases) {
  dreadlocks_test::watchdog dog;
  const fs::path first = dreadlocks_test::unique_path("assign-empty-1");
  const fs::path second = dreadlocks_test::unique_path("assign-empty-2");
  L a(first);
  a.unlock();
  a = L(second);
  BOOST_TEST(a.owns_lock());
  BOOST_TEST(a.path() == second);
  expect_held<L>(second);
  expect_free<L>(first);

  L moved_from(std::move(a));
  a = L(first);  // assigning into a moved-from guard
  BOOST_TEST(a.owns_lock());
  expect_held<L>(first);
  expect_held<L>(second);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(self_move_assignment_keeps_the_lock, L,
                              all_aliases) {
  dreadlocks_test::watchdog dog;
  const fs::path file = dreadlocks_test::unique_path("self-move");
  L lock(file);
  L& alias = lock;
  lock = std::move(alias);
  BOOST_TEST(lock.owns_lock());
  BOOST_TEST(lock.path() == file);
  expect_held<L>(file);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(unlock_is_idempotent, L, all_aliases) {
  dreadlocks_test::watchdog dog;
  const fs::path file = dreadlocks_test::unique_path("unlock");
  {
    L lock(file, {.shared = true});
    lock.unlock();
    BOOST_TEST(!lock.owns_lock());
    expect_free<L>(file);
    BOOST_TEST(dreadlocks::introspection::held_thread_keys() == 0u);
    BOOST_TEST(dreadlocks::introspection::open_lock_files() == 0u);
    lock.unlock();
    lock.unlock();
    BOOST_TEST(!lock.owns_lock());
    // path() and options() survive unlock().
    BOOST_TEST(lock.path() == file);
    BOOST_TEST(lock.options().shared);
    // A new lock on the same key is independent of the dead guard.
    L other(file, {.blocking = false});
    BOOST_TEST(other.owns_lock());
  }  // the unlocked guard's destructor releases nothing: nothing fails here
  expect_free<L>(file);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(options_returns_what_was_given, L, all_aliases) {
  const fs::path file = dreadlocks_test::unique_path("options");
  {
    L lock(file);
    BOOST_TEST(!lock.options().shared);
    BOOST_TEST(lock.options().blocking);
    BOOST_TEST(!lock.options().reentrant);
  }
  {
    const lock_options given{true, false, true};
    L lock(file, given);
    BOOST_TEST(lock.options().shared);
    BOOST_TEST(!lock.options().blocking);
    BOOST_TEST(lock.options().reentrant);
  }
  {
    L lock(file, {.shared = false, .blocking = false, .reentrant = true});
    BOOST_TEST(!lock.options().shared);
    BOOST_TEST(!lock.options().blocking);
    BOOST_TEST(lock.options().reentrant);
  }
}

// path() is absolute and folded: lexically for the thread-level alias,
// as opened (`missing/..` kept, so open(2) needs `missing`) for the
// file-backed ones (docs/keys.md).
BOOST_AUTO_TEST_CASE_TEMPLATE(path_is_normalized_and_absolute, L,
                              all_aliases) {
  const fs::path file = dreadlocks_test::unique_path("normal");
  const fs::path missing = dreadlocks_test::unique_path("missing").filename();
  const fs::path spelled =
      file.parent_path() / "." / missing / ".." / "" / file.filename();
  if constexpr (api_test::has_process_level<L>) {
    BOOST_CHECK_THROW(L{spelled}, std::system_error);
    BOOST_TEST(!fs::exists(file));
    fs::create_directory(file.parent_path() / missing);
    L lock(spelled);
    BOOST_TEST(lock.path() ==
               file.parent_path() / missing / ".." / file.filename());
    BOOST_TEST(lock.path().is_absolute());
    BOOST_TEST(fs::is_regular_file(file));
  } else {
    L lock(spelled);
    BOOST_TEST(lock.path() == file);
    BOOST_TEST(lock.path().is_absolute());
    BOOST_TEST(lock.path() == lock.path().lexically_normal());
    BOOST_TEST(lock.path().string().find("..") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(thread_level_native_handle_is_minus_one) {
  dreadlocks::thread_level_path_lock lock(
      dreadlocks_test::unique_path("no-handle"));
  BOOST_TEST(lock.native_handle() == -1);
  lock.unlock();
  BOOST_TEST(lock.native_handle() == -1);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(native_handle_is_the_lock_file, L,
                              file_backed_aliases) {
  const fs::path file = dreadlocks_test::unique_path("handle");
  L lock(file);
  const int fd = lock.native_handle();
  BOOST_TEST_REQUIRE(fd >= 0);
  BOOST_TEST(::fcntl(fd, F_GETFD) != -1);
  BOOST_TEST(cloexec(fd));
  BOOST_TEST((::fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);

  // It is the file at path().
  struct ::stat by_fd {};
  struct ::stat by_path {};
  BOOST_TEST_REQUIRE(::fstat(fd, &by_fd) == 0);
  BOOST_TEST_REQUIRE(::stat(lock.path().c_str(), &by_path) == 0);
  BOOST_TEST(by_fd.st_dev == by_path.st_dev);
  BOOST_TEST(by_fd.st_ino == by_path.st_ino);
  BOOST_TEST(S_ISREG(by_fd.st_mode));

  // Reading and writing through it work.
  const char text[] = "dreadlocks";
  BOOST_TEST(::pwrite(fd, text, sizeof text, 0) ==
             static_cast<ssize_t>(sizeof text));
  char back[sizeof text] = {};
  BOOST_TEST(::pread(fd, back, sizeof back, 0) ==
             static_cast<ssize_t>(sizeof back));
  BOOST_TEST(std::memcmp(text, back, sizeof text) == 0);

  // A nested guard on the same file shares the descriptor.
  {
    L nested(file, {.shared = true, .reentrant = true});
    BOOST_TEST(nested.native_handle() == fd);
  }
  lock.unlock();
  BOOST_TEST(lock.native_handle() == -1);
}

// The lock file is created if missing and never truncated.
BOOST_AUTO_TEST_CASE_TEMPLATE(lock_file_is_created_and_not_truncated, L,
                              file_backed_aliases) {
  const fs::path file = dreadlocks_test::unique_path("created");
  BOOST_TEST_REQUIRE(!fs::exists(file));
  {
    L lock(file);
    BOOST_TEST(fs::is_regular_file(file));
    const char text[] = "keep me";
    BOOST_TEST(::pwrite(lock.native_handle(), text, sizeof text, 0) ==
               static_cast<ssize_t>(sizeof text));
  }
  BOOST_TEST(fs::exists(file));  // never deleted
  {
    L lock(file);
    BOOST_TEST(fs::file_size(file) == sizeof("keep me"));
  }
  BOOST_TEST(fs::file_size(file) == sizeof("keep me"));
}

// Both aliases that open files share one per-process registry: one
// descriptor per file, whichever alias took it.
BOOST_AUTO_TEST_CASE(file_backed_aliases_share_one_descriptor) {
  const fs::path file = dreadlocks_test::unique_path("shared-fd");
  dreadlocks::path_lock both(file);
  dreadlocks::process_level_path_lock process(file, {.reentrant = true});
  BOOST_TEST(both.native_handle() == process.native_handle());
  BOOST_TEST(dreadlocks::introspection::open_lock_files() == 1u);
}

// A guard may be released on another thread than the one that took it.
BOOST_AUTO_TEST_CASE_TEMPLATE(guard_released_on_another_thread, L,
                              all_aliases) {
  dreadlocks_test::watchdog dog;
  const fs::path file = dreadlocks_test::unique_path("other-thread");
  L lock(file);
  std::thread releaser([moved = std::move(lock)]() mutable { moved.unlock(); });
  releaser.join();
  BOOST_TEST(!lock.owns_lock());
  expect_free<L>(file);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
