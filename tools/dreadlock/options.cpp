// tools/dreadlock/options.cpp

#include "tools/dreadlock/options.hpp"

#include <charconv>
#include <cmath>
#include <cstddef>
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
    if (i == args_.size()) throw usage_error("missing PATH");
    result_.path = args_[i++];
    parse_command(i);
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

  void parse_command(std::size_t i) {
    const std::size_t left = args_.size() - i;
    if (result_.what == action::holders) {
      if (left != 0) {
        throw usage_error("--holders takes only PATH, not a command ('" +
                          args_[i] + "')");
      }
      return;
    }
    if (left == 0) throw usage_error("missing command after PATH");
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

  const std::vector<std::string>& args_;
  options result_;
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
