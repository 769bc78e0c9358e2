// tests/cli/options_test.cpp
//
// The command-line parser of dreadlock, as a function: flock(1)'s option
// names and aliases, values attached or separate, long-option prefixes,
// parsing stopping at PATH, -c after PATH, and the -w values.

#define BOOST_TEST_MODULE dreadlock options
#include "tools/dreadlock/options.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "tests/support/nothing_left_behind.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using dreadlock_cli::action;
using dreadlock_cli::parse_options;
using dreadlock_cli::parse_seconds;
using dreadlock_cli::usage_error;
using namespace std::chrono_literals;
using args = std::vector<std::string>;

BOOST_AUTO_TEST_CASE(defaults) {
  const auto parsed = parse_options({"/tmp/l", "make", "-j4"});
  BOOST_TEST((parsed.what == action::run));
  BOOST_TEST(!parsed.shared);
  BOOST_TEST(!parsed.nonblock);
  BOOST_TEST(!parsed.timeout.has_value());
  BOOST_TEST(parsed.conflict_exit_code == 1);
  BOOST_TEST(!parsed.close_lock_descriptor);
  BOOST_TEST(!parsed.verbose);
  BOOST_TEST(!parsed.shell);
  BOOST_TEST(parsed.path == "/tmp/l");
  BOOST_TEST(parsed.command == (args{"make", "-j4"}));
}

BOOST_AUTO_TEST_CASE(flock_options_and_aliases) {
  const auto parsed = parse_options(
      {"-s", "-n", "-o", "--verbose", "-E", "3", "-w", "1.5", "l", "cmd"});
  BOOST_TEST(parsed.shared);
  BOOST_TEST(parsed.nonblock);
  BOOST_TEST(parsed.close_lock_descriptor);
  BOOST_TEST(parsed.verbose);
  BOOST_TEST(parsed.conflict_exit_code == 3);
  BOOST_TEST((parsed.timeout == std::chrono::nanoseconds(1500ms)));
  BOOST_TEST(!parse_options({"-s", "-x", "l", "c"}).shared);
  BOOST_TEST(!parse_options({"-s", "-e", "l", "c"}).shared);
  BOOST_TEST(parse_options({"--exclusive", "--shared", "l", "c"}).shared);
  BOOST_TEST(parse_options({"--nonblocking", "l", "c"}).nonblock);
  BOOST_TEST(parse_options({"--close", "l", "c"}).close_lock_descriptor);
  BOOST_TEST((parse_options({"--wait", "2", "l", "c"}).timeout ==
              std::chrono::nanoseconds(2s)));
}

BOOST_AUTO_TEST_CASE(values_attached_clustered_and_long) {
  BOOST_TEST(parse_options({"-E7", "l", "c"}).conflict_exit_code == 7);
  BOOST_TEST(
      parse_options({"--conflict-exit-code=8", "l", "c"}).conflict_exit_code ==
      8);
  BOOST_TEST(parse_options({"--conflict-exit-code", "9", "l", "c"})
                 .conflict_exit_code == 9);
  const auto clustered = parse_options({"-snw0.25", "l", "c"});
  BOOST_TEST(clustered.shared);
  BOOST_TEST(clustered.nonblock);
  BOOST_TEST((clustered.timeout == std::chrono::nanoseconds(250ms)));
  BOOST_TEST((parse_options({"--timeout=3", "l", "c"}).timeout ==
              std::chrono::nanoseconds(3s)));
}

BOOST_AUTO_TEST_CASE(long_option_prefixes) {
  BOOST_TEST(parse_options({"--sh", "l", "c"}).shared);
  BOOST_TEST(
      parse_options({"--non", "l", "c"}).nonblock);  // two names, one option
  BOOST_TEST(parse_options({"--verb", "l", "c"}).verbose);
  BOOST_CHECK_THROW(parse_options({"--c", "l", "c"}), usage_error);
  BOOST_CHECK_THROW(parse_options({"--", "l"}), usage_error);
}

BOOST_AUTO_TEST_CASE(parsing_stops_at_path) {
  const auto parsed = parse_options({"-n", "l", "-s", "--timeout=1", "-c"});
  BOOST_TEST(!parsed.shared);
  BOOST_TEST(!parsed.timeout.has_value());
  BOOST_TEST(parsed.command == (args{"-s", "--timeout=1", "-c"}));
  const auto dashed = parse_options({"--", "-l", "-n"});
  BOOST_TEST(dashed.path == "-l");
  BOOST_TEST(dashed.command == (args{"-n"}));
  const auto dash_path = parse_options({"-", "c"});
  BOOST_TEST(dash_path.path == "-");
}

BOOST_AUTO_TEST_CASE(shell_command_after_path) {
  for (const char* option : {"-c", "--command"}) {
    const auto parsed = parse_options({"l", option, "echo a b"});
    BOOST_TEST(parsed.shell);
    BOOST_TEST(parsed.command == (args{"echo a b"}));
  }
  BOOST_CHECK_THROW(parse_options({"l", "-c"}), usage_error);
  BOOST_CHECK_THROW(parse_options({"l", "-c", "a", "b"}), usage_error);
  BOOST_CHECK_THROW(parse_options({"-c", "a", "l"}), usage_error);
  BOOST_CHECK_THROW(parse_options({"--command=a", "l"}), usage_error);
}

