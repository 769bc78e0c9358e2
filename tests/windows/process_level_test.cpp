// tests/windows/process_level_test.cpp
//
// dreadlocks on Windows (LockFileEx) across processes: real child
// processes of the test binary (child_modes.hpp) holding, asking for and
// waiting for the locks this process holds or asks for. Part of the
// Windows test binary (main.cpp).

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/windows/child_modes.hpp"
#include "tests/windows/windows_support.hpp"

namespace {

using namespace dreadlocks_windows_test;
using namespace std::chrono_literals;

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

// held_here
//
// A lock file in a fresh directory that this process holds exclusively
// until release(), and children that wait for it.
class held_here {
 public:
  explicit held_here(const wchar_t* name)
      : path_(dir_.path() / name),
        mine_(std::make_unique<dreadlocks::path_lock>(path_)) {}

  // Starts a child that waits for the file `shared` or exclusively, for
  // `timeout_ms` (L"-1": no timeout); returns once it is about to ask.
  std::unique_ptr<child> start_waiter(bool shared, const wchar_t* timeout_ms) {
    return start_ready_child({L"wait", path_.wstring(),
                              shared ? L"shared" : L"exclusive", timeout_ms});
  }

  // Lets the file go.
  void release() { mine_.reset(); }

 private:
  temp_dir dir_;
  fs::path path_;
  std::unique_ptr<dreadlocks::path_lock> mine_;
};

BOOST_AUTO_TEST_CASE(blocking_waiter_granted_on_release) {
  watchdog dog("blocking_waiter_granted_on_release");
  held_here held(L"waiter.lock");
  auto waiter = held.start_waiter(false, L"-1");
  BOOST_TEST(waiter->running(), "not granted while this process holds it");
  held.release();
  BOOST_TEST(waiter->exit_code() == kGranted);
}

BOOST_AUTO_TEST_CASE(timed_waiters) {
  watchdog dog("timed_waiters");
  held_here held(L"timed.lock");
  auto expiring = held.start_waiter(true, L"100");
  BOOST_TEST(expiring->exit_code() == kWouldBlock, "expired while held");
  auto in_time = held.start_waiter(true, L"20000");
  held.release();
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
  auto holder =
      start_ready_child({L"hold-until-killed", path.wstring(), L"exclusive"});
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
    // The code's text as on every platform: mingw-w64's strerror() has
    // none for EWOULDBLOCK ("Unknown error").
    const std::string what = error.what();
    const std::string code_text = ": Resource temporarily unavailable";
    BOOST_TEST(what.size() > code_text.size());
    BOOST_TEST(what.compare(what.size() - code_text.size(), code_text.size(),
                            code_text) == 0,
               what);
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

}  // namespace
