// tests/process/flock_interop_test.cpp
//
// flock_process_lock against util-linux flock(1), the tool shell scripts
// lock with: each excludes the other on one file, in both modes and both
// directions, and a flock(1) waiting in the kernel is let in by the C++
// program's release. Real processes: flock(1) is run from PATH.

#define BOOST_TEST_MODULE flock_interop_test
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "dreadlocks/introspection.hpp"
#include "tests/process/process_test_common.hpp"
#include "tests/support/nothing_left_behind.hpp"

namespace dlt = dreadlocks_test;
using namespace std::chrono_literals;
using dlt::attempt;
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

extern char** environ;

namespace {

using flock_lock = dlt::process_level_lock<dreadlocks::flock_process_lock>;
using flock_path_lock = dlt::both_levels_lock<dreadlocks::flock_process_lock>;

// flock_tool
//
// One run of util-linux flock(1) with `args`, its standard input and output
// on pipes: a command such as `-c 'echo held; read line'` reports that it
// holds the lock and keeps it until finish() writes it a line.
class flock_tool {
 public:
  explicit flock_tool(const std::vector<std::string>& args) {
    int in[2], out[2];
    BOOST_TEST_REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
    BOOST_TEST_REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    std::vector<std::string> words{"flock"};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    const int spawned = ::posix_spawnp(&pid_, "flock", &actions, nullptr,
                                       argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    input_ = in[1];
    output_ = out[0];
    BOOST_TEST_REQUIRE(spawned == 0, "cannot run flock(1)");
  }
  flock_tool(const flock_tool&) = delete;
  flock_tool& operator=(const flock_tool&) = delete;
  ~flock_tool() {
    if (input_ >= 0) ::close(input_);
    if (output_ >= 0) ::close(output_);
    if (pid_ > 0) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  // Returns the next line the command writes (without its newline), or ""
  // at the end of its output. Bounded by the test's watchdog.
  std::string read_line() {
    std::string line;
    char c = 0;
    while (::read(output_, &c, 1) == 1 && c != '\n') line += c;
    return line;
  }

  // Writes a line to the command's input (a `read` in it returns: a line,
  // not the end of the input, which a forked child of the test holding the
  // pipe's other copy would delay), closes it, and returns flock(1)'s exit
  // status.
  int finish() {
    BOOST_TEST(::write(input_, "\n", 1) == 1);
    return wait_exit();
  }

  // Closes the command's input and returns flock(1)'s exit status, for a
  // command that reads nothing.
  int wait_exit() {
    ::close(input_);
    input_ = -1;
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int input_ = -1;
  int output_ = -1;
};

// The exit status of `flock <mode> -n FILE true`: 0 granted, 1 refused.
int flock_once(const std::filesystem::path& file, const char* mode) {
  flock_tool tool({mode, "-n", file.string(), "true"});
  return tool.wait_exit();
}

constexpr int kGranted = 0;
constexpr int kRefused = 1;  // flock(1) -n: the lock is held elsewhere

}  // namespace

// flock(1) holding exclusive keeps the C++ program out in both modes, and
// lets it in once it is gone.
BOOST_AUTO_TEST_CASE(flock_tool_exclusive_excludes_the_program) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("flock-tool-x");
  flock_tool holder({"-x", file.string(), "-c", "echo held; read line"});
  BOOST_TEST_REQUIRE(holder.read_line() == "held");
  BOOST_TEST(dlt::try_lock_once<flock_lock>(file, dlt::mode(false, false)) ==
             attempt::process_would_block);
  BOOST_TEST(dlt::try_lock_once<flock_lock>(file, dlt::mode(true, false)) ==
             attempt::process_would_block);
  BOOST_TEST(dlt::try_lock_once<flock_path_lock>(
                 file, dlt::mode(false, false)) ==
             attempt::process_would_block);
  BOOST_TEST(holder.finish() == 0);
  BOOST_TEST(dlt::try_lock_once<flock_lock>(file, dlt::mode(false, false)) ==
             attempt::granted);
  BOOST_TEST(dreadlocks::introspection::open_lock_files() == 0u);
}

// flock(1) holding shared lets the program share, not write.
BOOST_AUTO_TEST_CASE(flock_tool_shared_admits_readers_only) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("flock-tool-s");
  flock_tool holder({"-s", file.string(), "-c", "echo held; read line"});
  BOOST_TEST_REQUIRE(holder.read_line() == "held");
  BOOST_TEST(dlt::try_lock_once<flock_lock>(file, dlt::mode(true, false)) ==
             attempt::granted);
  BOOST_TEST(dlt::try_lock_once<flock_lock>(file, dlt::mode(false, false)) ==
             attempt::process_would_block);
  BOOST_TEST(holder.finish() == 0);
}

// The program holding the file keeps flock(1) out as its mode says, and
// lets it in after the release.
BOOST_AUTO_TEST_CASE(program_excludes_flock_tool) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("flock-program");
  {
    flock_path_lock writer(file, dlt::mode(false));
    BOOST_TEST(flock_once(file, "-x") == kRefused);
    BOOST_TEST(flock_once(file, "-s") == kRefused);
  }
  {
    flock_lock reader(file, dlt::mode(true));
    BOOST_TEST(flock_once(file, "-s") == kGranted);
    BOOST_TEST(flock_once(file, "-x") == kRefused);
  }
  BOOST_TEST(flock_once(file, "-x") == kGranted);
}

// A flock(1) that waits in the kernel (no -n) for the program's exclusive
// lock runs its command only after the program releases it.
BOOST_AUTO_TEST_CASE(waiting_flock_tool_is_let_in_by_the_release) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("flock-waiter");
  std::optional<flock_path_lock> writer(std::in_place, file, dlt::mode(false));
  flock_tool waiter({"-x", file.string(), "-c", "echo got; read line"});
  // Proven waiting by the kernel's table, not by a pause.
  BOOST_TEST_REQUIRE(dlt::wait_for_blocked_requests(file, 1));
  writer.reset();
  BOOST_TEST(waiter.read_line() == "got");
  BOOST_TEST(dlt::try_lock_once<flock_lock>(file, dlt::mode(true, false)) ==
             attempt::process_would_block);
  BOOST_TEST(waiter.finish() == 0);
}

// A program waiting for flock(1)'s lock is granted when flock(1) exits.
BOOST_AUTO_TEST_CASE(waiting_program_is_let_in_by_flock_tool) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("flock-program-waits");
  flock_tool holder({"-x", file.string(), "-c", "echo held; read line"});
  BOOST_TEST_REQUIRE(holder.read_line() == "held");
  dlt::process_holder<flock_lock> waiting(file, dlt::mode(false));
  BOOST_TEST_REQUIRE(dlt::wait_for_blocked_requests(file, 1));
  BOOST_TEST(holder.finish() == 0);
  BOOST_TEST(waiting.wait_settled() == attempt::granted);
  BOOST_TEST(flock_once(file, "-s") == kRefused);
  BOOST_TEST(dlt::exited_ok(waiting.release_and_exit()));
  BOOST_TEST(flock_once(file, "-s") == kGranted);
}
