// tests/api/policies_test.cpp
//
// SPEC §3: the policy concepts' compile-time checks accept every shipped
// policy and reject broken ones; user-defined recording policies plugged
// into basic_path_lock see the documented order of acquisitions and
// releases and the failure path; the ReentrancyPolicies decide repeats.

#define BOOST_TEST_MODULE dreadlocks_api_policies

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

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
using dreadlocks::basic_path_lock;
using dreadlocks::lock_options;
using dreadlocks::lock_request;

// ---- compile time: shipped policies pass ----

static_assert(dreadlocks::is_thread_policy_v<dreadlocks::shareable_thread_lock>);
static_assert(dreadlocks::is_thread_policy_v<dreadlocks::no_thread_lock>);
static_assert(dreadlocks::is_process_policy_v<dreadlocks::ofd_process_lock>);
static_assert(dreadlocks::is_process_policy_v<dreadlocks::fcntl_process_lock>);
static_assert(dreadlocks::is_process_policy_v<dreadlocks::no_process_lock>);
static_assert(
    dreadlocks::is_reentrancy_policy_v<dreadlocks::reentrant_if_requested>);
static_assert(dreadlocks::is_reentrancy_policy_v<dreadlocks::always_reentrant>);
static_assert(dreadlocks::is_reentrancy_policy_v<dreadlocks::never_reentrant>);

// Policy kinds are not interchangeable.
static_assert(
    !dreadlocks::is_process_policy_v<dreadlocks::shareable_thread_lock>);
static_assert(!dreadlocks::is_thread_policy_v<dreadlocks::always_reentrant>);
static_assert(
    !dreadlocks::is_reentrancy_policy_v<dreadlocks::shareable_thread_lock>);
static_assert(!dreadlocks::is_thread_policy_v<int>);
static_assert(!dreadlocks::is_process_policy_v<void>);
static_assert(!dreadlocks::is_reentrancy_policy_v<int>);

// ---- compile time: broken policies fail ----

