// tests/cli/cli_support.hpp
//
// Running the real `dreadlock` binary from tests: find it in the runfiles,
// start it as a child process with chosen descriptors, stdout and stderr
// captured in files, and coordinate with the commands it runs through
// pipes, never through sleeps.
//
// A "participant" is a command run under dreadlock that reports through
// descriptor 5 (a line "ready" once inside the lock, or its pid) and waits
// on descriptor 6 until the test closes the other end:
//
//   participant a;
//   dreadlock_process run({path, "-c", a.script("A", log)}, a.descriptors());
//   BOOST_REQUIRE(a.wait_ready());      // A's command runs, the lock held
//   a.release();                        // A's command ends
//   BOOST_TEST(run.wait().exited_with(0), run.describe());

#ifndef DREADLOCKS_TESTS_CLI_CLI_SUPPORT_HPP_
#define DREADLOCKS_TESTS_CLI_CLI_SUPPORT_HPP_

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/temp_path.hpp"
#include "tests/support/watchdog.hpp"

namespace cli_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using dreadlocks_test::exit_status;

// The exit statuses the tool promises (docs/dreadlock.md).
inline constexpr int conflict_exit = 1;
inline constexpr int usage_exit = 64;
inline constexpr int cannot_open_exit = 66;
inline constexpr int cannot_execute_exit = 126;
inline constexpr int not_found_exit = 127;

// The bound of every wait for something the test caused.
inline constexpr std::chrono::milliseconds bound = 10s;

// Returns the dreadlock binary: $DREADLOCK_BINARY if set (a build outside
// Bazel), else the runfile of //tools:dreadlock.
inline fs::path dreadlock_binary() {
  if (const char* binary = std::getenv("DREADLOCK_BINARY")) return binary;
  const char* runfiles = std::getenv("TEST_SRCDIR");
  if (runfiles == nullptr) {
    throw std::runtime_error("neither DREADLOCK_BINARY nor TEST_SRCDIR is set");
  }
  return fs::path(runfiles) / "dreadlocks" / "tools" / "dreadlock";
}

// Returns util-linux flock(1), the reference the tool is compared with.
inline fs::path flock_binary() {
  for (const char* candidate : {"/usr/bin/flock", "/bin/flock"}) {
    if (::access(candidate, X_OK) == 0) return candidate;
  }
  throw std::runtime_error("util-linux flock(1) is not installed");
}

// Returns the file's contents, or "" if it does not exist.
inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Quotes `text` for /bin/sh.
inline std::string quoted(const std::string& text) {
  std::string result = "'";
  for (char c : text) {
    if (c == '\'') {
      result += "'\\''";
    } else {
      result += c;
    }
  }
  return result + "'";
}

// Returns true once `ready()` holds, polling every millisecond; false if it
// still does not after `limit`. For states with no event to wait on (a
// process blocked in the kernel, a lock released by a process's exit).
inline bool eventually(const std::function<bool()>& ready,
                       std::chrono::milliseconds limit = bound) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!ready()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A pipe whose ends close on exec (a child takes the end it needs with
// dup2, which clears the flag on the copy).
class test_pipe {
 public:
  test_pipe() {
    if (::pipe2(ends_, O_CLOEXEC) != 0) {
      throw std::system_error(errno, std::generic_category(), "pipe2");
    }
  }
  ~test_pipe() {
    close_read();
    close_write();
  }
  test_pipe(const test_pipe&) = delete;
  test_pipe& operator=(const test_pipe&) = delete;

  int read_end() const noexcept { return ends_[0]; }
  int write_end() const noexcept { return ends_[1]; }
  void close_read() noexcept { close_end(0); }
  void close_write() noexcept { close_end(1); }

  // Reads one line (without the newline), waiting at most `limit`;
  // nullopt on timeout or end of file before a newline.
  std::optional<std::string> read_line(
      std::chrono::milliseconds limit = bound) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (const auto newline = buffer_.find('\n');
          newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !readable(left)) return std::nullopt;
      char chunk[256];
      const ssize_t got = ::read(ends_[0], chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(got));
    }
  }

  // True if a line (or end of file) can be read without waiting.
  bool has_data_now() { return !buffer_.empty() || readable(0ms); }

 private:
  bool readable(std::chrono::milliseconds limit) {
    pollfd entry{ends_[0], POLLIN, 0};
    int ready;
    do {
      ready = ::poll(&entry, 1, static_cast<int>(limit.count()));
    } while (ready < 0 && errno == EINTR);
    return ready > 0;
  }
  void close_end(int i) noexcept {
    if (ends_[i] >= 0) ::close(ends_[i]);
    ends_[i] = -1;
  }

  int ends_[2];
  std::string buffer_;
};

