// tests/process/process_test_common.hpp
//
// What the process-level tests share: the lock types every scenario runs
// against (both process policies, with and without the thread level), a
// child that probes a lock without blocking on command, and checks of the
// would-block error.
// It brings the library and the support headers a process test uses
// (watchdog, holders, children, shared memory, descriptor and /proc/locks
// counts, scratch paths), so that a test includes this header alone.

#ifndef DREADLOCKS_TESTS_PROCESS_PROCESS_TEST_COMMON_HPP_
#define DREADLOCKS_TESTS_PROCESS_PROCESS_TEST_COMMON_HPP_

#include <atomic>
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "dreadlocks/introspection.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/fd_count.hpp"
#include "tests/support/holder.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/outcome.hpp"
#include "tests/support/proc_locks.hpp"
#include "tests/support/scenario_locks.hpp"
#include "tests/support/shared_memory.hpp"
#include "tests/support/temp_path.hpp"
#include "tests/support/watchdog.hpp"

namespace dreadlocks_test {

// Every scenario runs against each OS primitive shipped.
using process_policies = boost::mpl::list<dreadlocks::ofd_process_lock,
                                          dreadlocks::fcntl_process_lock,
                                          dreadlocks::flock_process_lock>;

// ... and, where the thread level does not change the scenario, against
// both compositions of each.
using file_locks =
    boost::mpl::list<process_level_lock<dreadlocks::ofd_process_lock>,
                     both_levels_lock<dreadlocks::ofd_process_lock>,
                     process_level_lock<dreadlocks::fcntl_process_lock>,
                     both_levels_lock<dreadlocks::fcntl_process_lock>,
                     process_level_lock<dreadlocks::flock_process_lock>,
                     both_levels_lock<dreadlocks::flock_process_lock>>;

// Lock, taken through an existing key (the constructor the library's own
// guards and mutexes use) rather than a path.
template <class Lock>
Lock lock_through(const dreadlocks::lock_key& key,
                  const dreadlocks::lock_options& options) {
  return Lock(key, options, {}, "test");
}

// Tries Lock on `path` (in `shared` mode, without waiting) and checks that it throws std::system_error with
// `code` and a message containing `named`, and leaves no descriptor (idle
// ones included) and no registry entry behind. Returns an empty string or what went wrong (so
// that children can use it too).
template <class Lock>
std::string check_failure(const std::filesystem::path& path, std::errc code,
                          const std::vector<std::string>& named,
                          bool shared = false) {
  const std::size_t fds = live_descriptor_count();
  const std::size_t files = dreadlocks::introspection::open_lock_files();
  const std::size_t idle = dreadlocks::introspection::idle_lock_files();
  std::string problem;
  try {
    Lock lock(path, mode(shared, false));
    problem = "granted";
  } catch (const std::system_error& error) {
    const std::string what = error.what();
    if (error.code() != code) {
      problem = "wrong code " + error.code().message() + " (" + what + ")";
    } else {
      for (const auto& text : named) {
        if (what.find(text) == std::string::npos) {
          problem +=
              "message \"" + what + "\" does not contain \"" + text + "\"; ";
        }
      }
    }
  } catch (const std::exception& error) {
    problem = std::string("not a std::system_error: ") + error.what();
  }
  if (live_descriptor_count() != fds) problem += "; leaked a descriptor";
  if (dreadlocks::introspection::idle_lock_files() > idle)
    problem += "; kept an idle descriptor";
  if (dreadlocks::introspection::open_lock_files() != files)
    problem += "; left a registry entry";
  return problem;
}

// For BOOST_TEST: whether a child exited with status 0; if not, the
// failure says how it ended.
inline boost::test_tools::predicate_result exited_ok(
    const exit_status& status) {
  boost::test_tools::predicate_result result(status.ok());
  if (!status.ok()) result.message() << status.describe();
  return result;
}

// Tries Lock on `file` with `options` and releases at once; says how it
// went. A would-block error is also checked for level, code, mode and
// path; `detail` (if given) receives the message of any error.
template <class Lock>
attempt try_lock_once(const std::filesystem::path& file,
                      dreadlocks::lock_options options,
                      std::string* detail = nullptr) {
  bool well_formed = true;
  const attempt result = attempt_of(
      [&] {
        Lock lock(file, options);
        if (!lock.owns_lock()) throw std::logic_error("granted, not owned");
      },
      [&](const std::exception& error) {
        if (detail) *detail = error.what();
        const auto* refused = dynamic_cast<
            const dreadlocks::acquiring_process_level_lock_would_block_error*>(
            &error);
        if (refused == nullptr) return;
        const std::string what = error.what();
        // The key as the guard folds it: `..` kept where open(2) needs it.
        const std::filesystem::path key =
            dreadlocks::lock_key(file, "test", Lock::kKeyForm).path();
        well_formed = refused->level() == dreadlocks::lock_level::process &&
                      refused->code() == std::errc::operation_would_block &&
                      refused->shared() == options.shared &&
                      refused->path() == key &&
                      what.find(key.string()) != std::string::npos &&
                      what.find("process-level") != std::string::npos &&
                      what.find(mode_name(options.shared)) != std::string::npos;
      });
  return well_formed ? result : attempt::other_error;
}

// prober
//
// A child process, forked at construction, that tries Lock on `file`
// without blocking whenever the parent asks (try_lock) and releases it at
// once: "is another process refused right now?". Fork it before the test
// takes any lock.
template <class Lock>
class prober {
  struct channel {
    process_event asked;
    process_event answered;
    std::atomic<int> shared{0};
    std::atomic<int> quit{0};
    std::atomic<int> result{0};
    char detail[512] = {};
  };

 public:
  explicit prober(std::filesystem::path file)
      : file_(std::move(file)), child_([this] { return serve(); }) {}

  prober(const prober&) = delete;
  prober& operator=(const prober&) = delete;

  ~prober() {
    channel_->quit = 1;
    channel_->asked.signal();
    child_.wait(std::chrono::seconds(5));
  }

  // Asks the child to try a non-blocking lock in `shared` or exclusive
  // mode; returns what it got (other_error if it did not answer in time).
  attempt try_lock(bool shared) {
    channel_->shared = shared ? 1 : 0;
    channel_->asked.signal();
    if (!channel_->answered.wait()) return attempt::other_error;
    return static_cast<attempt>(channel_->result.load());
  }

  // The message of the last refused attempt.
  std::string last_detail() const { return channel_->detail; }

 private:
  int serve() {
    for (;;) {
      child_require(channel_->asked.wait(std::chrono::seconds(20)),
                    "prober: asked again in time");
      if (channel_->quit) return 0;
      std::string detail;
      const attempt result = try_lock_once<Lock>(
          file_, mode(channel_->shared != 0, false), &detail);
      std::strncpy(channel_->detail, detail.c_str(),
                   sizeof channel_->detail - 1);
      channel_->result = static_cast<int>(result);
      channel_->answered.signal();
    }
  }

  std::filesystem::path file_;
  shared_object<channel> channel_;
  child_process child_;
};

}  // namespace dreadlocks_test

// How every process test spells things. This header is included by the
// test sources of this package only, never by another header.
namespace dlt = dreadlocks_test;
namespace fs = std::filesystem;
namespace introspection = dreadlocks::introspection;
using namespace std::chrono_literals;
using dlt::attempt;

#endif  // DREADLOCKS_TESTS_PROCESS_PROCESS_TEST_COMMON_HPP_
