// tools/dreadlock/options.cpp

#include "tools/dreadlock/options.hpp"

#include <charconv>
#include <climits>
#include <cmath>
#include <cstddef>
#include <limits>
#include <system_error>

namespace dreadlock_cli {

namespace {

enum class option_id {
  shared,
  exclusive,
  nonblock,
  timeout,
  conflict_exit_code,
  close,
  command,
  verbose,
  unlock,
  no_fork,
  fcntl,
  start,
  length,
  fd,
  holders,
  help,
  version,
};

struct option_spec {
  std::string_view long_name;
  char short_name;  // 0: long only
  option_id id;
  bool takes_value;
};

// flock(1)'s names and aliases (-e, --nonblocking, --wait), and ours.
constexpr option_spec option_table[] = {
    {"shared", 's', option_id::shared, false},
    {"exclusive", 'x', option_id::exclusive, false},
    {"", 'e', option_id::exclusive, false},
    {"nonblock", 'n', option_id::nonblock, false},
    {"nonblocking", 0, option_id::nonblock, false},
    {"nb", 0, option_id::nonblock, false},
    {"unlock", 'u', option_id::unlock, false},
    {"no-fork", 'F', option_id::no_fork, false},
    {"fcntl", 0, option_id::fcntl, false},
    {"start", 0, option_id::start, true},
    {"length", 0, option_id::length, true},
    {"fd", 0, option_id::fd, true},
    {"timeout", 'w', option_id::timeout, true},
    {"wait", 0, option_id::timeout, true},
    {"conflict-exit-code", 'E', option_id::conflict_exit_code, true},
    {"close", 'o', option_id::close, false},
    {"command", 'c', option_id::command, false},
    {"verbose", 0, option_id::verbose, false},
    {"holders", 0, option_id::holders, false},
    {"help", 'h', option_id::help, false},
    {"version", 'V', option_id::version, false},
};

const option_spec* find_short(char name) {
  for (const auto& spec : option_table) {
    if (spec.short_name == name) return &spec;
  }
  return nullptr;
}

// An exact long name, or an unambiguous prefix (as getopt_long): prefixes
// of several names for one option ("--non") are not ambiguous.
const option_spec& find_long(std::string_view name) {
  const option_spec* found = nullptr;
  bool ambiguous = false;
  for (const auto& spec : option_table) {
    if (spec.long_name.empty() ||
        spec.long_name.substr(0, name.size()) != name) {
      continue;
    }
    if (spec.long_name == name) return spec;
    if (found != nullptr && found->id != spec.id) ambiguous = true;
    if (found == nullptr) found = &spec;
  }
  if (ambiguous)
    throw usage_error("option '--" + std::string(name) + "' is ambiguous");
  if (found == nullptr || name.empty()) {
    throw usage_error("unknown option '--" + std::string(name) + "'");
  }
  return *found;
}

int parse_exit_code(std::string_view text) {
  int value = -1;
  const auto* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end || value < 0 ||
      value > 255) {
    throw usage_error("invalid conflict exit code '" + std::string(text) +
                      "' (an integer from 0 to 255)");
  }
  return value;
}

// A decimal number from 0 to `limit`, or nullopt.
std::optional<long long> parse_count(std::string_view text, long long limit) {
  long long value = -1;
  const auto* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end || value < 0 ||
      value > limit) {
    return std::nullopt;
  }
  return value;
}

off_t parse_offset(std::string_view text, const std::string& shown) {
  const auto value =
      parse_count(text, std::numeric_limits<off_t>::max());
  if (!value) {
    throw usage_error("invalid " + shown + " value '" + std::string(text) +
                      "' (a number of bytes, 0 or more)");
  }
  return static_cast<off_t>(*value);
}

int parse_descriptor(std::string_view text) {
  const auto value = parse_count(text, std::numeric_limits<int>::max());
  if (!value) {
    throw usage_error("invalid descriptor number '" + std::string(text) + "'");
  }
  return static_cast<int>(*value);
}

class parser {
 public:
  explicit parser(const std::vector<std::string>& args) : args_(args) {}

