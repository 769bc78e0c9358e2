// tests/windows/child_modes.hpp
//
// What the Windows test files share to reach other processes: the test
// binary started again with CreateProcessW in a child mode (`child <action>
// ...`, run_child() in main.cpp lists them), the exit codes those modes
// end with, a child that holds a lock until released, and the counter
// file that racing children add to.

#ifndef DREADLOCKS_TESTS_WINDOWS_CHILD_MODES_HPP_
#define DREADLOCKS_TESTS_WINDOWS_CHILD_MODES_HPP_

#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/windows/windows_support.hpp"

namespace dreadlocks_windows_test {

// The exit codes of the child modes.
inline constexpr int kGranted = 0;
inline constexpr int kError = 1;
inline constexpr int kTimedOut = 2;
inline constexpr int kWouldBlock = 3;

// Returns lock_options asking for `shared` or exclusive, waiting or not.
inline dreadlocks::lock_options mode(bool shared, bool blocking = true) {
  dreadlocks::lock_options options;
  options.shared = shared;
  options.blocking = blocking;
  return options;
}

// Reads the decimal counter the file holds, through `handle` (0 when
// empty).
inline long read_counter(void* handle) {
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
inline void write_counter(void* handle, long value) {
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

// Starts this binary in a child mode.
inline std::unique_ptr<child> start_child(std::vector<std::wstring> args) {
  args.insert(args.begin(), L"child");
  return std::make_unique<child>(self_path(), args);
}

// Starts this binary in a child mode whose last argument is a ready event
// (added here), and waits (bounded) until the child sets it.
inline std::unique_ptr<child> start_ready_child(std::vector<std::wstring> args) {
  const std::wstring ready_name = unique_name(L"ready");
  event ready(ready_name);
  args.push_back(ready_name);
  auto started = start_child(std::move(args));
  BOOST_REQUIRE_MESSAGE(ready.wait(), "the child got ready");
  return started;
}

// Runs a child that asks for `path` without waiting; returns its exit code.
inline int child_try(const fs::path& path, bool shared) {
  return start_child({L"try", path.wstring(), shared ? L"shared" : L"exclusive"})
      ->exit_code();
}

// Starts `count` children in the mode `args` names, with a start event as
// their last argument, lets them all go at once, and returns how many
// ended with kGranted within the bound.
inline int racers_ended_well(int count, std::vector<std::wstring> args) {
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

// child_holder
//
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
  ~child_holder() { release(); }
  // Lets the child release (once) and checks that it ended well.
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

}  // namespace dreadlocks_windows_test

#endif  // DREADLOCKS_TESTS_WINDOWS_CHILD_MODES_HPP_
