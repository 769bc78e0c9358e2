// tools/dreadlock/holders_command.cpp

#include "tools/dreadlock/holders_command.hpp"

#include <cerrno>
#include <cstdio>
#include <system_error>

#include "tools/dreadlock/exit_codes.hpp"

namespace dreadlock_cli {

namespace {

std::string mode_of(const holder& row) {
  if (row.state == holder_state::open) return "-";
  if (!row.exclusive) return "?";
  return *row.exclusive ? "exclusive" : "shared";
}

std::string descriptors_of(const holder& row) {
  std::string text;
  for (int fd : row.descriptors) {
    if (!text.empty()) text += ',';
    text += std::to_string(fd);
  }
  return text.empty() ? "-" : text;
}

std::string line(const std::string& pid, const std::string& state,
                 const std::string& mode, const std::string& kind,
                 const std::string& fds, const std::string& command) {
  char text[128];
  std::snprintf(text, sizeof text, "%-7s %-6s %-10s %-6s %-5s ", pid.c_str(),
                state.c_str(), mode.c_str(), kind.c_str(), fds.c_str());
  return text + command + "\n";
}

}  // namespace

std::string format_holders(const holders_report& report) {
  if (report.holders.empty()) return "";
  std::string text = line("PID", "STATE", "MODE", "KIND", "FD", "COMMAND");
  for (const auto& row : report.holders) {
    text +=
        line(row.pid > 0 ? std::to_string(row.pid) : "?", to_string(row.state),
             mode_of(row), row.family ? to_string(*row.family) : "-",
             descriptors_of(row), row.command);
  }
  return text;
}

int run_holders(const options& options) {
  holders_report report;
  try {
    report = find_holders(options.path);
  } catch (const std::system_error& error) {
    std::fprintf(stderr, "dreadlock: --holders \"%s\": %s\n",
                 options.path.c_str(), error.what());
    return error.code().value() == ENOSYS
               ? os_error_exit
               : exit_code_for_lock_error(error.code());
  }
  std::fputs(format_holders(report).c_str(), stdout);
  const bool refused =
      options.shared ? report.refuses_shared : report.refuses_exclusive;
  return refused ? options.conflict_exit_code : 0;
}

}  // namespace dreadlock_cli
