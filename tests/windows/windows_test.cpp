// tests/windows/windows_test.cpp
//
// dreadlocks on Windows (LockFileEx), built with mingw-w64 and run under
// wine by tools/windows-test. Threads of one process, and real child
// processes: this binary started again with CreateProcessW in a child mode
// (`child <action> ...`, see run_child()), synchronised through named
// events, every wait bounded. Boost.Test is header-only here (no compiled
// Boost library exists for mingw).

#define BOOST_TEST_NO_MAIN
#define BOOST_TEST_ALTERNATIVE_INIT_API
#include <boost/mpl/list.hpp>
#include <boost/test/included/unit_test.hpp>

#include <shellapi.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "dreadlocks/introspection.hpp"
#include "tests/windows/windows_support.hpp"

namespace {

using namespace dreadlocks_windows_test;
using namespace std::chrono_literals;

// The exit codes of the child modes.
constexpr int kGranted = 0;
constexpr int kError = 1;
constexpr int kTimedOut = 2;
constexpr int kWouldBlock = 3;

dreadlocks::lock_options mode(bool shared, bool blocking = true) {
  dreadlocks::lock_options options;
  options.shared = shared;
  options.blocking = blocking;
  return options;
}

// Reads the decimal counter the file holds, through `handle` (0 when
// empty).
long read_counter(void* handle) {
  LARGE_INTEGER start{};
  if (!::SetFilePointerEx(handle, start, nullptr, FILE_BEGIN)) {
    throw_last_error("SetFilePointerEx");
  }
  char text[32] = {};
  DWORD got = 0;
  if (!::ReadFile(handle, text, sizeof text - 1, &got, nullptr)) {
    throw_last_error("ReadFile");
  }
  return got == 0 ? 0 : std::stol(std::string(text, got));
}

// Replaces the file's content with `value`, through `handle`.
void write_counter(void* handle, long value) {
  LARGE_INTEGER start{};
  if (!::SetFilePointerEx(handle, start, nullptr, FILE_BEGIN)) {
    throw_last_error("SetFilePointerEx");
  }
  const std::string text = std::to_string(value);
  DWORD put = 0;
  if (!::WriteFile(handle, text.data(), static_cast<DWORD>(text.size()), &put,
                   nullptr) ||
      put != text.size() || !::SetEndOfFile(handle)) {
    throw_last_error("WriteFile");
  }
}

// The child modes: `child <action> <path> <arguments...>`; returns the
// exit code.
//   hold <path> <shared|exclusive> <ready> <release>
//       locks (waiting), sets event <ready>, waits for event <release>.
//   hold-until-killed <path> <shared|exclusive> <ready>
//       locks, sets <ready>, waits to be terminated.
//   try <path> <shared|exclusive>
//       asks without waiting: kGranted or kWouldBlock.
//   wait <path> <shared|exclusive> <timeout ms, -1 for none> <ready>
//       sets <ready>, then waits for the lock: kGranted or kWouldBlock.
//   increment <path> <times> <start>
//       waits for <start>, then <times> times: locks exclusively, adds one
//       to the counter in the lock file through native_handle().
//   bump <path>
//       adds one to the counter in the file <path>, locking nothing (the
//       command dreadlock.exe runs in the race below).
//   exit-with <path> <code>
//       exits with <code> (a command for dreadlock.exe).
//   dreadlock-loop <path> <dreadlock.exe> <counter> <times> <start>
//       waits for <start>, then <times> times runs `dreadlock.exe <path>
//       <this binary> child bump <counter>`, each in turn.
int run_child(const std::vector<std::wstring>& args) {
  const std::wstring& action = args.at(0);
  const fs::path path = args.at(1);
  try {
    if (action == L"bump") {
      const HANDLE file = ::CreateFileW(
          path.c_str(), GENERIC_READ | GENERIC_WRITE,
          FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
          OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
      if (file == INVALID_HANDLE_VALUE) throw_last_error("CreateFileW");
      const long value = read_counter(file);
      ::SwitchToThread();  // widens the window a lost update needs
      write_counter(file, value + 1);
      ::CloseHandle(file);
      return kGranted;
    }
    if (action == L"exit-with") return std::stoi(args.at(2));
    if (action == L"dreadlock-loop") {
      const long times = std::stol(args.at(4));
      event start(args.at(5));
      if (!start.wait()) return kTimedOut;
      for (long i = 0; i < times; ++i) {
        const int code = child(args.at(2), {path.wstring(), self_path(),
                                            L"child", L"bump", args.at(3)})
                             .exit_code();
        if (code != 0) return code;
      }
      return kGranted;
    }
    if (action == L"hold" || action == L"hold-until-killed") {
      const bool shared = args.at(2) == L"shared";
      event ready(args.at(3));
      dreadlocks::path_lock held(path, mode(shared));
      ready.set();
      if (action == L"hold") {
        event release(args.at(4));
        return release.wait() ? kGranted : kTimedOut;
      }
      event never(unique_name(L"never"));
      never.wait(60000);
      return kTimedOut;
    }
    if (action == L"try") {
      const bool shared = args.at(2) == L"shared";
      try {
        dreadlocks::path_lock held(path, mode(shared, false));
        return kGranted;
      } catch (const dreadlocks::acquiring_lock_would_block_error&) {
        return kWouldBlock;
      }
    }
    if (action == L"wait") {
      dreadlocks::lock_options options = mode(args.at(2) == L"shared");
      const long timeout_ms = std::stol(args.at(3));
      if (timeout_ms >= 0) options.timeout = std::chrono::milliseconds(timeout_ms);
      event ready(args.at(4));
      ready.set();
      try {
        dreadlocks::path_lock held(path, options);
        return kGranted;
      } catch (const dreadlocks::acquiring_lock_would_block_error&) {
        return kWouldBlock;
      }
    }
    if (action == L"increment") {
      const long times = std::stol(args.at(2));
      event start(args.at(3));
      if (!start.wait()) return kTimedOut;
      for (long i = 0; i < times; ++i) {
        dreadlocks::path_lock held(path);
        write_counter(held.native_handle(),
                      read_counter(held.native_handle()) + 1);
      }
      return kGranted;
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "child: %s\n", error.what());
    return kError;
  }
  std::fprintf(stderr, "child: unknown action\n");
  return kError;
}

// Starts this binary in a child mode.
std::unique_ptr<child> start_child(std::vector<std::wstring> args) {
  args.insert(args.begin(), L"child");
  return std::make_unique<child>(self_path(), args);
}

// Runs a child that asks for `path` without waiting; returns its exit code.
int child_try(const fs::path& path, bool shared) {
  return start_child({L"try", path.wstring(), shared ? L"shared" : L"exclusive"})
      ->exit_code();
}

// Starts `count` children in the mode `args` names, with a start event as
// their last argument, lets them all go at once, and returns how many
// ended with kGranted within the bound.
int racers_ended_well(int count, std::vector<std::wstring> args) {
  const std::wstring start_name = unique_name(L"start");
  event start(start_name);
  args.push_back(start_name);
  std::vector<std::unique_ptr<child>> racers;
  for (int i = 0; i < count; ++i) racers.push_back(start_child(args));
  start.set();
  int ended_well = 0;
  for (auto& each : racers) ended_well += each->exit_code(60000) == kGranted;
  return ended_well;
}

// A child holding `path` until the object is destroyed.
class child_holder {
 public:
  child_holder(const fs::path& path, bool shared)
      : ready_name_(unique_name(L"ready")),
        release_name_(unique_name(L"release")),
        ready_(ready_name_),
        release_(release_name_),
        child_(start_child({L"hold", path.wstring(),
                            shared ? L"shared" : L"exclusive", ready_name_,
                            release_name_})) {
    BOOST_REQUIRE_MESSAGE(ready_.wait(), "the holder child took the lock");
  }
  // Lets the child release and checks that it ended well.
  ~child_holder() { release(); }
  void release() {
    if (released_) return;
    released_ = true;
    release_.set();
    BOOST_TEST(child_->exit_code() == kGranted);
  }

 private:
  std::wstring ready_name_, release_name_;
  event ready_, release_;
  std::unique_ptr<child> child_;
  bool released_ = false;
};

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

// Runs `work` on another thread; returns what it threw, or nullptr.
std::exception_ptr on_thread(const std::function<void()>& work) {
  std::exception_ptr thrown;
  std::thread([&] {
    try {
      work();
    } catch (...) {
      thrown = std::current_exception();
    }
  }).join();
  return thrown;
}

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

// --------------------------------------------------------------- processes

BOOST_AUTO_TEST_CASE(shared_holders_coexist) {
  watchdog dog("shared_holders_coexist");
  temp_dir dir;
  const fs::path path = dir.path() / "shared.lock";
  child_holder other(path, true);
  dreadlocks::process_level_path_lock mine(path, mode(true, false));
  BOOST_TEST(mine.owns_lock());
  BOOST_TEST(child_try(path, true) == kGranted);
}

BOOST_AUTO_TEST_CASE(shared_and_exclusive_refused_without_waiting) {
  watchdog dog("shared_and_exclusive_refused_without_waiting");
  temp_dir dir;
  const fs::path path = dir.path() / "refused.lock";
  {
    child_holder other(path, true);
    BOOST_CHECK_THROW(
        dreadlocks::process_level_path_lock(path, mode(false, false)),
        dreadlocks::acquiring_process_level_lock_would_block_error);
  }
  {
    child_holder other(path, false);
    BOOST_CHECK_THROW(
        dreadlocks::process_level_path_lock(path, mode(true, false)),
        dreadlocks::acquiring_process_level_lock_would_block_error);
  }
  // Released by the children: granted now.
  dreadlocks::process_level_path_lock mine(path, mode(false, false));
  BOOST_TEST(mine.owns_lock());
}

BOOST_AUTO_TEST_CASE(blocking_waiter_granted_on_release) {
  watchdog dog("blocking_waiter_granted_on_release");
  temp_dir dir;
  const fs::path path = dir.path() / "waiter.lock";
  auto mine = std::make_unique<dreadlocks::path_lock>(path);
  const std::wstring ready_name = unique_name(L"ready");
  event ready(ready_name);
  auto waiter = start_child(
      {L"wait", path.wstring(), L"exclusive", L"-1", ready_name});
  BOOST_REQUIRE(ready.wait());
  BOOST_TEST(waiter->running(), "not granted while this process holds it");
  mine.reset();
  BOOST_TEST(waiter->exit_code() == kGranted);
}

BOOST_AUTO_TEST_CASE(timed_waiters) {
  watchdog dog("timed_waiters");
  temp_dir dir;
  const fs::path path = dir.path() / "timed.lock";
  auto mine = std::make_unique<dreadlocks::path_lock>(path);
  {
    const std::wstring ready_name = unique_name(L"ready");
    event ready(ready_name);
    auto expiring =
        start_child({L"wait", path.wstring(), L"shared", L"100", ready_name});
    BOOST_TEST(expiring->exit_code() == kWouldBlock, "expired while held");
  }
  const std::wstring ready_name = unique_name(L"ready");
  event ready(ready_name);
  auto in_time =
      start_child({L"wait", path.wstring(), L"shared", L"20000", ready_name});
  BOOST_REQUIRE(ready.wait());
  mine.reset();
  BOOST_TEST(in_time->exit_code() == kGranted, "granted before its deadline");
}

BOOST_AUTO_TEST_CASE(no_lost_update_across_processes) {
  watchdog dog("no_lost_update_across_processes", 60s);
  temp_dir dir;
  const fs::path path = dir.path() / "counter.lock";
  constexpr int kChildren = 4;
  constexpr int kTimes = 50;
  BOOST_TEST(racers_ended_well(
                 kChildren, {L"increment", path.wstring(),
                             std::to_wstring(kTimes)}) == kChildren);
  dreadlocks::path_lock mine(path, mode(true));
  BOOST_TEST(read_counter(mine.native_handle()) == kChildren * kTimes);
}

BOOST_AUTO_TEST_CASE(terminated_childs_lock_released) {
  watchdog dog("terminated_childs_lock_released");
  temp_dir dir;
  const fs::path path = dir.path() / "killed.lock";
  const std::wstring ready_name = unique_name(L"ready");
  event ready(ready_name);
  auto holder = start_child(
      {L"hold-until-killed", path.wstring(), L"exclusive", ready_name});
  BOOST_REQUIRE(ready.wait());
  BOOST_CHECK_THROW(dreadlocks::path_lock(path, mode(true, false)),
                    dreadlocks::acquiring_process_level_lock_would_block_error);
  holder->kill();
  // Windows releases a dead process's locks soon, not at once: wait
  // (bounded) rather than ask once.
  dreadlocks::lock_options options;
  options.timeout = 10s;
  dreadlocks::path_lock mine(path, options);
  BOOST_TEST(mine.owns_lock());
}

BOOST_AUTO_TEST_CASE(non_ascii_paths) {
  watchdog dog("non_ascii_paths");
  temp_dir dir;
  const fs::path path = dir.path() / L"\u00fcber-\u9396-\u2713.lock";
  child_holder other(path, false);
  BOOST_TEST(fs::exists(path));
  BOOST_TEST(child_try(path, true) == kWouldBlock);
  try {
    dreadlocks::path_lock mine(path, mode(true, false));
    BOOST_FAIL("granted beside an exclusive holder");
  } catch (const dreadlocks::acquiring_process_level_lock_would_block_error&
               error) {
    BOOST_TEST(std::string(error.what()).find("\xc3\xbc" "ber") !=
               std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(downgrade_keeps_the_file_locked_and_upgrade_excludes) {
  watchdog dog("downgrade_and_upgrade");
  temp_dir dir;
  const fs::path path = dir.path() / "modes.lock";
  dreadlocks::lock_options nested;
  nested.reentrant = true;
  nested.shared = true;
  auto exclusive = std::make_unique<dreadlocks::path_lock>(path);
  dreadlocks::path_lock shared(path, nested);
  BOOST_TEST(child_try(path, true) == kWouldBlock);
  exclusive.reset();  // downgrade to shared
  BOOST_TEST(child_try(path, true) == kGranted);
  BOOST_TEST(child_try(path, false) == kWouldBlock);
  nested.shared = false;
  dreadlocks::path_lock upgraded(path, nested);  // upgrade to exclusive
  BOOST_TEST(child_try(path, true) == kWouldBlock);
}

// A waiting thread and a thread asking without waiting, on one file at the
// process level: LockFileEx adds a lock rather than setting the handle's
// mode, so if both reached the OS after the other process released, the
// handle would hold two shared locks, and an exclusive one could no more
// be had through it (os_lock_transitions.hpp: every wait polls under the
// mutex on Windows). Afterwards another process must get the file
// exclusively.
BOOST_AUTO_TEST_CASE(a_waiter_and_a_trier_leave_no_lock_behind) {
  watchdog dog("a_waiter_and_a_trier_leave_no_lock_behind");
  temp_dir dir;
  const fs::path path = dir.path() / "stack.lock";
  for (int round = 0; round < 5; ++round) {
    auto other = std::make_unique<child_holder>(path, false);
    std::promise<void> asking;
    auto waiter = std::async(std::launch::async, [&] {
      asking.set_value();
      dreadlocks::process_level_path_lock held(path, mode(true));
      return held.owns_lock();
    });
    asking.get_future().wait();
    BOOST_TEST((waiter.wait_for(0s) == std::future_status::timeout));
    other.reset();  // released: the waiter's next poll gets it
    bool tried = false;
    for (int attempt = 0; attempt < 100000 && !tried; ++attempt) {
      try {
        dreadlocks::process_level_path_lock mine(path, mode(true, false));
        tried = true;
        BOOST_REQUIRE((waiter.wait_for(20s) == std::future_status::ready));
        // The waiter has released; this process alone holds the file,
        // once: another of its threads can raise the lock to exclusive.
        BOOST_TEST(!on_thread([&] {
          dreadlocks::process_level_path_lock up(path, mode(false, false));
        }));
      } catch (const dreadlocks::acquiring_lock_would_block_error&) {
      }
    }
    BOOST_TEST(tried);
    BOOST_TEST(waiter.get());
    BOOST_TEST(child_try(path, false) == kGranted, "round " << round);
  }
}

BOOST_AUTO_TEST_CASE(reading_and_writing_through_native_handle) {
  watchdog dog("reading_and_writing_through_native_handle");
  temp_dir dir;
  const fs::path path = dir.path() / "data.lock";
  {
    dreadlocks::path_lock mine(path);
    write_counter(mine.native_handle(), 41);
    BOOST_TEST(read_counter(mine.native_handle()) == 41);
    // A second handle of the file, opened and closed while it is held: on
    // Windows its reads of the range are refused (mandatory locking; wine
    // does not enforce it, docs/primitives.md), and closing it releases
    // nothing, since the lock belongs to the registry's handle.
    const HANDLE other = ::CreateFileW(
        path.c_str(), GENERIC_READ,
        FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
        OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    BOOST_REQUIRE(other != INVALID_HANDLE_VALUE);
    ::CloseHandle(other);
    BOOST_TEST(child_try(path, true) == kWouldBlock);
  }
  dreadlocks::path_lock mine(path, mode(true));
  BOOST_TEST(read_counter(mine.native_handle()) == 41);
}

// ---------------------------------------------------------- dreadlock.exe

// The dreadlock.exe under test: tools/windows-test names it in
// DREADLOCKS_DREADLOCK_EXE.
std::wstring dreadlock_exe() {
  const wchar_t* named = ::_wgetenv(L"DREADLOCKS_DREADLOCK_EXE");
  BOOST_REQUIRE_MESSAGE(named != nullptr && *named != L'\0',
                        "DREADLOCKS_DREADLOCK_EXE names dreadlock.exe");
  return named;
}

// Runs dreadlock.exe with `arguments`; returns its exit code.
int run_dreadlock(const std::vector<std::wstring>& arguments) {
  return child(dreadlock_exe(), arguments).exit_code();
}

BOOST_AUTO_TEST_CASE(dreadlock_races_itself) {
  watchdog dog("dreadlock_races_itself", 90s);
  temp_dir dir;
  const fs::path lock = dir.path() / L"race-\u00e9.lock";
  const fs::path counter = dir.path() / "counter.txt";
  constexpr int kLoops = 4;
  constexpr int kTimes = 8;
  BOOST_TEST(racers_ended_well(kLoops, {L"dreadlock-loop", lock.wstring(),
                                        dreadlock_exe(), counter.wstring(),
                                        std::to_wstring(kTimes)}) == kLoops);
  const HANDLE file = ::CreateFileW(counter.c_str(), GENERIC_READ,
                                    FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                                    OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL,
                                    nullptr);
  BOOST_REQUIRE(file != INVALID_HANDLE_VALUE);
  BOOST_TEST(read_counter(file) == kLoops * kTimes);
  ::CloseHandle(file);
}

BOOST_AUTO_TEST_CASE(dreadlock_conflicts_and_statuses) {
  watchdog dog("dreadlock_conflicts_and_statuses");
  temp_dir dir;
  const fs::path lock = dir.path() / "cli.lock";
  const std::wstring self = self_path();
  auto exits_with = [&](std::vector<std::wstring> options,
                        const wchar_t* code) {
    options.insert(options.end(),
                   {lock.wstring(), self, L"child", L"exit-with",
                    lock.wstring(), code});
    return run_dreadlock(options);
  };
  BOOST_TEST(exits_with({}, L"5") == 5, "the command's status");
  {
    dreadlocks::path_lock mine(lock);
    BOOST_TEST(exits_with({L"-n"}, L"0") == 1, "conflict: -n gives up");
    BOOST_TEST(exits_with({L"-w", L"0.1"}, L"0") == 1, "-w expires");
    BOOST_TEST(exits_with({L"-n", L"-E", L"9"}, L"0") == 9, "-E");
    BOOST_TEST(exits_with({L"-s", L"-n"}, L"0") == 1, "shared refused");
  }
  {
    dreadlocks::path_lock mine(lock, mode(true));
    BOOST_TEST(exits_with({L"-s", L"-n"}, L"3") == 3, "shared beside shared");
  }
  BOOST_TEST(run_dreadlock({(dir.path() / "no-dir" / "x.lock").wstring(), self,
                            L"child", L"exit-with", L"x", L"0"}) == 66);
  BOOST_TEST(run_dreadlock({L"--holders", lock.wstring()}) == 64);
  BOOST_TEST(run_dreadlock({L"-c"}) == 64);
}

}  // namespace

bool init_unit_test() { return true; }

int main(int argc, char* argv[]) {
  int wide_count = 0;
  wchar_t** wide = ::CommandLineToArgvW(::GetCommandLineW(), &wide_count);
  if (wide != nullptr && wide_count >= 3 && std::wstring(wide[1]) == L"child") {
    const std::vector<std::wstring> args(wide + 2, wide + wide_count);
    ::LocalFree(wide);
    return run_child(args);
  }
  ::LocalFree(wide);
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
