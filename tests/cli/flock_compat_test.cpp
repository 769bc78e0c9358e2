// tests/cli/flock_compat_test.cpp
//
// dreadlock against util-linux flock(1), run side by side on the same
// cases: the descriptor form and the subshell idiom (the lock outlives the
// tool), -u, a descriptor that is not open, -F, -F with -o, --verbose's
// words and stream, SHELL for -c, and the options flock(1) 2.41 added
// (--fcntl, --start, --length) where the installed flock(1) (2.38 on
// Debian 12) cannot be the reference. Real processes; every wait is on a
// pipe or bounded.

#define BOOST_TEST_MODULE dreadlock flock compatibility
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "tests/cli/cli_support.hpp"
#include "tests/support/nothing_left_behind.hpp"

using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using namespace cli_test;

// The two tools under comparison.
struct tool {
  std::string name;  // the prefix of its messages
  fs::path binary;
};
std::vector<tool> both_tools() {
  return {{"dreadlock", dreadlock_binary()}, {"flock", flock_binary()}};
}

// Runs `check(tool, lock)` once for each tool, inside a context naming the
// tool, with a fresh lock path whose name starts with `stem`.
template <typename Check>
void for_each_tool(const std::string& stem, const Check& check) {
  for (const auto& t : both_tools()) {
    BOOST_TEST_CONTEXT(t.name) {
      check(t, dreadlocks_test::unique_path(stem));
    }
  }
}

// Runs `script` with /bin/sh -c, with the participant's descriptors.
dreadlock_process shell(const std::string& script, const participant& p) {
  return dreadlock_process({"-c", script}, p.descriptors(), {}, {}, "/bin/sh");
}

// The status of `TOOL -n [-s] PATH true`: 0 granted, 1 refused.
int try_with(const tool& t, const fs::path& path, bool shared = false) {
  std::vector<std::string> args{"-n"};
  if (shared) args.push_back("-s");
  args.insert(args.end(), {path.string(), "true"});
  const auto run = run_dreadlock(args, {}, t.binary);
  BOOST_TEST_MESSAGE(run.description);
  return run.status.code;
}

// `( TOOL OPTIONS 9 || exit 1; echo ready >&5; read line <&6 ) 9>PATH;
// echo "status $?"`: the idiom from flock(1)'s manual.
std::string subshell_idiom(const tool& t, const std::string& options,
                           const fs::path& path,
                           const std::string& redirect = "9>") {
  return "( " + quoted(t.binary.string()) + " " + options +
         " 9 || exit 1; echo ready >&5; read line <&6; exit 0 ) " + redirect +
         quoted(path.string()) + "; echo \"status $?\"";
}

BOOST_AUTO_TEST_CASE(subshell_idiom_locks_the_shells_descriptor) {
  dreadlocks_test::watchdog dog(30s);
  for_each_tool("idiom", [](const tool& t, const fs::path& lock) {
    participant body;
    auto run = shell(subshell_idiom(t, "-n", lock), body);
    BOOST_REQUIRE_MESSAGE(body.wait_ready(), run.describe());
    // The tool has exited; the subshell's descriptor holds the lock.
    BOOST_TEST(try_with(both_tools()[0], lock, true) == conflict_exit);
    BOOST_TEST(try_with(both_tools()[1], lock, true) == conflict_exit);
    // (FLOCK lines of a process that has exited are not listed inside a
    // PID namespace, as under Bazel's sandbox; OFD lines have no pid.)
    BOOST_TEST(proc_locks_on(lock, false, "OFDLCK") ==
               (t.name == "dreadlock" ? 1 : 0));
    // A second script with the same idiom gives up, its body unrun.
    participant second_body;
    auto second = shell(subshell_idiom(t, "-n", lock), second_body);
    BOOST_TEST(second.wait().exited_with(0), second.describe());
    BOOST_TEST(second.out() == "status 1\n", second.describe());
    BOOST_TEST(!second_body.reported());
    body.release();
    BOOST_TEST(run.wait().exited_with(0), run.describe());
    BOOST_TEST(run.out() == "status 0\n", run.describe());
    BOOST_TEST(try_with(t, lock) == 0);
  });
}

