// tests/windows/cli_test.cpp
//
// dreadlock.exe (tools/dreadlock, built by tools/windows-test, which names
// it in DREADLOCKS_DREADLOCK_EXE): children that race through it, and its
// exit statuses. Part of the Windows test binary (main.cpp).

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/windows/child_modes.hpp"
#include "tests/windows/windows_support.hpp"

namespace {

using namespace dreadlocks_windows_test;
using namespace std::chrono_literals;

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