// A descriptor the child gets: `parent_fd` becomes `child_fd`; a negative
// `parent_fd` closes `child_fd` instead (dreadlock started with it closed).
struct descriptor_mapping {
  int child_fd;
  int parent_fd;
};

// dreadlock_process
//
// Runs the dreadlock binary (or `program`, e.g. flock_binary()) with
// `args` (argv[0] excluded), stdout and
// stderr into files, stdin from /dev/null, with `descriptors` mapped, in
// `directory` if given, in a session whose controlling terminal is
// `terminal` if given. Core dumps are off (a command killed by SIGQUIT).
// Bounded: wait() kills it after its limit, and the child's alarm
// (inherited across exec) ends it within 25 s anyway.
class dreadlock_process {
 public:
  explicit dreadlock_process(std::vector<std::string> args,
                             std::vector<descriptor_mapping> descriptors = {},
                             fs::path directory = {}, fs::path terminal = {},
                             fs::path program = {})
      : args_(std::move(args)),
        program_(program.empty() ? dreadlock_binary() : std::move(program)),
        out_(dreadlocks_test::unique_path("stdout")),
        err_(dreadlocks_test::unique_path("stderr")),
        child_([this, descriptors, directory, terminal] {
          return exec(descriptors, directory, terminal);
        }) {}

  pid_t pid() const noexcept { return child_.pid(); }
  void kill(int sig) const noexcept { child_.kill(sig); }
  exit_status wait(std::chrono::milliseconds limit = bound) {
    status_ = child_.wait(limit);
    return status_;
  }
  std::string out() const { return read_file(out_); }
  std::string err() const { return read_file(err_); }

  // For assertion messages (evaluated even when the assertion passes, so
  // it never waits): the arguments, the status if waited for, the output.
  std::string describe() const {
    std::string text = program_.filename().string();
    for (const auto& arg : args_) text += " " + quoted(arg);
    const bool waited = status_.ended != exit_status::how::not_waited;
    return text + ": " + (waited ? status_.describe() : "running") +
           "; stdout: [" + out() + "] stderr: [" + err() + "]";
  }

 private:
  int exec(const std::vector<descriptor_mapping>& descriptors,
           const fs::path& directory, const fs::path& terminal) {
    if (!terminal.empty()) {
      // A session of its own whose controlling terminal is `terminal`, so
      // that the terminal's signals go to dreadlock's process group.
      if (::setsid() < 0) return 96;
      const int opened = ::open(terminal.c_str(), O_RDWR | O_CLOEXEC);
      if (opened < 0 || ::ioctl(opened, TIOCSCTTY, 0) != 0) return 95;
    }
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int out =
        ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int err =
        ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in < 0 || out < 0 || err < 0) return 98;
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    // Move the sources out of the way first, so that no dup2 overwrites a
    // source another mapping still needs.
    std::vector<int> sources;
    for (const auto& mapping : descriptors) {
      sources.push_back(::fcntl(mapping.parent_fd, F_DUPFD_CLOEXEC, 100));
    }
    for (std::size_t i = 0; i < descriptors.size(); ++i) {
      if (descriptors[i].parent_fd < 0) {
        ::close(descriptors[i].child_fd);
      } else {
        ::dup2(sources[i], descriptors[i].child_fd);
      }
    }
    if (!directory.empty() && ::chdir(directory.c_str()) != 0) return 97;
    const std::string binary = program_.string();
    std::vector<char*> argv{const_cast<char*>(binary.c_str())};
    for (auto& arg : args_) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    std::fprintf(stderr, "test: cannot execute %s: %s\n", binary.c_str(),
                 std::strerror(errno));
    return 99;
  }

  std::vector<std::string> args_;
  fs::path program_;
  fs::path out_;
  fs::path err_;
  exit_status status_;
  dreadlocks_test::child_process child_;
};