BOOST_AUTO_TEST_CASE(help_version_and_holders) {
  BOOST_TEST((parse_options({"-h"}).what == action::help));
  BOOST_TEST((parse_options({"--help", "--bogus"}).what == action::help));
  BOOST_TEST((parse_options({"-sV"}).what == action::version));
  const auto holders = parse_options({"-s", "--holders", "l"});
  BOOST_TEST((holders.what == action::holders));
  BOOST_TEST(holders.shared);
  BOOST_TEST(holders.path == "l");
  BOOST_CHECK_THROW(parse_options({"--holders"}), usage_error);
  BOOST_CHECK_THROW(parse_options({"--holders", "l", "cmd"}), usage_error);
}

BOOST_AUTO_TEST_CASE(usage_errors) {
  for (const args& bad :
       {args{}, args{"l"}, args{"-q", "l", "c"}, args{"--bogus", "l", "c"},
        args{"-w"}, args{"-E"}, args{"-E", "256", "l", "c"},
        args{"-E", "-1", "l", "c"}, args{"-E", "1x", "l", "c"},
        args{"--shared=1", "l", "c"}, args{"-w", "x", "l", "c"}}) {
    BOOST_CHECK_THROW(parse_options(bad), usage_error);
  }
}

// flock(1)'s descriptor form: a lone NUMBER; NUMBER with a command is a
// file name, as in flock(1).
BOOST_AUTO_TEST_CASE(descriptor_form) {
  const auto lone = parse_options({"-n", "9"});
  BOOST_TEST(lone.descriptor == 9);
  BOOST_TEST(lone.command.empty());
  BOOST_TEST(lone.nonblock);
  const auto unlock = parse_options({"-u", "9"});
  BOOST_TEST(unlock.unlock);
  BOOST_TEST(unlock.descriptor == 9);
  const auto file = parse_options({"9", "true"});
  BOOST_TEST(file.descriptor == -1);
  BOOST_TEST(file.path == "9");
  const auto fd = parse_options({"--fd", "7", "make", "-j"});
  BOOST_TEST(fd.descriptor == 7);
  BOOST_TEST(fd.command == (args{"make", "-j"}));
  BOOST_TEST(parse_options({"--fd=7"}).descriptor == 7);
  for (const args& bad : {args{"--fd", "x", "c"}, args{"--fd", "-1", "c"},
                          args{"--fd", "99999999999", "c"},
                          args{"--holders", "--fd", "3"}}) {
    BOOST_CHECK_THROW(parse_options(bad), usage_error);
  }
}

BOOST_AUTO_TEST_CASE(options_flock_gained) {
  BOOST_TEST(parse_options({"--nb", "l", "c"}).nonblock);
  BOOST_TEST(parse_options({"--unlock", "l", "c"}).unlock);
  BOOST_TEST(parse_options({"-F", "l", "c"}).no_fork);
  BOOST_TEST(parse_options({"--no-fork", "l", "c"}).no_fork);
  const auto ranged = parse_options(
      {"--fcntl", "--start", "10", "--length=20", "l", "c"});
  BOOST_TEST(ranged.fcntl_only);
  BOOST_TEST(ranged.start == 10);
  BOOST_TEST(ranged.length == 20);
  BOOST_TEST(parse_options({"--fcntl", "l", "c"}).length == 0);
  for (const args& bad :
       {args{"-F", "-o", "l", "c"}, args{"--start", "1", "l", "c"},
        args{"--length=1", "l", "c"}, args{"--fcntl", "--start=-1", "l", "c"},
        args{"--fcntl", "--length", "x", "l", "c"}}) {
    BOOST_CHECK_THROW(parse_options(bad), usage_error);
  }
}

BOOST_AUTO_TEST_CASE(timeout_values) {
  BOOST_TEST((parse_seconds("0") == std::chrono::nanoseconds(0)));
  BOOST_TEST((parse_seconds("0.2") == std::chrono::nanoseconds(200ms)));
  BOOST_TEST((parse_seconds(".5") == std::chrono::nanoseconds(500ms)));
  BOOST_TEST((parse_seconds("5") == std::chrono::nanoseconds(5s)));
  BOOST_TEST((parse_seconds("1e-3") == std::chrono::nanoseconds(1ms)));
  BOOST_TEST((parse_seconds("1e-999") == std::chrono::nanoseconds(0)));
  BOOST_TEST(!parse_seconds("1e999").has_value());  // for ever
  BOOST_TEST(!parse_seconds("99999999999").has_value());
  for (const char* bad : {"", "-1", "+1", "inf", "nan", "1s", "0x10", ".", "1e",
                          "1..2", " 1", "--1"}) {
    BOOST_CHECK_THROW(parse_seconds(bad), usage_error);
  }
}

}  // namespace
