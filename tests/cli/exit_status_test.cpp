// tests/cli/exit_status_test.cpp
//
// dreadlock's exit status: the command's status, 128+N for a command
// killed by signal N, 126/127 for a command that cannot be executed, 64
// with a one-line message for a bad command line, 66 with a one-line
// message naming the path for a lock file that cannot be opened. And the
// command's own options and arguments reach it untouched.

#define BOOST_TEST_MODULE dreadlock exit status
#include <signal.h>

#include <boost/test/unit_test.hpp>

#include "tests/cli/cli_support.hpp"
#include "tests/support/nothing_left_behind.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using namespace cli_test;

bool one_line(const std::string& text) {
  return !text.empty() && text.find('\n') == text.size() - 1;
}

BOOST_AUTO_TEST_CASE(command_status_is_passed_through) {
  dreadlocks_test::watchdog dog(30s);
  const std::string lock = dreadlocks_test::unique_path("status").string();
  for (const auto& [args, expected] :
       std::vector<std::pair<std::vector<std::string>, int>>{
           {{lock, "true"}, 0},
           {{lock, "false"}, 1},
           {{lock, "sh", "-c", "exit 7"}, 7},
           {{lock, "-c", "exit 7"}, 7},
           {{lock, "--command", "exit 200"}, 200},
           {{"-s", lock, "-c", "exit 3"}, 3},
           {{"-o", lock, "-c", "exit 9"}, 9}}) {
    const auto run = run_dreadlock(args);
    BOOST_TEST(run.status.exited_with(expected), run.description);
    BOOST_TEST(run.err == "", run.description);
  }
}

BOOST_AUTO_TEST_CASE(command_killed_by_a_signal_gives_128_plus_n) {
  dreadlocks_test::watchdog dog(30s);
  const std::string lock = dreadlocks_test::unique_path("killed").string();
  for (const auto& [signal_name, number] :
       std::vector<std::pair<std::string, int>>{{"KILL", SIGKILL},
                                                {"TERM", SIGTERM},
                                                {"INT", SIGINT},
                                                {"SEGV", SIGSEGV}}) {
    BOOST_TEST_CONTEXT(signal_name) {
      const auto run =
          run_dreadlock({lock, "-c", "kill -" + signal_name + " $$"});
      // dreadlock itself exits (it is not killed) with 128 + N.
      BOOST_TEST(run.status.exited_with(128 + number), run.description);
    }
  }
  BOOST_TEST(lock_is_free(lock));
}

BOOST_AUTO_TEST_CASE(options_after_path_belong_to_the_command) {
  const std::string lock = dreadlocks_test::unique_path("argv").string();
  const auto run = run_dreadlock({"-x", lock, "printf", "%s|", "-n", "-w", "x",
                                  "--holders", "-c", "--", ""});
  BOOST_TEST(run.status.exited_with(0), run.description);
  BOOST_TEST(run.out == "-n|-w|x|--holders|-c|--||");
}

BOOST_AUTO_TEST_CASE(double_dash_ends_options_before_a_dash_path) {
  const fs::path directory = dreadlocks_test::unique_path("dash-dir");
  fs::create_directories(directory);
  const auto run = run_dreadlock({"--", "-lock", "true"}, directory);
  BOOST_TEST(run.status.exited_with(0), run.description);
  BOOST_TEST(fs::exists(directory / "-lock"));
}

BOOST_AUTO_TEST_CASE(command_that_cannot_be_executed) {
  const std::string lock = dreadlocks_test::unique_path("exec").string();
  const auto missing = run_dreadlock({lock, "no-such-command-dreadlock"});
  BOOST_TEST(missing.status.exited_with(not_found_exit), missing.description);
  BOOST_TEST(one_line(missing.err), missing.err);
  BOOST_TEST(missing.err.find("no-such-command-dreadlock") !=
             std::string::npos);
  BOOST_TEST(missing.err.find("No such file or directory") !=
             std::string::npos);

  const fs::path not_executable =
      dreadlocks_test::unique_path("not-executable");
  std::ofstream(not_executable) << "echo hi\n";
  fs::permissions(not_executable,
                  fs::perms::owner_read | fs::perms::owner_write);
  const auto refused = run_dreadlock({lock, not_executable.string()});
  BOOST_TEST(refused.status.exited_with(cannot_execute_exit),
             refused.description);
  BOOST_TEST(one_line(refused.err), refused.err);
  BOOST_TEST(refused.err.find(not_executable.string()) != std::string::npos);
  BOOST_TEST(lock_is_free(lock));
}

