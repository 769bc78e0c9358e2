// tests/mutex/kept_file_test.cpp
//
// A file-backed path mutex keeps its lock file open from its first lock to
// its destructor (issue 16, item 1; docs/mutex.md "The kept descriptor"):
// one descriptor across its cycles, shared with the guards and the other
// mutexes of the process on the file; no lock while unlocked; the file it
// opened is the one it locks, even once the path is deleted or replaced; a
// forked child locks through a descriptor of its own; and a lock that
// fails keeps nothing. That a cycle makes no open or close at all is
// tests/perf:kept_syscalls_test.

#define BOOST_TEST_MODULE dreadlocks kept file
#include <unistd.h>

#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>
#include <thread>

#include "dreadlocks/dreadlocks.hpp"
#include "dreadlocks/introspection.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/fd_count.hpp"
#include "tests/support/holder.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/outcome.hpp"
#include "tests/support/scenario_locks.hpp"
#include "tests/support/shared_memory.hpp"
#include "tests/support/temp_path.hpp"
#include "tests/support/watchdog.hpp"

using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace dlt = dreadlocks_test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using file_mutexes = boost::mpl::list<dreadlocks::path_mutex,
                                      dreadlocks::process_level_path_mutex>;

// What another process tries: a non-blocking exclusive lock of `file`;
// returns how it went.
dlt::attempt try_in_process(const fs::path& file) {
  auto other = dlt::hold_in_process<dreadlocks::process_level_path_lock>(
      file, dlt::mode(false, false));
  return other->wait_settled();
}

void touch(const fs::path& file) { std::ofstream(file).put('x'); }

}  // namespace

// One descriptor from the first lock to the destructor, whatever the
// cycles, and the guards of the process on the file use it too.
BOOST_AUTO_TEST_CASE_TEMPLATE(one_descriptor_for_the_mutex_lifetime, M,
                              file_mutexes) {
  const auto empty = dlt::holdings_now();
  const auto file = dlt::unique_path("kept");
  {
    M m(file);
    BOOST_TEST(dlt::holdings_now() == empty, "nothing opened before a lock");
    m.lock();
    m.unlock();
    const auto kept = dlt::holdings_now();
    BOOST_TEST(kept.open_files == empty.open_files + 1);
    BOOST_TEST(kept.descriptors == empty.descriptors + 1);
    BOOST_TEST(dlt::descriptors_open_on(file) == 1u);
    for (int i = 0; i < 3; ++i) {
      m.lock_shared();
      m.unlock_shared();
      BOOST_TEST(m.try_lock());
      m.unlock();
    }
    {
      const dreadlocks::path_lock guard(file);
      BOOST_TEST(dlt::descriptors_open_on(file) == 1u, "the guard's too");
    }
    BOOST_TEST(dlt::holdings_now() == kept);
  }
  // Let go by the destructor: at most idle for reuse, closed on request.
  BOOST_TEST(dlt::holdings_now() == empty, "let go by the destructor");
  BOOST_TEST(dlt::descriptors_left_on(file) == 0u);
}

// Two mutexes on one file share its descriptor; the file closes with the
// last of them.
BOOST_AUTO_TEST_CASE_TEMPLATE(mutexes_on_one_file_share_it, M, file_mutexes) {
  const auto empty = dlt::holdings_now();
  const auto file = dlt::unique_path("kept-twice");
  std::optional<M> first(std::in_place, file);
  {
    M second(file);
    first->lock();
    first->unlock();
    second.lock_shared();
    second.unlock_shared();
    BOOST_TEST(dlt::descriptors_open_on(file) == 1u);
    BOOST_TEST(dreadlocks::introspection::open_lock_files() == 1u);
  }
  BOOST_TEST(dlt::descriptors_open_on(file) == 1u, "the first keeps it");
  first.reset();
  BOOST_TEST(dlt::holdings_now() == empty);
}

// The kept descriptor holds no lock while the mutex is unlocked: another
// process gets the file then, and is refused while the mutex is locked.
BOOST_AUTO_TEST_CASE_TEMPLATE(unlocked_mutex_excludes_nobody, M,
                              file_mutexes) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("kept-unlocked");
  M m(file);
  m.lock();
  m.unlock();
  BOOST_TEST(try_in_process(file) == dlt::attempt::granted);
  m.lock_shared();
  BOOST_TEST(try_in_process(file) == dlt::attempt::process_would_block);
  m.unlock_shared();
  BOOST_TEST(try_in_process(file) == dlt::attempt::granted);
}