namespace broken {

struct empty {};

// ThreadPolicy
struct no_hold {
  static int acquire(const lock_request&) { return 0; }
  static void release(int&) noexcept {}
};
struct no_acquire {
  struct hold {};
  static void release(hold&) noexcept {}
};
struct no_release {
  struct hold {};
  static hold acquire(const lock_request&) { return {}; }
};
struct release_may_throw {
  struct hold {};
  static hold acquire(const lock_request&) { return {}; }
  static void release(hold&) {}
};
struct acquire_returns_wrong_type {
  struct hold {};
  static bool acquire(const lock_request&) { return true; }
  static void release(hold&) noexcept {}
};
struct acquire_takes_wrong_argument {
  struct hold {};
  static hold acquire(const std::string&) { return {}; }
  static void release(hold&) noexcept {}
};
struct acquire_not_static {
  struct hold {};
  hold acquire(const lock_request&) { return {}; }
  static void release(hold&) noexcept {}
};
struct hold_not_default_constructible {
  struct hold {
    explicit hold(int) {}
  };
  static hold acquire(const lock_request&) { return hold(0); }
  static void release(hold&) noexcept {}
};
struct hold_move_may_throw {
  struct hold {
    hold() = default;
    hold(const hold&) {}
    hold(hold&&) noexcept(false) {}
  };
  static hold acquire(const lock_request&) { return {}; }
  static void release(hold&) noexcept {}
};

static_assert(!dreadlocks::is_thread_policy_v<empty>);
static_assert(!dreadlocks::is_thread_policy_v<no_hold>);
static_assert(!dreadlocks::is_thread_policy_v<no_acquire>);
static_assert(!dreadlocks::is_thread_policy_v<no_release>);
static_assert(!dreadlocks::is_thread_policy_v<release_may_throw>);
static_assert(!dreadlocks::is_thread_policy_v<acquire_returns_wrong_type>);
static_assert(!dreadlocks::is_thread_policy_v<acquire_takes_wrong_argument>);
static_assert(!dreadlocks::is_thread_policy_v<acquire_not_static>);
static_assert(!dreadlocks::is_thread_policy_v<hold_not_default_constructible>);
static_assert(!dreadlocks::is_thread_policy_v<hold_move_may_throw>);

// ProcessPolicy: a valid ThreadPolicy shape plus the native handle.
struct process_ok {
  using native_handle_type = int;
  struct hold {};
  static hold acquire(const lock_request&) { return {}; }
  static void release(hold&) noexcept {}
  static native_handle_type native_handle(const hold&) noexcept { return -1; }
};
static_assert(dreadlocks::is_process_policy_v<process_ok>);

// How keys are folded (docs/keys.md): as opened unless the policy says it
// opens no file; only the shipped file-backed policies locate files first.
struct process_lexical : process_ok {
  static constexpr dreadlocks::key_form keys = dreadlocks::key_form::lexical;
};
static_assert(dreadlocks::process_key_form_v<process_ok> ==
              dreadlocks::key_form::as_opened);
static_assert(dreadlocks::process_key_form_v<process_lexical> ==
              dreadlocks::key_form::lexical);
static_assert(dreadlocks::process_key_form_v<dreadlocks::no_process_lock> ==
              dreadlocks::key_form::lexical);
static_assert(dreadlocks::process_key_form_v<dreadlocks::fcntl_process_lock> ==
              dreadlocks::key_form::as_opened);
static_assert(dreadlocks::locates_files_v<dreadlocks::fcntl_process_lock>);
static_assert(!dreadlocks::locates_files_v<process_ok>);
static_assert(!dreadlocks::locates_files_v<dreadlocks::no_process_lock>);

struct no_native_handle {
  using native_handle_type = int;
  struct hold {};
  static hold acquire(const lock_request&) { return {}; }
  static void release(hold&) noexcept {}
};
struct no_native_handle_type {
  struct hold {};
  static hold acquire(const lock_request&) { return {}; }
  static void release(hold&) noexcept {}
  static int native_handle(const hold&) noexcept { return -1; }
};
struct native_handle_wrong_type {
  using native_handle_type = int;
  struct hold {};
  static hold acquire(const lock_request&) { return {}; }
  static void release(hold&) noexcept {}
  static long native_handle(const hold&) noexcept { return -1; }
};
struct process_release_may_throw {
  using native_handle_type = int;
  struct hold {};
  static hold acquire(const lock_request&) { return {}; }
  static void release(hold&) {}
  static native_handle_type native_handle(const hold&) noexcept { return -1; }
};
struct process_acquire_wrong_type {
  using native_handle_type = int;
  struct hold {};
  static int acquire(const lock_request&) { return 0; }
  static void release(hold&) noexcept {}
  static native_handle_type native_handle(const hold&) noexcept { return -1; }
};

static_assert(!dreadlocks::is_process_policy_v<empty>);
static_assert(!dreadlocks::is_process_policy_v<no_native_handle>);
static_assert(!dreadlocks::is_process_policy_v<no_native_handle_type>);
static_assert(!dreadlocks::is_process_policy_v<native_handle_wrong_type>);
static_assert(!dreadlocks::is_process_policy_v<process_release_may_throw>);
static_assert(!dreadlocks::is_process_policy_v<process_acquire_wrong_type>);
static_assert(!dreadlocks::is_process_policy_v<no_release>);

// Requirements the older probes did not check: native_handle() noexcept,
// `keys` as a compile-time constant, the locating group whole.
struct native_handle_may_throw : process_ok {
  static native_handle_type native_handle(const hold&) { return -1; }
};
struct keys_not_static : process_ok {
  dreadlocks::key_form keys = dreadlocks::key_form::lexical;
};
struct keys_wrong_type : process_ok {
  static constexpr int keys = 0;
};
struct locates_without_the_rest : process_ok {
  struct located {};
  static located locate(const lock_request&) { return {}; }
};
struct overloaded_abandon_alone : process_ok {
  static void abandon(int&) noexcept {}
  static void abandon(long&) noexcept {}
};
static_assert(!dreadlocks::is_process_policy_v<native_handle_may_throw>);
static_assert(!dreadlocks::is_process_policy_v<keys_not_static>);
static_assert(!dreadlocks::is_process_policy_v<keys_wrong_type>);
static_assert(!dreadlocks::is_process_policy_v<locates_without_the_rest>);
static_assert(!dreadlocks::is_process_policy_v<overloaded_abandon_alone>);
static_assert(!dreadlocks::locates_files_v<locates_without_the_rest>);

// A final policy class is checked as any other.
struct final_process final : process_ok {};
static_assert(dreadlocks::is_process_policy_v<final_process>);
static_assert(!dreadlocks::locates_files_v<final_process>);

// ReentrancyPolicy
struct allows_reentry_returns_int {
  static int allows_reentry(const lock_options&) noexcept { return 1; }
};
struct allows_reentry_wrong_argument {
  static bool allows_reentry(const std::string&) noexcept { return true; }
};
struct allows_reentry_not_static {
  bool allows_reentry(const lock_options&) noexcept { return true; }
};
static_assert(!dreadlocks::is_reentrancy_policy_v<empty>);
static_assert(
    !dreadlocks::is_reentrancy_policy_v<allows_reentry_returns_int>);
static_assert(
    !dreadlocks::is_reentrancy_policy_v<allows_reentry_wrong_argument>);
static_assert(!dreadlocks::is_reentrancy_policy_v<allows_reentry_not_static>);

// Documented as "static bool allows_reentry(const lock_options&) noexcept"
// (reentrancy_policies.hpp and the static_assert message).
struct allows_reentry_may_throw {
  static bool allows_reentry(const lock_options&) { return true; }
};

}  // namespace broken