BOOST_AUTO_TEST_CASE(usage_errors_give_64_and_one_line) {
  const std::string lock = dreadlocks_test::unique_path("usage").string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--bogus", lock, "true"}, "unknown option '--bogus'"},
      {{"-q", lock, "true"}, "unknown option '-q'"},
      {{}, "missing PATH"},
      {{"-s"}, "missing PATH"},
      {{lock}, "missing command"},
      {{"-w", "abc", lock, "true"}, "invalid timeout value 'abc'"},
      {{"-w", "-1", lock, "true"}, "invalid timeout value '-1'"},
      {{"-w", "inf", lock, "true"}, "invalid timeout value 'inf'"},
      {{"-w", "", lock, "true"}, "invalid timeout value ''"},
      {{"--timeout=1s", lock, "true"}, "invalid timeout value '1s'"},
      {{"-w"}, "option '-w' requires an argument"},
      {{"-E", "256", "-n", lock, "true"}, "invalid conflict exit code '256'"},
      {{"-E", "x", "-n", lock, "true"}, "invalid conflict exit code 'x'"},
      {{"--shared=yes", lock, "true"}, "doesn't allow an argument"},
      {{"--c", lock, "true"}, "option '--c' is ambiguous"},
      {{lock, "-c"}, "-c requires exactly one command argument"},
      {{lock, "-c", "true", "extra"},
       "-c requires exactly one command argument"},
      {{"-c", "true", lock}, "goes after PATH"},
      {{"--holders", lock, "true"}, "--holders takes only PATH"},
  };
  for (const auto& [args, message] : cases) {
    BOOST_TEST_CONTEXT(message) {
      const auto run = run_dreadlock(args);
      BOOST_TEST(run.status.exited_with(usage_exit), run.description);
      BOOST_TEST(one_line(run.err), run.description);
      BOOST_TEST(run.err.find("dreadlock: ") == 0, run.description);
      BOOST_TEST(run.err.find(message) != std::string::npos, run.description);
      BOOST_TEST(run.out == "");
    }
  }
  BOOST_TEST(!fs::exists(lock), "a usage error must not create the lock file");
}

// (A directory is no bad path any more: it is locked as flock(1) locks it,
// tests/cli/read_only_test.cpp.)
BOOST_AUTO_TEST_CASE(bad_paths_give_66_and_one_line_naming_the_path) {
  const fs::path missing_parent =
      dreadlocks_test::unique_path("no-such-dir") / "x.lock";
  const fs::path dangling = dreadlocks_test::unique_path("dangling");
  const fs::path target = dreadlocks_test::unique_path("dangling-target");
  fs::create_symlink(target, dangling);
  const std::vector<std::pair<fs::path, std::string>> cases{
      {missing_parent, "No such file or directory"},
      {fs::path("/dev/null") / "x.lock", "Not a directory"},
      {dangling,
       "No such file or directory (a dangling symlink; its target is not "
       "created)"},
  };
  for (const auto& [path, reason] : cases) {
    BOOST_TEST_CONTEXT(path) {
      const fs::path trace = dreadlocks_test::unique_path("trace");
      const auto run = run_dreadlock(
          {path.string(), "-c", "echo ran > " + quoted(trace.string())});
      BOOST_TEST(run.status.exited_with(cannot_open_exit), run.description);
      BOOST_TEST(one_line(run.err), run.description);
      BOOST_TEST(run.err == "dreadlock: cannot lock \"" + path.string() +
                                "\": " + reason + "\n");
      BOOST_TEST(!fs::exists(trace));
    }
  }
  BOOST_TEST(!fs::exists(target));
  const auto holders = run_dreadlock({"--holders", missing_parent.string()});
  BOOST_TEST(holders.status.exited_with(0), holders.description);
}

BOOST_AUTO_TEST_CASE(help_and_version) {
  for (const char* option : {"-h", "--help"}) {
    const auto run = run_dreadlock({option});
    BOOST_TEST(run.status.exited_with(0), run.description);
    BOOST_TEST(run.out.find("dreadlock [options] PATH COMMAND") !=
               std::string::npos);
    BOOST_TEST(run.out.find("--conflict-exit-code") != std::string::npos);
  }
  for (const char* option : {"-V", "--version"}) {
    const auto run = run_dreadlock({option});
    BOOST_TEST(run.status.exited_with(0), run.description);
    BOOST_TEST(run.out.find("dreadlock (dreadlocks) ") == 0, run.out);
  }
}

}  // namespace
