// tools/dreadlock/lock_wait_probe.cpp

#include "tools/dreadlock/lock_wait_probe.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <string>
#include <system_error>

namespace dreadlock_cli {

namespace {

bool is_fcntl(long number) {
#if defined(SYS_fcntl64)
  if (number == SYS_fcntl64) return true;
#endif
#if defined(SYS_fcntl)
  if (number == SYS_fcntl) return true;
#endif
  return false;
}

bool is_flock(long number) {
#if defined(SYS_flock)
  return number == SYS_flock;
#else
  (void)number;
  return false;
#endif
}

bool is_blocking_lock_command(unsigned long long command, bool& ofd) {
  ofd = false;
#if defined(F_OFD_SETLKW)
  if (command == F_OFD_SETLKW) {
    ofd = true;
    return true;
  }
#endif
#if defined(F_SETLKW64)
  if (command == static_cast<unsigned long long>(F_SETLKW64)) return true;
#endif
  return command == F_SETLKW;
}

// Reads the l_type of the struct flock at `address` in `pid`'s memory.
std::optional<bool> read_exclusive(long pid, unsigned long long address) {
  const std::string path = "/proc/" + std::to_string(pid) + "/mem";
  const int mem = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0) return std::nullopt;
  short type = 0;  // l_type is the first member on Linux, a short
  const ssize_t got =
      ::pread(mem, &type, sizeof type, static_cast<off_t>(address));
  ::close(mem);
  if (got != static_cast<ssize_t>(sizeof type)) return std::nullopt;
  if (type == F_WRLCK) return true;
  if (type == F_RDLCK) return false;
  return std::nullopt;
}

std::optional<std::string> read_line(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "re");
  if (file == nullptr) return std::nullopt;
  char buffer[512];
  const bool got = std::fgets(buffer, sizeof buffer, file) != nullptr;
  std::fclose(file);
  if (!got) return std::nullopt;
  return std::string(buffer);
}

}  // namespace

std::optional<syscall_line> parse_syscall_line(std::string_view line) {
  syscall_line result;
  std::size_t at = 0;
  const auto next_word = [&]() -> std::string_view {
    const std::size_t begin = line.find_first_not_of(" \t\n", at);
    if (begin == std::string_view::npos) return {};
    std::size_t end = line.find_first_of(" \t\n", begin);
    if (end == std::string_view::npos) end = line.size();
    at = end;
    return line.substr(begin, end - begin);
  };
  const std::string_view number = next_word();
  const auto [stop, error] = std::from_chars(
      number.data(), number.data() + number.size(), result.number);
  if (number.empty() || error != std::errc() ||
      stop != number.data() + number.size() || result.number < 0) {
    return std::nullopt;
  }
  for (auto& arg : result.args) {
    std::string_view word = next_word();
    if (word.size() < 3 || word.substr(0, 2) != "0x") return std::nullopt;
    word.remove_prefix(2);
    const auto [end, failed] =
        std::from_chars(word.data(), word.data() + word.size(), arg, 16);
    if (failed != std::errc() || end != word.data() + word.size()) {
      return std::nullopt;
    }
  }
  return result;
}

lock_wait probe_lock_wait(long pid, int fd) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(tasks.c_str());
  lock_wait result;
  if (dir == nullptr) {
    result.what = lock_wait::state::unknown;
    return result;
  }
  bool readable = false;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const auto text = read_line(tasks + "/" + entry->d_name + "/syscall");
    if (!text) continue;
    readable = true;
    const auto call = parse_syscall_line(*text);
    if (!call || call->args[0] != static_cast<unsigned long long>(fd)) {
      continue;
    }
    bool ofd = false;
    if (is_fcntl(call->number) &&
        is_blocking_lock_command(call->args[1], ofd)) {
      result.what = lock_wait::state::waiting;
      result.family = ofd ? lock_family::ofd : lock_family::posix;
      result.exclusive = read_exclusive(pid, call->args[2]);
      break;
    }
    if (is_flock(call->number) && (call->args[1] & LOCK_NB) == 0 &&
        (call->args[1] & (LOCK_SH | LOCK_EX)) != 0) {
      result.what = lock_wait::state::waiting;
      result.family = lock_family::flock;
      result.exclusive = (call->args[1] & LOCK_EX) != 0;
      break;
    }
  }
  ::closedir(dir);
  if (result.what == lock_wait::state::none && !readable) {
    result.what = lock_wait::state::unknown;
  }
  return result;
}

}  // namespace dreadlock_cli