// A shared lock on a descriptor opened for writing (9>), reading (9<) or
// both (9<>).
BOOST_AUTO_TEST_CASE(shared_descriptor_form_admits_readers_of_either_tool) {
  dreadlocks_test::watchdog dog(60s);
  for (const std::string redirect : {"9>", "9<", "9<>"}) {
    BOOST_TEST_CONTEXT(redirect) {
      for_each_tool("idiom-shared", [&](const tool& t, const fs::path& lock) {
        { std::ofstream create(lock); }
        participant body;
        auto run = shell(subshell_idiom(t, "-s", lock, redirect), body);
        BOOST_REQUIRE_MESSAGE(body.wait_ready(), run.describe());
        for (const auto& other : both_tools()) {
          BOOST_TEST(try_with(other, lock, true) == 0);
          BOOST_TEST(try_with(other, lock, false) == conflict_exit);
        }
        body.release();
        BOOST_TEST(run.wait().exited_with(0), run.describe());
      });
    }
  }
}

// Two scripts that hold the descriptor form shared and then both convert
// to exclusive: flock(2) gives the shared lock up to convert, and so does
// dreadlock with its OFD lock, so neither waits holding a lock the other
// waits for; one converts, ends, and lets the other in. (Keeping the OFD
// lock shared while converting deadlocked here: each waited for the
// other's shared OFD lock to go.)
BOOST_AUTO_TEST_CASE(converting_readers_do_not_deadlock) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("convert");
  const std::string binary = quoted(dreadlock_binary().string());
  const std::string script =
      "( " + binary + " -s 9 || exit 1; echo ready >&5; read line <&6; " +
      binary + " -x 9 || exit 2; echo converted >&5; exit 0 ) 9<>" +
      quoted(lock.string());
  // Read-write (9<>): a descriptor that holds OFD locks in both modes.
  { std::ofstream create(lock); }
  participant first_body;
  participant second_body;
  auto first = shell(script, first_body);
  auto second = shell(script, second_body);
  BOOST_REQUIRE_MESSAGE(first_body.wait_ready(), first.describe());
  BOOST_REQUIRE_MESSAGE(second_body.wait_ready(), second.describe());
  first_body.release();
  second_body.release();
  BOOST_TEST(first_body.next_report().value_or("none") == "converted",
             first.describe());
  BOOST_TEST(second_body.next_report().value_or("none") == "converted",
             second.describe());
  BOOST_TEST(first.wait().exited_with(0), first.describe());
  BOOST_TEST(second.wait().exited_with(0), second.describe());
}

BOOST_AUTO_TEST_CASE(unlock_releases_the_descriptors_lock) {
  dreadlocks_test::watchdog dog(30s);
  for_each_tool("unlock", [](const tool& t, const fs::path& lock) {
    const std::string binary = quoted(t.binary.string());
    participant body;
    auto run = shell("( " + binary + " 9 && " + binary +
                         " -u 9; echo \"u $?\"; echo ready >&5; read line "
                         "<&6; exit 0 ) 9>" +
                         quoted(lock.string()),
                     body);
    BOOST_REQUIRE_MESSAGE(body.wait_ready(), run.describe());
    BOOST_TEST(proc_locks_on(lock, false, "FLOCK") == 0);
    BOOST_TEST(proc_locks_on(lock, false, "OFDLCK") == 0);
    BOOST_TEST(try_with(both_tools()[0], lock) == 0);
    BOOST_TEST(try_with(both_tools()[1], lock) == 0);
    body.release();
    BOOST_TEST(run.wait().exited_with(0), run.describe());
    BOOST_TEST(run.out() == "u 0\n", run.describe());
  });
}

BOOST_AUTO_TEST_CASE(descriptor_not_open_is_65_with_flocks_message) {
  for (const auto& t : both_tools()) {
    BOOST_TEST_CONTEXT(t.name) {
      // Started with 9 closed (dreadlock_process maps a negative source).
      dreadlock_process run({"9"}, {{9, -1}}, {}, {}, t.binary);
      BOOST_TEST(run.wait().exited_with(65), run.describe());
      BOOST_TEST(run.err() == t.name + ": 9: Bad file descriptor\n",
                 run.describe());
    }
  }
}