#if defined(__cpp_concepts) && __cpp_concepts >= 201907L
// The C++20 concepts say what the traits say.
static_assert(dreadlocks::thread_policy<dreadlocks::shareable_thread_lock>);
static_assert(dreadlocks::process_policy<dreadlocks::no_process_lock>);
static_assert(dreadlocks::reentrancy_policy<dreadlocks::never_reentrant>);
static_assert(!dreadlocks::thread_policy<broken::release_may_throw>);
static_assert(!dreadlocks::process_policy<broken::locates_without_the_rest>);
static_assert(
    !dreadlocks::reentrancy_policy<broken::allows_reentry_may_throw>);

template <dreadlocks::process_policy P>
constexpr bool constrained_on_process_policy() {
  return true;
}
static_assert(constrained_on_process_policy<dreadlocks::fcntl_process_lock>());
#endif

// ---- user-defined recording policies ----

struct event {
  std::string what;  // "thread-acquire", "process-release", ...
  std::string key;
  bool shared;
  bool operator==(const event& other) const {
    return what == other.what && key == other.key && shared == other.shared;
  }
};

std::ostream& operator<<(std::ostream& out, const event& e) {
  return out << e.what << "(" << e.key << (e.shared ? ", shared)" : ", exclusive)");
}

std::vector<event>& events() {
  static std::vector<event> log;
  return log;
}

// What the last acquisition was asked, as the recording policies saw it.
struct seen_request {
  std::string key;
  bool shared = false;
  bool blocking = false;
  bool reentry_allowed = false;
  bool timed = false;
  std::string operation;
};
seen_request& last_request() {
  static seen_request seen;
  return seen;
}

struct injected_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool fail_thread_acquire = false;
bool fail_process_acquire = false;

// A ThreadPolicy that grants everything and logs what it does.
struct recording_thread_lock {
  struct hold {
    std::string key;
    bool shared = false;
    bool active = false;
  };

  static hold acquire(const lock_request& request) {
    last_request() = {request.key.path().string(), request.shared,
                      request.blocking, request.reentry_allowed,
                      request.timed(), request.operation};
    events().push_back({"thread-acquire", request.key.path().string(),
                        request.shared});
    if (fail_thread_acquire) throw injected_failure("thread level refused");
    return {request.key.path().string(), request.shared, true};
  }

  static void release(hold& held) noexcept {
    if (!held.active) return;
    events().push_back({"thread-release", held.key, held.shared});
    held.active = false;
  }
};

// A ProcessPolicy that grants everything, opens nothing and logs.
struct recording_process_lock {
  using native_handle_type = long;
  static constexpr native_handle_type handle = 4242;

  struct hold {
    std::string key;
    bool shared = false;
    bool active = false;
  };

  static hold acquire(const lock_request& request) {
    events().push_back({"process-acquire", request.key.path().string(),
                        request.shared});
    if (fail_process_acquire) throw injected_failure("process level refused");
    return {request.key.path().string(), request.shared, true};
  }

  static void release(hold& held) noexcept {
    if (!held.active) return;
    events().push_back({"process-release", held.key, held.shared});
    held.active = false;
  }

  static native_handle_type native_handle(const hold& held) noexcept {
    return held.active ? handle : -1;
  }
};

static_assert(dreadlocks::is_thread_policy_v<recording_thread_lock>);
static_assert(dreadlocks::is_process_policy_v<recording_process_lock>);

using recorded_lock = basic_path_lock<recording_thread_lock,
                                      recording_process_lock,
                                      dreadlocks::reentrant_if_requested>;
static_assert(std::is_same_v<recorded_lock::native_handle_type, long>);
static_assert(std::is_same_v<recorded_lock::thread_policy,
                             recording_thread_lock>);