// Like boost::interprocess::file_lock, the mutex locks the file it opened:
// once the path is replaced (renamed away, a new file made in its place)
// or deleted, it goes on locking the file it keeps, and excludes the
// processes that lock that file (docs/mutex.md says so).
BOOST_AUTO_TEST_CASE_TEMPLATE(locks_the_file_it_opened, M, file_mutexes) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("kept-replaced");
  const auto moved = dlt::unique_path("kept-moved");
  M m(file);
  m.lock();
  m.unlock();
  fs::rename(file, moved);
  touch(file);
  m.lock();
  BOOST_TEST(try_in_process(moved) == dlt::attempt::process_would_block,
             "the kept file is locked");
  BOOST_TEST(try_in_process(file) == dlt::attempt::granted,
             "the new file at the path is not");
  m.unlock();
  fs::remove(moved);
  BOOST_TEST(dlt::descriptors_open_on(file) == 0u);
  m.lock();  // the deleted file, still kept
  m.unlock();
  BOOST_TEST(dreadlocks::introspection::open_lock_files() == 1u);
}

// A forked child's mutex locks through a descriptor of its own (an
// inherited OFD descriptor would share the parent's lock): the child's
// hold excludes the parent, and the child keeps one file of its own.
BOOST_AUTO_TEST_CASE_TEMPLATE(forked_child_opens_its_own, M, file_mutexes) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("kept-fork");
  M m(file);
  m.lock();
  m.unlock();
  struct channel {
    dlt::process_event held;
    dlt::process_event release;
  };
  dlt::shared_object<channel> state;
  dlt::child_process child([&] {
    m.lock();
    dlt::child_require(dreadlocks::introspection::open_lock_files() == 1u,
                       "the child keeps one file");
    state->held.signal();
    dlt::child_require(state->release.wait(10s), "told to release");
    m.unlock();
    return 0;
  });
  BOOST_TEST_REQUIRE(state->held.wait(10s));
  BOOST_TEST(!m.try_lock(), "the child's hold excludes the parent");
  state->release.signal();
  const auto status = child.wait();
  BOOST_TEST(status.ok(), status.describe());
  BOOST_TEST(m.try_lock());
  m.unlock();
  BOOST_TEST(dlt::descriptors_open_on(file) == 1u);
}

// A lock that fails keeps nothing; once the path can be opened, the mutex
// keeps its file as usual.
BOOST_AUTO_TEST_CASE_TEMPLATE(failed_lock_keeps_nothing, M, file_mutexes) {
  const auto empty = dlt::holdings_now();
  const auto dir = dlt::unique_path("kept-dir");
  const auto file = dir / "x.lock";
  {
    M m(file);
    BOOST_CHECK_THROW(m.lock(), std::system_error);
    BOOST_CHECK_THROW((void)m.try_lock_shared(), std::system_error);
    BOOST_TEST(dlt::holdings_now() == empty);
    fs::create_directory(dir);
    m.lock();
    m.unlock();
    BOOST_TEST(dlt::descriptors_open_on(file) == 1u);
  }
  BOOST_TEST(dlt::holdings_now() == empty);
  fs::remove_all(dir);
}

// From its second hold on, a mutex locks its kept file directly (without a
// guard; docs/mutex.md "The kept descriptor"): the hold must still be one
// the process's guards see, through the file's thread key, even when
// another spelling (a symlink, held by a guard first) opened the file.
BOOST_AUTO_TEST_CASE(direct_hold_is_seen_by_every_spelling) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("kept-direct");
  const auto link = dlt::unique_path("kept-direct-link");
  touch(file);
  fs::create_symlink(file, link);
  dreadlocks::path_mutex m(file);
  {
    // Opens the file: its key is the file's thread key from now on.
    const dreadlocks::path_lock opener(link, dlt::mode(true));
    std::thread([&] {
      m.lock_shared();  // the first hold, through a guard: keeps the file
      m.unlock_shared();
    }).join();
  }
  m.lock();  // the direct path: the kept file, under the link's key
  const auto try_from_thread = [](const fs::path& spelling) {
    dlt::attempt got = dlt::attempt::other_error;
    std::thread([&] {
      got = dlt::attempt_of([&] {
        dreadlocks::path_lock lock(spelling, dlt::mode(true, false));
      });
    }).join();
    return got;
  };
  BOOST_TEST(try_from_thread(file) == dlt::attempt::thread_would_block);
  BOOST_TEST(try_from_thread(link) == dlt::attempt::thread_would_block);
  BOOST_TEST(dlt::attempt_of([&] { dreadlocks::path_lock again(link); }) ==
                 dlt::attempt::deadlock,
             "the holding thread asking again through the other spelling");
  BOOST_TEST(dlt::attempt_of([&] { m.lock_shared(); }) ==
                 dlt::attempt::deadlock,
             "the holding thread asking the mutex again");
  BOOST_TEST(try_in_process(link) == dlt::attempt::process_would_block);
  m.unlock();
  BOOST_TEST(try_from_thread(link) == dlt::attempt::granted);
  BOOST_TEST(try_in_process(file) == dlt::attempt::granted);
}