BOOST_AUTO_TEST_CASE(lone_word_that_is_no_number_is_a_usage_error) {
  for (const auto& t : both_tools()) {
    BOOST_TEST_CONTEXT(t.name) {
      const auto run = run_dreadlock({"not-a-number"}, {}, t.binary);
      BOOST_TEST(run.status.exited_with(usage_exit), run.description);
    }
  }
}

BOOST_AUTO_TEST_CASE(no_fork_runs_the_command_in_the_tools_process) {
  dreadlocks_test::watchdog dog(30s);
  for_each_tool("no-fork", [](const tool& t, const fs::path& lock) {
    participant command;
    dreadlock_process run(
        {"-F", lock.string(), "-c", "echo $$ >&5; read line <&6; exit 3"},
        command.descriptors(), {}, {}, t.binary);
    const auto pid = command.next_report();
    BOOST_REQUIRE_MESSAGE(pid, run.describe());
    BOOST_TEST(*pid == std::to_string(run.pid()), "not forked");
    BOOST_TEST(try_with(both_tools()[0], lock) == conflict_exit);
    BOOST_TEST(try_with(both_tools()[1], lock) == conflict_exit);
    command.release();
    BOOST_TEST(run.wait().exited_with(3), run.describe());
    BOOST_TEST(try_with(t, lock) == 0);
  });
}

BOOST_AUTO_TEST_CASE(no_fork_with_close_is_a_usage_error) {
  for_each_tool("no-fork-close", [](const tool& t, const fs::path& lock) {
    const auto run =
        run_dreadlock({"-F", "-o", lock.string(), "true"}, {}, t.binary);
    BOOST_TEST(run.status.exited_with(usage_exit), run.description);
  });
}

// --verbose: the same lines on the same streams (success on stdout, giving
// up on stderr), but for the prefix and the measured time.
// `text` with the tool's name dropped from the start of each line and the
// measured time ("0.000042 seconds") written "N seconds". (No std::regex:
// GCC 12 warns inside it under ASan, and warnings are errors.)
std::string without_name_and_time(const std::string& text,
                                  const std::string& name) {
  std::string result;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end + 1;
    std::string line = text.substr(start, end - start);
    if (line.compare(0, name.size(), name) == 0) line.erase(0, name.size());
    const std::size_t unit = line.find(" seconds");
    if (unit != std::string::npos) {
      const std::size_t number = line.find_last_not_of("0123456789.", unit - 1);
      line.replace(number + 1, unit - number - 1, "N");
    }
    result += line;
    start = end;
  }
  return result;
}

BOOST_AUTO_TEST_CASE(verbose_lines_match_flocks) {
  dreadlocks_test::watchdog dog(30s);
  std::vector<std::string> seen[3];
  for (const auto& t : both_tools()) {
    const fs::path lock = dreadlocks_test::unique_path("verbose");
    const auto granted =
        run_dreadlock({"--verbose", lock.string(), "true"}, {}, t.binary);
    BOOST_TEST(granted.status.exited_with(0), granted.description);
    BOOST_TEST(granted.err == "");
    BOOST_REQUIRE(granted.out.size() > t.name.size());
    seen[0].push_back(without_name_and_time(granted.out, t.name));
    participant holder;
    dreadlock_process held({lock.string(), "-c", participant::script("h", lock.string() + ".log")},
                           holder.descriptors());
    BOOST_REQUIRE(holder.wait_ready());
    const auto refused =
        run_dreadlock({"--verbose", "-n", lock.string(), "true"}, {}, t.binary);
    BOOST_TEST(refused.status.exited_with(conflict_exit), refused.description);
    BOOST_REQUIRE(refused.err.size() > t.name.size());
    BOOST_TEST(refused.out == "");
    seen[1].push_back(refused.err.substr(t.name.size()));
    const auto timed_out = run_dreadlock(
        {"--verbose", "-w", "0.05", lock.string(), "true"}, {}, t.binary);
    BOOST_TEST(timed_out.status.exited_with(conflict_exit),
               timed_out.description);
    BOOST_REQUIRE(timed_out.err.size() > t.name.size());
    seen[2].push_back(timed_out.err.substr(t.name.size()));
    holder.release();
    BOOST_TEST(held.wait().exited_with(0), held.describe());
  }
  BOOST_TEST(seen[0][0] == ": getting lock took N seconds\n: executing true\n");
  BOOST_TEST(seen[1][0] == ": failed to get lock\n");
  BOOST_TEST(seen[2][0] == ": timeout while waiting to get lock\n");
  for (const auto& lines : seen) BOOST_TEST(lines[0] == lines[1]);
}