static_assert(std::is_same_v<recorded_lock::process_policy,
                             recording_process_lock>);
static_assert(std::is_same_v<recorded_lock::reentrancy_policy,
                             dreadlocks::reentrant_if_requested>);

struct recording_fixture : dreadlocks_test::nothing_left_behind {
  recording_fixture() {
    events().clear();
    fail_thread_acquire = false;
    fail_process_acquire = false;
  }
  ~recording_fixture() {
    fail_thread_acquire = false;
    fail_process_acquire = false;
  }
};

std::vector<event> take_events() {
  std::vector<event> taken;
  taken.swap(events());
  return taken;
}

BOOST_FIXTURE_TEST_SUITE(policies, recording_fixture)

BOOST_AUTO_TEST_CASE(runtime_view_of_the_concept_checks) {
  BOOST_TEST(dreadlocks::is_thread_policy_v<recording_thread_lock>);
  BOOST_TEST(!dreadlocks::is_thread_policy_v<broken::release_may_throw>);
}

// The documented ReentrancyPolicy requirement includes noexcept.
BOOST_AUTO_TEST_CASE(reentrancy_check_requires_noexcept) {
  BOOST_TEST(
      !dreadlocks::is_reentrancy_policy_v<broken::allows_reentry_may_throw>,
      "is_reentrancy_policy_v accepts an allows_reentry that is not noexcept, "
      "although reentrancy_policies.hpp requires noexcept");
}