  options parse() {
    std::size_t i = 0;
    for (; i < args_.size(); ++i) {
      const std::string& arg = args_[i];
      if (arg == "--") {
        ++i;
        break;
      }
      if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
        parse_long(arg, i);
      } else if (arg.size() > 1 && arg[0] == '-') {
        parse_short_cluster(arg, i);
      } else {
        break;  // PATH: options stop here
      }
      if (result_.what == action::help || result_.what == action::version) {
        return result_;
      }
    }
    if (result_.descriptor >= 0) {
      result_.path = std::to_string(result_.descriptor);
      parse_command(i, true);
    } else {
      if (i == args_.size()) throw usage_error("missing PATH");
      result_.path = args_[i++];
      parse_command(i, false);
    }
    check_combinations();
    return result_;
  }

 private:
  void parse_long(const std::string& arg, std::size_t& i) {
    const std::string_view body = std::string_view(arg).substr(2);
    const std::size_t equals = body.find('=');
    const option_spec& spec = find_long(body.substr(0, equals));
    const std::string shown = "--" + std::string(spec.long_name);
    std::string value;
    if (equals != std::string_view::npos) {
      if (!spec.takes_value) {
        throw usage_error("option '" + shown + "' doesn't allow an argument");
      }
      value = std::string(body.substr(equals + 1));
    } else if (spec.takes_value) {
      value = next_value(shown, i);
    }
    apply(spec, shown, value);
  }

  void parse_short_cluster(const std::string& arg, std::size_t& i) {
    for (std::size_t j = 1; j < arg.size(); ++j) {
      const option_spec* spec = find_short(arg[j]);
      const std::string shown = std::string("-") + arg[j];
      if (spec == nullptr) throw usage_error("unknown option '" + shown + "'");
      std::string value;
      if (spec->takes_value) {
        value = j + 1 < arg.size() ? arg.substr(j + 1) : next_value(shown, i);
        apply(*spec, shown, value);
        return;
      }
      apply(*spec, shown, value);
      if (result_.what == action::help || result_.what == action::version) {
        return;
      }
    }
  }

  std::string next_value(const std::string& shown, std::size_t& i) {
    if (i + 1 >= args_.size()) {
      throw usage_error("option '" + shown + "' requires an argument");
    }
    return args_[++i];
  }

  void apply(const option_spec& spec, const std::string& shown,
             const std::string& value) {
    switch (spec.id) {
      case option_id::shared:
        result_.shared = true;
        return;
      case option_id::exclusive:
        result_.shared = false;
        return;
      case option_id::nonblock:
        result_.nonblock = true;
        return;
      case option_id::timeout:
        result_.timeout = parse_seconds(value);
        return;
      case option_id::conflict_exit_code:
        result_.conflict_exit_code = parse_exit_code(value);
        return;
      case option_id::close:
        result_.close_lock_descriptor = true;
        return;
      case option_id::command:
        throw usage_error("option '" + shown +
                          "' goes after PATH: dreadlock [options] PATH -c "
                          "'command'");
      case option_id::verbose:
        result_.verbose = true;
        return;
      case option_id::unlock:
        result_.unlock = true;
        return;
      case option_id::no_fork:
        result_.no_fork = true;
        return;
      case option_id::fcntl:
        result_.fcntl_only = true;
        return;
      case option_id::start:
        result_.start = parse_offset(value, shown);
        range_given_ = true;
        return;
      case option_id::length:
        result_.length = parse_offset(value, shown);
        range_given_ = true;
        return;
      case option_id::fd:
        result_.descriptor = parse_descriptor(value);
        return;
      case option_id::holders:
        result_.what = action::holders;
        return;
      case option_id::help:
        result_.what = action::help;
        return;
      case option_id::version:
        result_.what = action::version;
        return;
    }
  }

  // After PATH (or --fd NUMBER, `after_descriptor`): the command, or none
  // for --holders and the descriptor form.
  void parse_command(std::size_t i, bool after_descriptor) {
    const std::size_t left = args_.size() - i;
    if (result_.what == action::holders && after_descriptor) {
      throw usage_error("--holders takes a PATH, not --fd");
    }
    if (result_.what == action::holders) {
      if (left != 0) {
        throw usage_error("--holders takes only PATH, not a command ('" +
                          args_[i] + "')");
      }
      return;
    }
    if (left == 0 && after_descriptor) return;  // --fd NUMBER alone
    if (left == 0) {
      // flock(1)'s third form: a lone NUMBER is an inherited descriptor.
      if (const auto fd = parse_count(result_.path, INT_MAX)) {
        result_.descriptor = static_cast<int>(*fd);
        return;
      }
      throw usage_error("missing command after PATH");
    }
    if (args_[i] == "-c" || args_[i] == "--command") {
      if (left != 2) {
        throw usage_error(args_[i] + " requires exactly one command argument");
      }
      result_.shell = true;
      result_.command = {args_[i + 1]};
      return;
    }
    result_.command.assign(args_.begin() + static_cast<std::ptrdiff_t>(i),
                           args_.end());
  }

  void check_combinations() const {
    if (result_.no_fork && result_.close_lock_descriptor) {
      throw usage_error(
          "-F/--no-fork and -o/--close cannot go together (nothing would "
          "be left to hold the lock)");
    }
    if (range_given_ && !result_.fcntl_only) {
      throw usage_error(
          "--start and --length need --fcntl (flock(2) locks whole files)");
    }
  }

  const std::vector<std::string>& args_;
  options result_;
  bool range_given_ = false;
};

}  // namespace

std::optional<std::chrono::nanoseconds> parse_seconds(std::string_view text) {
  const auto invalid = [&] {
    return usage_error("invalid timeout value '" + std::string(text) +
                       "' (seconds, e.g. 5 or 0.25)");
  };
  // Digits, '.', and an exponent only: no sign, "inf", "nan" or hex.
  if (text.empty() ||
      text.find_first_not_of("0123456789.eE+-") != std::string_view::npos ||
      text[0] == '-' || text[0] == '+') {
    throw invalid();
  }
  double seconds = 0;
  const auto* end = text.data() + text.size();
  const auto [stop, error] =
      std::from_chars(text.data(), end, seconds, std::chars_format::general);
  if (stop != end ||
      (error != std::errc() && error != std::errc::result_out_of_range)) {
    throw invalid();
  }
  if (error == std::errc::result_out_of_range) {
    // 1e-999 is no wait at all; 1e999 is for ever.
    const std::size_t exponent = text.find_first_of("eE");
    if (exponent + 1 < text.size() && text[exponent + 1] == '-') {
      return std::chrono::nanoseconds(0);
    }
    return std::nullopt;
  }
  if (seconds > 1e9) return std::nullopt;
  return std::chrono::nanoseconds(
      static_cast<std::chrono::nanoseconds::rep>(std::llround(seconds * 1e9)));
}

options parse_options(const std::vector<std::string>& args) {
  return parser(args).parse();
}

}  // namespace dreadlock_cli
