// tools/dreadlock/run_command_windows.cpp
//
// run_command() on Windows (run_command.hpp declares it; run_command.cpp is
// the POSIX one): CreateProcessW, wait, the command's exit code. Windows
// has no signals to pass on and no lock to hand over (a LockFileEx lock
// belongs to dreadlock's handle; a child that inherited the handle would
// not hold it), so `inherited_lock` is unused and the lock ends with
// dreadlock, after the command (docs/dreadlock.md, "On Windows").

#include "tools/dreadlock/run_command.hpp"

#include <windows.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include "tools/dreadlock/exit_codes.hpp"

namespace dreadlock_cli {

namespace {

// Returns UTF-8 `text` as UTF-16.
std::wstring widen(const std::string& text) {
  return std::filesystem::u8path(text).wstring();
}

// Appends `argument` to a command line, quoted so that the C runtime's
// parsing (CommandLineToArgvW) gives it back unchanged.
void append_quoted(std::wstring& line, const std::wstring& argument) {
  if (!line.empty()) line += L' ';
  if (!argument.empty() &&
      argument.find_first_of(L" \t\n\v\"") == std::wstring::npos) {
    line += argument;
    return;
  }
  line += L'"';
  std::size_t backslashes = 0;
  for (const wchar_t c : argument) {
    if (c == L'\\') {
      ++backslashes;
    } else {
      // Backslashes before a quote are doubled, and the quote escaped.
      if (c == L'"') line.append(backslashes + 1, L'\\');
      backslashes = 0;
    }
    line += c;
  }
  line.append(backslashes, L'\\');  // doubled before the closing quote
  line += L'"';
}

// The command line: COMMAND [ARGS...], or with -c the shell's
// (%ComSpec%, cmd.exe if unset) `/c STRING`, the string passed as typed.
std::wstring command_line(const options& options, std::wstring& program) {
  std::wstring line;
  if (options.shell) {
    wchar_t shell[MAX_PATH] = {};
    const DWORD length = ::GetEnvironmentVariableW(L"ComSpec", shell, MAX_PATH);
    program = length > 0 && length < MAX_PATH ? shell : L"cmd.exe";
    append_quoted(line, program);
    line += L" /c " + widen(options.command.front());
    return line;
  }
  for (const std::string& argument : options.command) {
    append_quoted(line, widen(argument));
  }
  return line;
}

}  // namespace

int run_command(const options& options, int /*inherited_lock*/) {
  std::wstring program;  // empty: searched for in PATH, as the shell does
  std::wstring line = command_line(options, program);
  STARTUPINFOW startup{};
  startup.cb = sizeof startup;
  PROCESS_INFORMATION child{};
  if (!::CreateProcessW(program.empty() ? nullptr : program.c_str(),
                        line.data(), nullptr, nullptr, FALSE, 0, nullptr,
                        nullptr, &startup, &child)) {
    const DWORD error = ::GetLastError();
    const std::string reason =
        std::error_code(static_cast<int>(error), std::system_category())
            .message();
    const std::string& name =
        options.shell ? std::string("the shell") : options.command.front();
    std::fprintf(stderr, "dreadlock: cannot run \"%s\": %s\n", name.c_str(),
                 reason.c_str());
    return error == ERROR_FILE_NOT_FOUND || error == ERROR_PATH_NOT_FOUND
               ? command_not_found_exit
               : cannot_execute_exit;
  }
  ::CloseHandle(child.hThread);
  // Ctrl+C reaches every process of the console: the command decides what
  // it means, and dreadlock stays to report its status and release.
  ::SetConsoleCtrlHandler(nullptr, TRUE);
  ::WaitForSingleObject(child.hProcess, INFINITE);
  DWORD code = 0;
  const BOOL known = ::GetExitCodeProcess(child.hProcess, &code);
  ::CloseHandle(child.hProcess);
  return known ? static_cast<int>(code) : os_error_exit;
}

}  // namespace dreadlock_cli