BOOST_AUTO_TEST_CASE(acquire_and_release_in_documented_order) {
  const fs::path file = dreadlocks_test::unique_path("recorded");
  const std::string key = file.string();
  {
    recorded_lock lock(file, {.shared = true});
    BOOST_TEST(lock.owns_lock());
    BOOST_TEST(lock.native_handle() == recording_process_lock::handle);
    const std::vector<event> expected = {{"thread-acquire", key, true},
                                         {"process-acquire", key, true}};
    BOOST_TEST(events() == expected, boost::test_tools::per_element());
  }
  const std::vector<event> expected = {{"thread-acquire", key, true},
                                       {"process-acquire", key, true},
                                       {"process-release", key, true},
                                       {"thread-release", key, true}};
  BOOST_TEST(take_events() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(unlock_releases_in_reverse_once) {
  const fs::path file = dreadlocks_test::unique_path("recorded-unlock");
  const std::string key = file.string();
  recorded_lock lock(file);
  events().clear();
  lock.unlock();
  lock.unlock();
  const std::vector<event> expected = {{"process-release", key, false},
                                       {"thread-release", key, false}};
  BOOST_TEST(take_events() == expected, boost::test_tools::per_element());
}

// A ProcessPolicy that does not say how keys are folded (no `keys`) gets
// them as opened: `.` and `//` folded, `a/..` kept (`a` could be a
// symlink; docs/keys.md).
BOOST_AUTO_TEST_CASE(policies_see_the_normalized_request) {
  const fs::path file = dreadlocks_test::unique_path("recorded-request");
  const fs::path spelled =
      file.parent_path().string() + "//./" + file.filename().string();
  {
    const fs::path dotted = file.parent_path() / "a" / ".." / file.filename();
    recorded_lock lock(dotted.string());
    BOOST_TEST(last_request().key == dotted.string());
  }
  {
    recorded_lock lock(spelled.string(),
                       {.shared = true, .blocking = false, .reentrant = true});
    const seen_request& seen = last_request();
    BOOST_TEST(seen.key == file.string());
    BOOST_TEST(seen.shared);
    BOOST_TEST(!seen.blocking);
    BOOST_TEST(seen.reentry_allowed);
    BOOST_TEST(!seen.timed);
    BOOST_TEST(seen.operation == "basic_path_lock::basic_path_lock");
  }
  {
    recorded_lock lock(file);
    const seen_request& seen = last_request();
    BOOST_TEST(!seen.shared);
    BOOST_TEST(seen.blocking);
    BOOST_TEST(!seen.reentry_allowed);
  }
  // The ReentrancyPolicy's verdict is what the policies are given.
  {
    basic_path_lock<recording_thread_lock, recording_process_lock,
                    dreadlocks::always_reentrant>
        lock(file);
    BOOST_TEST(last_request().reentry_allowed);
  }
  {
    basic_path_lock<recording_thread_lock, recording_process_lock,
                    dreadlocks::never_reentrant>
        lock(file, {.reentrant = true});
    BOOST_TEST(!last_request().reentry_allowed);
  }
}

BOOST_AUTO_TEST_CASE(process_failure_releases_the_thread_level) {
  const fs::path file = dreadlocks_test::unique_path("recorded-fail");
  const std::string key = file.string();
  fail_process_acquire = true;
  BOOST_CHECK_THROW(recorded_lock lock(file), injected_failure);
  const std::vector<event> expected = {{"thread-acquire", key, false},
                                       {"process-acquire", key, false},
                                       {"thread-release", key, false}};
  BOOST_TEST(take_events() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(thread_failure_skips_the_process_level) {
  const fs::path file = dreadlocks_test::unique_path("recorded-fail-thread");
  fail_thread_acquire = true;
  BOOST_CHECK_THROW(recorded_lock lock(file, {.shared = true}),
                    injected_failure);
  const std::vector<event> expected = {
      {"thread-acquire", file.string(), true}};
  BOOST_TEST(take_events() == expected, boost::test_tools::per_element());
}

// A real ThreadPolicy with a failing user ProcessPolicy: the shipped
// thread level is given back too (SPEC §2 "failure").
BOOST_AUTO_TEST_CASE(process_failure_releases_the_shipped_thread_level) {
  dreadlocks_test::watchdog dog;
  const fs::path file = dreadlocks_test::unique_path("recorded-fail-real");
  fail_process_acquire = true;
  using mixed = basic_path_lock<dreadlocks::shareable_thread_lock,
                                recording_process_lock,
                                dreadlocks::reentrant_if_requested>;
  BOOST_CHECK_THROW(mixed lock(file), injected_failure);
  BOOST_TEST(dreadlocks::introspection::held_thread_keys() == 0u);
  BOOST_TEST(!api_test::thread_level_held(file));
}

BOOST_AUTO_TEST_CASE(moved_from_guard_releases_nothing) {
  const fs::path file = dreadlocks_test::unique_path("recorded-move");
  const std::string key = file.string();
  {
    recorded_lock source(file);
    {
      recorded_lock target(std::move(source));
      BOOST_TEST(events().size() == 2u);  // just the two acquisitions
    }
    // `target` released once; `source`, moved from, must add nothing.
    BOOST_TEST(events().size() == 4u);
  }
  const std::vector<event> expected = {{"thread-acquire", key, false},
                                       {"process-acquire", key, false},
                                       {"process-release", key, false},
                                       {"thread-release", key, false}};
  BOOST_TEST(take_events() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(move_assignment_releases_the_target_first) {
  const fs::path first = dreadlocks_test::unique_path("recorded-assign-1");
  const fs::path second = dreadlocks_test::unique_path("recorded-assign-2");
  {
    recorded_lock a(first);
    recorded_lock b(second, {.shared = true});
    events().clear();
    a = std::move(b);
    const std::vector<event> released = {
        {"process-release", first.string(), false},
        {"thread-release", first.string(), false}};
    BOOST_TEST(events() == released, boost::test_tools::per_element());
    BOOST_TEST(a.path() == second);
    events().clear();
  }
  const std::vector<event> expected = {
      {"process-release", second.string(), true},
      {"thread-release", second.string(), true}};
  BOOST_TEST(take_events() == expected, boost::test_tools::per_element());
}

// A user ProcessPolicy under the shipped thread level: the thread level is
// real (excludes other threads), the process level is the user's.
BOOST_AUTO_TEST_CASE(user_process_policy_with_shipped_thread_level) {
  dreadlocks_test::watchdog dog;
  const fs::path file = dreadlocks_test::unique_path("recorded-mixed");
  using mixed = basic_path_lock<dreadlocks::shareable_thread_lock,
                                recording_process_lock,
                                dreadlocks::reentrant_if_requested>;
  {
    mixed lock(file);
    BOOST_TEST(api_test::thread_level_held(file));
    BOOST_TEST(lock.native_handle() == recording_process_lock::handle);
    BOOST_TEST(dreadlocks::introspection::open_lock_files() == 0u);
  }
  BOOST_TEST(!api_test::thread_level_held(file));
  BOOST_TEST(events().size() == 2u);  // process acquire and release
}

// ---- ReentrancyPolicies ----

template <class Reentrancy>
using thread_only = basic_path_lock<dreadlocks::shareable_thread_lock,
                                    dreadlocks::no_process_lock, Reentrancy>;
template <class Reentrancy>
using process_only = basic_path_lock<dreadlocks::no_thread_lock,
                                     dreadlocks::default_process_lock,
                                     Reentrancy>;
template <class Reentrancy>
using both_levels = basic_path_lock<dreadlocks::shareable_thread_lock,
                                    dreadlocks::default_process_lock,
                                    Reentrancy>;

using always_reentrant_locks =
    std::tuple<thread_only<dreadlocks::always_reentrant>,
               process_only<dreadlocks::always_reentrant>,
               both_levels<dreadlocks::always_reentrant>>;
using never_reentrant_locks =
    std::tuple<thread_only<dreadlocks::never_reentrant>,
               process_only<dreadlocks::never_reentrant>,
               both_levels<dreadlocks::never_reentrant>>;

BOOST_AUTO_TEST_CASE_TEMPLATE(always_reentrant_nests_without_the_option, L,
                              always_reentrant_locks) {
  dreadlocks_test::watchdog dog;
  const fs::path file = dreadlocks_test::unique_path("always");
  {
    L outer(file);  // lock_options::reentrant is false throughout
    L same_mode(file);
    L shared_inside(file, {.shared = true});
    L non_blocking(file, {.blocking = false});
    BOOST_TEST(outer.owns_lock());
    BOOST_TEST(same_mode.owns_lock());
    BOOST_TEST(shared_inside.owns_lock());
    BOOST_TEST(non_blocking.owns_lock());
    api_test::expect_held<L>(file);
  }
  {
    // Exclusive inside shared: an upgrade, granted at once for the only
    // holder.
    L outer(file, {.shared = true});
    L upgraded(file, {.blocking = false});
    BOOST_TEST(upgraded.owns_lock());
    api_test::expect_held<L>(file);
  }
  api_test::expect_free<L>(file);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(never_reentrant_refuses_even_when_asked, L,
                              never_reentrant_locks) {
  const fs::path file = dreadlocks_test::unique_path("never");
  for (const bool held_shared : {false, true}) {
    for (const bool ask_shared : {false, true}) {
      L outer(file, {.shared = held_shared, .reentrant = true});
      BOOST_CHECK_THROW(
          L(file, {.shared = ask_shared, .reentrant = true}),
          dreadlocks::recursive_deadlock_error);
      BOOST_CHECK_THROW(L(file, {.shared = ask_shared,
                                 .blocking = false,
                                 .reentrant = true}),
                        dreadlocks::recursive_deadlock_error);
      BOOST_TEST(outer.owns_lock());
    }
  }
  // Different keys are not repeats.
  L a(dreadlocks_test::unique_path("never-a"));
  L b(dreadlocks_test::unique_path("never-b"));
  BOOST_TEST(a.owns_lock());
  BOOST_TEST(b.owns_lock());
}

BOOST_AUTO_TEST_CASE(reentrant_if_requested_reads_the_option) {
  BOOST_TEST(dreadlocks::reentrant_if_requested::allows_reentry(
      lock_options{false, true, true}));
  BOOST_TEST(!dreadlocks::reentrant_if_requested::allows_reentry(
      lock_options{}));
  BOOST_TEST(dreadlocks::always_reentrant::allows_reentry(lock_options{}));
  BOOST_TEST(!dreadlocks::never_reentrant::allows_reentry(
      lock_options{false, true, true}));
  const fs::path file = dreadlocks_test::unique_path("if-requested");
  dreadlocks::path_lock outer(file);
  BOOST_CHECK_THROW(dreadlocks::path_lock again(file),
                    dreadlocks::recursive_deadlock_error);
  dreadlocks::path_lock inner(file, {.reentrant = true});
  BOOST_TEST(inner.owns_lock());
}

// fcntl_process_lock works on its own and shares the registry (one
// descriptor per file) with the default policy.
BOOST_AUTO_TEST_CASE(fcntl_process_lock_shares_the_registry) {
  using classic = basic_path_lock<dreadlocks::shareable_thread_lock,
                                  dreadlocks::fcntl_process_lock,
                                  dreadlocks::reentrant_if_requested>;
  const fs::path file = dreadlocks_test::unique_path("classic");
  {
    classic lock(file);
    BOOST_TEST(lock.native_handle() >= 0);
    BOOST_TEST(dreadlocks::introspection::open_lock_files() == 1u);
    dreadlocks::process_level_path_lock other(file, {.reentrant = true});
    BOOST_TEST(other.native_handle() == lock.native_handle());
    BOOST_TEST(dreadlocks::introspection::open_lock_files() == 1u);
  }
  BOOST_TEST(dreadlocks::introspection::open_lock_files() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
