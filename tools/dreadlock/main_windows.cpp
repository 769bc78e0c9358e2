// tools/dreadlock/main_windows.cpp
//
// dreadlock.exe: main() on Windows (main.cpp is the POSIX one). Reads the
// command line as UTF-16 and hands it to the common parser as UTF-8, so
// that non-ASCII paths and arguments survive; then, through the common
// dispatch (dispatch.cpp), prints help or the version, or takes the lock
// and runs the command under it (run_command_windows.cpp). --holders reads /proc on Linux and is refused
// here. docs/dreadlock.md, "On Windows", lists what differs.

#include <windows.h>
// After windows.h, which it needs.
#include <shellapi.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tools/dreadlock/acquire_windows.hpp"
#include "tools/dreadlock/dispatch.hpp"
#include "tools/dreadlock/exit_codes.hpp"
#include "tools/dreadlock/options.hpp"
#include "tools/dreadlock/run_command.hpp"

namespace {

using namespace dreadlock_cli;

// What differs on Windows, after the common help text.
constexpr std::string_view kWindowsNotes = R"(
On Windows: the lock is a LockFileEx lock, which other programs see as a
mandatory lock on the file's bytes; -c runs STRING with %ComSpec% /c; -o
changes nothing (the lock always ends when dreadlock does, after COMMAND);
--holders is not available; no signals are passed on (Ctrl+C reaches
COMMAND directly).
)";

// Returns the arguments after argv[0], as UTF-8, read from the UTF-16
// command line (argv is in the ANSI code page).
std::vector<std::string> utf8_arguments(int, char**) {
  int count = 0;
  wchar_t** wide = ::CommandLineToArgvW(::GetCommandLineW(), &count);
  std::vector<std::string> arguments;
  for (int i = 1; wide != nullptr && i < count; ++i) {
    const auto text = std::filesystem::path(wide[i]).u8string();
    arguments.emplace_back(text.begin(), text.end());
  }
  ::LocalFree(wide);
  return arguments;
}

// --holders reads /proc, which Windows lacks: a usage error here.
int refuse_holders(const options&) {
  std::fprintf(stderr, "dreadlock: --holders is not available on Windows\n");
  return usage_exit;
}

// Takes the lock, runs the command under it and releases when it ends.
int lock_and_run(const options& options) {
  acquisition acquired = acquire(options);
  if (!acquired.lock) return acquired.exit_code;
  const int code = run_command(options, -1);
  acquired.lock->unlock();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const int code = dispatch(
      argc, argv, {utf8_arguments, kWindowsNotes, refuse_holders, lock_and_run});
  std::fflush(nullptr);
  return code;
}
