// tests/windows/main.cpp
//
// The Windows test binary's entry (tools/windows-test builds it with the
// thread-level, process-level and dreadlock.exe test files and runs it
// under wine): either Boost.Test, or, started again by a test with
// CreateProcessW (child_modes.hpp), one of the child modes below, which
// synchronise with the test through named events, every wait bounded.
// Boost.Test is header-only here (no compiled Boost library exists for
// mingw): this file holds its implementation, the test files include
// <boost/test/unit_test.hpp>.

#define BOOST_TEST_NO_MAIN
#include <boost/test/included/unit_test.hpp>

#include <shellapi.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/windows/child_modes.hpp"
#include "tests/windows/windows_support.hpp"

namespace {

using namespace dreadlocks_windows_test;

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
//       command dreadlock.exe runs in cli_test.cpp's race).
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

}  // namespace

// Registers nothing by hand: the test files' cases register themselves.
boost::unit_test::test_suite* init_unit_test_suite(int, char*[]) {
  return nullptr;
}

// `child ACTION ...` runs a child mode; anything else runs the tests.
int main(int argc, char* argv[]) {
  int wide_count = 0;
  wchar_t** wide = ::CommandLineToArgvW(::GetCommandLineW(), &wide_count);
  if (wide != nullptr && wide_count >= 3 && std::wstring(wide[1]) == L"child") {
    const std::vector<std::wstring> args(wide + 2, wide + wide_count);
    ::LocalFree(wide);
    return run_child(args);
  }
  ::LocalFree(wide);
  return boost::unit_test::unit_test_main(&init_unit_test_suite, argc, argv);
}