// Runs dreadlock to the end (bounded) and returns the process for its
// status and output.
struct finished_run {
  exit_status status;
  std::string out;
  std::string err;
  std::string description;
  std::chrono::duration<double> took;
};
inline finished_run run_dreadlock(std::vector<std::string> args,
                                  fs::path directory = {},
                                  fs::path program = {}) {
  const auto start = std::chrono::steady_clock::now();
  dreadlock_process process(std::move(args), {}, std::move(directory), {},
                            std::move(program));
  finished_run result;
  result.status = process.wait();
  result.took = std::chrono::steady_clock::now() - start;
  result.out = process.out();
  result.err = process.err();
  result.description = process.describe();
  return result;
}

// participant
//
// The two pipes of a command under test: it writes lines to descriptor 5
// (`report`) and blocks reading descriptor 6 (`hold`) until release().
class participant {
 public:
  std::vector<descriptor_mapping> descriptors() const {
    return {{5, report_.write_end()}, {6, hold_.read_end()}};
  }

  // A shell script that appends "NAME in" to `log`, reports "ready",
  // waits for release() (or the test's end), then appends "NAME out".
  static std::string script(const std::string& name, const fs::path& log) {
    const std::string to_log = " >> " + quoted(log.string());
    return "echo " + quoted(name + " in") + to_log +
           "; echo ready >&5; read line <&6; echo " + quoted(name + " out") +
           to_log;
  }

  // A shell script that reports its shell's pid (it is the command
  // process), then waits for release().
  static std::string pid_script() {
    return "echo $$ >&5; read line <&6; exit 0";
  }

  // Waits for the command's next report line.
  std::optional<std::string> next_report(
      std::chrono::milliseconds limit = bound) {
    return report_.read_line(limit);
  }
  bool wait_ready(std::chrono::milliseconds limit = bound) {
    const auto line = next_report(limit);
    return line && *line == "ready";
  }
  // True if the command has reported something (or ended) already.
  bool reported() { return report_.has_data_now(); }
  // Lets the command go on (its `read` sees end of file).
  void release() { hold_.close_write(); }

 private:
  test_pipe report_;
  test_pipe hold_;
};

// Returns the number of /proc/locks lines for `path`'s inode that are
// waiting requests ("->" lines) or, with `waiting` false, granted locks of
// `kind` ("FLOCK", "OFDLCK", "POSIX"; empty: any).
inline int proc_locks_on(const fs::path& path, bool waiting,
                         const std::string& kind = "") {
  struct ::stat info;
  if (::stat(path.c_str(), &info) != 0) return 0;
  std::ifstream locks("/proc/locks");
  const std::string inode = ":" + std::to_string(info.st_ino) + " ";
  int count = 0;
  for (std::string line; std::getline(locks, line);) {
    if ((line.find("->") != std::string::npos) == waiting &&
        line.find(inode) != std::string::npos &&
        (kind.empty() || line.find(" " + kind + " ") != std::string::npos)) {
      ++count;
    }
  }
  return count;
}

// Returns the number of lock requests blocked in the kernel on `path`.
inline int kernel_waiters(const fs::path& path) {
  return proc_locks_on(path, true);
}

// Runs util-linux flock(1) as run_dreadlock() runs dreadlock.
inline finished_run run_flock(std::vector<std::string> args) {
  return run_dreadlock(std::move(args), {}, flock_binary());
}

// True if `dreadlock -n PATH true` gets the lock (exit 0): nobody holds it.
inline bool lock_is_free(const fs::path& path, bool shared = false) {
  std::vector<std::string> args{"-n"};
  if (shared) args.push_back("-s");
  args.insert(args.end(), {path.string(), "true"});
  return run_dreadlock(args).status.exited_with(0);
}

// Returns how many of `pid`'s descriptors name the file `path`.
inline int descriptors_on(pid_t pid, const fs::path& path) {
  struct ::stat target;
  if (::stat(path.c_str(), &target) != 0) return 0;
  int count = 0;
  std::error_code error;
  for (const auto& entry :
       fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
    struct ::stat info;
    if (::stat(entry.path().c_str(), &info) == 0 &&
        info.st_dev == target.st_dev && info.st_ino == target.st_ino) {
      ++count;
    }
  }
  return count;
}

}  // namespace cli_test

#endif  // DREADLOCKS_TESTS_CLI_CLI_SUPPORT_HPP_
