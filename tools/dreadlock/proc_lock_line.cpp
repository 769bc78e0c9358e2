// tools/dreadlock/proc_lock_line.cpp

#include "tools/dreadlock/proc_lock_line.hpp"

#include <charconv>
#include <system_error>
#include <vector>

namespace dreadlock_cli {

namespace {

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t at = 0;
  while (at < line.size()) {
    const std::size_t begin = line.find_first_not_of(" \t", at);
    if (begin == std::string_view::npos) break;
    std::size_t end = line.find_first_of(" \t", begin);
    if (end == std::string_view::npos) end = line.size();
    words.push_back(line.substr(begin, end - begin));
    at = end;
  }
  return words;
}

template <class Number>
bool parse_number(std::string_view text, Number& value, int base = 10) {
  const auto* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value, base);
  return !text.empty() && error == std::errc() && stop == end;
}

}  // namespace

std::optional<proc_lock_line> parse_proc_lock_line(std::string_view line) {
  auto words = split_words(line);
  std::size_t i = 0;
  if (i < words.size() && words[i] == "lock:") ++i;
  // The ordinal, "1:".
  if (i >= words.size() || words[i].empty() || words[i].back() != ':') {
    return std::nullopt;
  }
  ++i;
  proc_lock_line result;
  if (i < words.size() && words[i] == "->") {
    result.waiting = true;
    ++i;
  }
  if (i >= words.size()) return std::nullopt;
  if (words[i] == "OFDLCK") {
    result.family = lock_family::ofd;
  } else if (words[i] == "POSIX") {
    result.family = lock_family::posix;
  } else if (words[i] == "FLOCK") {
    result.family = lock_family::flock;
  } else {
    return std::nullopt;  // LEASE, DELEG, ACCESS, ...
  }
  ++i;
  // "ADVISORY" or "MANDATORY" (older kernels), then the type.
  if (i < words.size() && (words[i] == "ADVISORY" || words[i] == "MANDATORY")) {
    ++i;
  }
  if (i >= words.size()) return std::nullopt;
  if (words[i] == "WRITE") {
    result.exclusive = true;
  } else if (words[i] != "READ") {
    return std::nullopt;
  }
  ++i;
  // PID MAJOR:MINOR:INODE START END
  if (i + 4 != words.size() || !parse_number(words[i], result.pid)) {
    return std::nullopt;
  }
  const std::string_view id = words[i + 1];
  const std::size_t last_colon = id.rfind(':');
  if (last_colon == std::string_view::npos || last_colon == 0 ||
      !parse_number(id.substr(last_colon + 1), result.inode)) {
    return std::nullopt;
  }
  result.device = std::string(id.substr(0, last_colon));
  result.start = std::string(words[i + 2]);
  result.end = std::string(words[i + 3]);
  return result;
}

const char* to_string(lock_family family) noexcept {
  switch (family) {
    case lock_family::ofd:
      return "ofd";
    case lock_family::posix:
      return "posix";
    case lock_family::flock:
      return "flock";
  }
  return "?";
}

}  // namespace dreadlock_cli
