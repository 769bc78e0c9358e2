// tools/dreadlock/main_windows.cpp
//
// dreadlock.exe: main() on Windows (main.cpp is the POSIX one). Reads the
// command line as UTF-16 and hands it to the common parser as UTF-8, so
// that non-ASCII paths and arguments survive; then prints help or the
// version, or takes the lock and runs the command under it
// (run_command_windows.cpp). --holders reads /proc on Linux and is refused
// here. docs/dreadlock.md, "On Windows", lists what differs.

#include <windows.h>
// After windows.h, which it needs.
#include <shellapi.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "tools/dreadlock/acquire_windows.hpp"
#include "tools/dreadlock/exit_codes.hpp"
#include "tools/dreadlock/help.hpp"
#include "tools/dreadlock/options.hpp"
#include "tools/dreadlock/run_command.hpp"

namespace {

using namespace dreadlock_cli;

// What differs on Windows, after the common help text.
constexpr const char* kWindowsNotes = R"(
On Windows: the lock is a LockFileEx lock, which other programs see as a
mandatory lock on the file's bytes; -c runs STRING with %ComSpec% /c; -o
changes nothing (the lock always ends when dreadlock does, after COMMAND);
--holders is not available; no signals are passed on (Ctrl+C reaches
COMMAND directly).
)";

// The arguments after argv[0], as UTF-8.
std::vector<std::string> utf8_arguments() {
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

int run() {
  options parsed;
  try {
    parsed = parse_options(utf8_arguments());
  } catch (const usage_error& error) {
    std::fprintf(stderr, "dreadlock: %s (try 'dreadlock --help')\n",
                 error.what());
    return usage_exit;
  }
  switch (parsed.what) {
    case action::help:
      std::fputs(std::string(help_text()).c_str(), stdout);
      std::fputs(kWindowsNotes, stdout);
      return 0;
    case action::version:
      std::printf("dreadlock (dreadlocks) %.*s\n",
                  static_cast<int>(version.size()), version.data());
      return 0;
    case action::holders:
      std::fprintf(stderr, "dreadlock: --holders is not available on Windows\n");
      return usage_exit;
    case action::run:
      break;
  }
  acquisition acquired = acquire(parsed);
  if (!acquired.lock) return acquired.exit_code;
  const int code = run_command(parsed, -1);
  acquired.lock->unlock();
  return code;
}

}  // namespace

int main() {
  try {
    const int code = run();
    std::fflush(nullptr);
    return code;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "dreadlock: %s\n", error.what());
    return os_error_exit;
  }
}