// -c runs $SHELL (as flock(1)), /bin/sh when SHELL is unset.
BOOST_AUTO_TEST_CASE(command_string_runs_the_users_shell) {
  const char* saved = std::getenv("SHELL");
  const std::string restore = saved != nullptr ? saved : "";
  ::setenv("SHELL", "/bin/echo", 1);
  std::vector<std::string> outputs;
  for (const auto& t : both_tools()) {
    const fs::path lock = dreadlocks_test::unique_path("shell");
    const auto run = run_dreadlock({lock.string(), "-c", "hello"}, {}, t.binary);
    BOOST_TEST(run.status.exited_with(0), run.description);
    outputs.push_back(run.out);
  }
  ::unsetenv("SHELL");
  const fs::path lock = dreadlocks_test::unique_path("no-shell");
  const auto plain = run_dreadlock({lock.string(), "-c", "echo $0"});
  if (saved != nullptr) ::setenv("SHELL", restore.c_str(), 1);
  BOOST_TEST(outputs[0] == "-c hello\n");
  BOOST_TEST(outputs[0] == outputs[1]);
  BOOST_TEST(plain.out == "/bin/sh\n", plain.description);
}

// --fd NUMBER COMMAND: the inherited descriptor is locked for the command.
BOOST_AUTO_TEST_CASE(fd_option_locks_an_inherited_descriptor_for_a_command) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("fd-option");
  participant command;
  auto run = shell(quoted(dreadlock_binary().string()) +
                       " --fd 9 sh -c 'echo ready >&5; read line <&6; exit 0' 9>" +
                       quoted(lock.string()),
                   command);
  BOOST_REQUIRE_MESSAGE(command.wait_ready(), run.describe());
  BOOST_TEST(try_with(both_tools()[1], lock) == conflict_exit);
  command.release();
  BOOST_TEST(run.wait().exited_with(0), run.describe());
}

// --fcntl (flock(1) 2.41): the OFD lock alone, over --start/--length; the
// installed flock(1) may predate it, so the reference is the kernel.
BOOST_AUTO_TEST_CASE(fcntl_byte_ranges_exclude_only_overlapping_ranges) {
  dreadlocks_test::watchdog dog(30s);
  const fs::path lock = dreadlocks_test::unique_path("ranges");
  participant holder;
  dreadlock_process held({"--fcntl", "--start", "0", "--length", "10",
                          lock.string(), "-c",
                          participant::script("r", lock.string() + ".log")},
                         holder.descriptors());
  BOOST_REQUIRE_MESSAGE(holder.wait_ready(), held.describe());
  BOOST_TEST(proc_locks_on(lock, false, "OFDLCK") == 1);
  BOOST_TEST(proc_locks_on(lock, false, "FLOCK") == 0);
  const auto beside = run_dreadlock({"-n", "--fcntl", "--start=10",
                                     "--length=5", lock.string(), "true"});
  BOOST_TEST(beside.status.exited_with(0), beside.description);
  const auto overlapping = run_dreadlock(
      {"-n", "--fcntl", "--start", "9", lock.string(), "true"});
  BOOST_TEST(overlapping.status.exited_with(conflict_exit),
             overlapping.description);
  // The default (both kinds, whole file) meets the OFD range lock.
  BOOST_TEST(try_with(both_tools()[0], lock) == conflict_exit);
  // flock(2) users do not see a --fcntl lock (as with flock(1) --fcntl).
  BOOST_TEST(try_with(both_tools()[1], lock) == 0);
  holder.release();
  BOOST_TEST(held.wait().exited_with(0), held.describe());
  const auto range_alone =
      run_dreadlock({"--start", "3", lock.string(), "true"});
  BOOST_TEST(range_alone.status.exited_with(usage_exit),
             range_alone.description);
}

}  // namespace
