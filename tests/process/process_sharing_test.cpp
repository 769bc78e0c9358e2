// tests/process/process_sharing_test.cpp
//
// One process, several holds of one lock file: reentrancy across the two
// levels in one thread (modes mixed, upgrade and downgrade of the OS lock),
// the threads of a process sharing the process level, and the close trap
// (a lock taken and released through another spelling of a held file must
// not release the held lock). Another process (a prober child) says at each
// step whether it is refused.

#define BOOST_TEST_MODULE dreadlocks process sharing
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/process/process_test_common.hpp"
#include "tests/support/nothing_left_behind.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

// Everything this process held is released: another process gets the
// file exclusively, this process is back to `fds` descriptors and has no
// lock file open.
template <class Lock>
void check_all_released(dlt::prober<Lock>& other, std::size_t fds) {
  BOOST_TEST(other.try_lock(false) == attempt::granted, other.last_detail());
  BOOST_TEST(dlt::live_descriptor_count() == fds);
  BOOST_TEST(introspection::open_lock_files() == 0u);
}

// Restores the working directory on scope exit.
class scoped_chdir {
 public:
  explicit scoped_chdir(const fs::path& dir) : previous_(fs::current_path()) {
    fs::current_path(dir);
  }
  ~scoped_chdir() { fs::current_path(previous_); }

 private:
  fs::path previous_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(process_sharing)

// Nested path_lock / process_level_path_lock on one file in one thread,
// reentrant, modes mixed: shared inside exclusive keeps the OS lock
// exclusive; releasing the exclusive hold downgrades it to shared; an
// exclusive hold inside shared upgrades it (no other process holds); all
// released, another process gets exclusive at once.
BOOST_AUTO_TEST_CASE_TEMPLATE(reentrancy_across_levels, P,
                              dlt::process_policies) {
  dlt::watchdog dog(20s);
  using process_only = dlt::process_level_lock<P>;
  using both = dlt::both_levels_lock<P>;
  const auto file = dlt::unique_path("reentrant");
  dlt::prober<process_only> other(file);
  const std::size_t fds = dlt::live_descriptor_count();
  {
    both outer(file, dlt::mode(false));
    BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
    process_only inner_shared(file, dlt::mode(true, true, true));
    both inner_both(file, dlt::mode(true, false, true));
    BOOST_TEST(inner_shared.native_handle() == outer.native_handle());
    BOOST_TEST(inner_both.native_handle() == outer.native_handle());
    BOOST_TEST(dlt::live_descriptor_count() == fds + 1);
    BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
    BOOST_TEST(other.try_lock(false) == attempt::process_would_block);

    // Only shared holds are left: the OS lock is downgraded.
    outer.unlock();
    BOOST_TEST(other.try_lock(true) == attempt::granted, other.last_detail());
    BOOST_TEST(other.try_lock(false) == attempt::process_would_block);

    {
      // Exclusive inside shared: upgrades at once, nobody else holds it.
      process_only upgrade(file, dlt::mode(false, false, true));
      BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
      // And at both levels: this thread is the only thread-level holder.
      both upgrade_both(file, dlt::mode(false, false, true));
      BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
      BOOST_TEST(dlt::live_descriptor_count() == fds + 1);
    }
    BOOST_TEST(other.try_lock(true) == attempt::granted, other.last_detail());
    BOOST_TEST(other.try_lock(false) == attempt::process_would_block);

    // Not reentrant: refused at once at the level that sees the repeat.
    try {
      process_only again(file, dlt::mode(true));
      BOOST_ERROR("a non-reentrant nested process_level lock was granted");
    } catch (const dreadlocks::recursive_deadlock_error& error) {
      BOOST_TEST((error.level() == dreadlocks::lock_level::process));
      BOOST_TEST((error.code() == std::errc::resource_deadlock_would_occur));
      BOOST_TEST(std::string(error.what()).find(dlt::key_of(file).string()) !=
                 std::string::npos);
    }
    BOOST_CHECK_THROW(both(file, dlt::mode(false, false)),
                      dreadlocks::recursive_deadlock_error);
    // The failures left the holds intact.
    BOOST_TEST(other.try_lock(false) == attempt::process_would_block);
    BOOST_TEST(dlt::live_descriptor_count() == fds + 1);
  }
  check_all_released(other, fds);
}

// A process-level guard taken by a thread that has ended (moved out of
// it first) is nobody else's: a thread started later asks without
// reentrancy and is granted (the threads of a process share the process
// level), not refused as a repeat, and the release of the old guard still
// leaves the new thread's hold in place. pthread ids, reused as soon as a
// thread is joined, would take the new thread for the guard's.
BOOST_AUTO_TEST_CASE_TEMPLATE(guard_outliving_its_thread_is_nobody_elses, P,
                              dlt::process_policies) {
  dlt::watchdog dog(20s);
  using process_only = dlt::process_level_lock<P>;
  const auto file = dlt::unique_path("outlived");
  dlt::prober<process_only> other(file);
  const std::size_t fds = dlt::live_descriptor_count();
  for (const bool shared : {false, true}) {
    std::optional<process_only> kept;
    std::thread([&] { kept.emplace(file, dlt::mode(shared)); }).join();
    BOOST_TEST_REQUIRE(kept->owns_lock());
    for (int round = 0; round < 4; ++round) {
      auto later =
          dlt::hold_in_thread<process_only>(file, dlt::mode(shared, false));
      BOOST_TEST(later->wait_settled() == attempt::granted,
                 dlt::mode_name(shared));
      kept.reset();
      BOOST_TEST(other.try_lock(true) ==
                     (shared ? attempt::granted : attempt::process_would_block),
                 "the later thread's hold alone, " << dlt::mode_name(shared));
      later->release();
      kept.emplace(file, dlt::mode(shared));
    }
  }
  check_all_released(other, fds);
}

// More nested holds of one mode than the fast mode's word counts (32767)
// in one thread: the OS lock stays as the holds need it, and is released
// with the last.
BOOST_AUTO_TEST_CASE_TEMPLATE(nesting_deeper_than_the_word_counts, P,
                              dlt::process_policies) {
  dlt::watchdog dog(60s);
  using process_only = dlt::process_level_lock<P>;
  const auto file = dlt::unique_path("deep");
  dlt::prober<process_only> other(file);
  const std::size_t fds = dlt::live_descriptor_count();
  constexpr int kDepth = 33000;
  for (const bool shared : {false, true}) {
    std::vector<process_only> nested;
    nested.reserve(kDepth);
    for (int i = 0; i < kDepth; ++i) {
      nested.emplace_back(file, dlt::mode(shared, true, true));
    }
    BOOST_TEST(other.try_lock(true) ==
               (shared ? attempt::granted : attempt::process_would_block));
    // Released in the order taken: counts, not a stack.
    for (int i = 0; i < kDepth - 1; ++i) nested[i].unlock();
    BOOST_TEST(other.try_lock(false) == attempt::process_would_block);
    BOOST_TEST(dlt::live_descriptor_count() == fds + 1);
    nested.back().unlock();
    BOOST_TEST(other.try_lock(false) == attempt::granted, other.last_detail());
  }
  check_all_released(other, fds);
}

// fork() while holding, then the child locks the same file itself (same
// thread, same key) before releasing its copy of the parent's guard: that
// release must leave the child's own holds alone. The child holds shared
// twice and drops one; its remaining hold keeps the file from another
// process's exclusive request once the parent has let go.
BOOST_AUTO_TEST_CASE_TEMPLATE(forked_child_orphans_leave_its_own_holds, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("fork-own");
  dlt::prober<dlt::process_level_of<Lock>> other(file);
  struct channel {
    dlt::process_event child_ready;
    dlt::process_event parent_checked;
  };
  dlt::shared_object<channel> events;
  std::optional<Lock> held(std::in_place, file, dlt::mode(true));
  dlt::child_process child([&] {
    Lock mine(file, dlt::mode(true, false));
    std::optional<Lock> again(std::in_place, file,
                              dlt::mode(true, false, true));
    held.reset();   // the parent's guard, orphaned here
    again.reset();  // one of the child's own two holds
    events->child_ready.signal();
    dlt::child_require(events->parent_checked.wait(), "parent checked");
    return mine.owns_lock() ? 0 : 1;
  });
  BOOST_TEST_REQUIRE(events->child_ready.wait());
  held.reset();  // now only the child holds the file
  BOOST_TEST(other.try_lock(false) == attempt::process_would_block,
             "the child's remaining shared hold must keep exclusive out");
  BOOST_TEST(other.try_lock(true) == attempt::granted, other.last_detail());
  events->parent_checked.signal();
  BOOST_TEST(dlt::exited_ok(child.wait()));
  BOOST_TEST(other.try_lock(false) == attempt::granted, other.last_detail());
}

// Exclusive inside shared while another process holds shared: a
// non-blocking upgrade is refused at the process level and the shared
// hold stays; once the other process leaves, the upgrade is granted.
BOOST_AUTO_TEST_CASE_TEMPLATE(upgrade_refused_while_another_process_reads, P,
                              dlt::process_policies) {
  dlt::watchdog dog(20s);
  using process_only = dlt::process_level_lock<P>;
  const auto file = dlt::unique_path("upgrade");
  dlt::prober<process_only> other(file);
  dlt::process_holder<process_only> reader(file, dlt::mode(true));
  BOOST_TEST_REQUIRE(reader.wait_settled() == attempt::granted);
  const std::size_t fds = dlt::live_descriptor_count();
  {
    process_only shared(file, dlt::mode(true));
    std::string detail;
    BOOST_TEST(dlt::try_lock_once<process_only>(
                   file, dlt::mode(false, false, true), &detail) ==
                   attempt::process_would_block,
               detail);
    BOOST_TEST(dlt::live_descriptor_count() == fds + 1);
    BOOST_TEST(other.try_lock(true) == attempt::granted, other.last_detail());
    BOOST_TEST(other.try_lock(false) == attempt::process_would_block);
    BOOST_TEST(dlt::exited_ok(reader.release_and_exit()));
    process_only upgrade(file, dlt::mode(false, false, true));
    BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
  }
  BOOST_TEST(other.try_lock(false) == attempt::granted, other.last_detail());
  BOOST_TEST(dlt::live_descriptor_count() == fds);
}

// The threads of one process share the process level (Python parity):
// thread 1 holds process_level exclusive, thread 2 gets process_level
// exclusive too without waiting; the OS lock stays exclusive until both
// have released.
BOOST_AUTO_TEST_CASE_TEMPLATE(threads_share_the_process_level, P,
                              dlt::process_policies) {
  dlt::watchdog dog(20s);
  using process_only = dlt::process_level_lock<P>;
  const auto file = dlt::unique_path("threads-share");
  dlt::prober<process_only> other(file);  // forked before any thread
  const std::size_t fds = dlt::live_descriptor_count();
  {
    std::optional<process_only> first(std::in_place, file, dlt::mode(false));
    auto second =
        dlt::hold_in_thread<process_only>(file, dlt::mode(false, false));
    BOOST_TEST(second->wait_settled() == attempt::granted);
    BOOST_TEST(dlt::live_descriptor_count() == fds + 1);
    BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
    first.reset();
    // Thread 2 still holds exclusive: so does the OS lock.
    BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
    BOOST_TEST(other.try_lock(false) == attempt::process_would_block);
    second->release();
    BOOST_TEST(other.try_lock(false) == attempt::granted, other.last_detail());
  }
  {
    // Shared and exclusive at once: thread 2's exclusive upgrades the OS
    // lock without waiting; its release downgrades it to thread 1's shared.
    process_only reader(file, dlt::mode(true));
    auto writer =
        dlt::hold_in_thread<process_only>(file, dlt::mode(false, false));
    BOOST_TEST(writer->wait_settled() == attempt::granted);
    BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
    writer->release();
    BOOST_TEST(other.try_lock(true) == attempt::granted, other.last_detail());
    BOOST_TEST(other.try_lock(false) == attempt::process_would_block);
  }
  check_all_released(other, fds);
}

// A thread waiting in the kernel (an upgrade of the process's shared OS
// lock while another process reads) holds up no other thread of its
// process: another thread's shared request is granted at once, an
// exclusive non-blocking one is refused at once, and releases return at
// once; the waiter gets exclusive when the other process leaves.
BOOST_AUTO_TEST_CASE_TEMPLATE(waiting_thread_does_not_block_the_others, P,
                              dlt::process_policies) {
  dlt::watchdog dog(20s);
  using process_only = dlt::process_level_lock<P>;
  const auto file = dlt::unique_path("transition");
  dlt::prober<process_only> other(file);
  dlt::process_holder<process_only> reader(file, dlt::mode(true));
  BOOST_TEST_REQUIRE(reader.wait_settled() == attempt::granted);
  std::optional<process_only> shared(std::in_place, file, dlt::mode(true));
  auto writer = dlt::hold_in_thread<process_only>(file, dlt::mode(false));
  BOOST_TEST_REQUIRE(dlt::wait_for_blocked_requests(file, 1));
  BOOST_TEST(!writer->settled_already());
  {
    auto another_reader =
        dlt::hold_in_thread<process_only>(file, dlt::mode(true, false));
    BOOST_TEST(another_reader->wait_settled() == attempt::granted);
    auto another_writer =
        dlt::hold_in_thread<process_only>(file, dlt::mode(false, false));
    BOOST_TEST(another_writer->wait_settled() == attempt::process_would_block);
  }
  shared.reset();  // returns although a thread of this process waits
  BOOST_TEST(!writer->settled_already());
  BOOST_TEST(other.try_lock(true) == attempt::granted, other.last_detail());
  BOOST_TEST(dlt::exited_ok(reader.release_and_exit()));
  BOOST_TEST(writer->wait_settled() == attempt::granted);
  BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
  writer->release();
  BOOST_TEST(other.try_lock(false) == attempt::granted, other.last_detail());
  BOOST_TEST(introspection::open_lock_files() == 0u);
}

// fork() while holding (docs/process-level.md#fork): the child holds
// nothing, at either level: it has no lock descriptor, its own attempts are
// refused like any other process's, and releasing its copies of the
// parent's guards touches nothing (with OFD locks, unlocking through the
// inherited descriptor would release the parent's lock). The parent's lock
// outlives the child.
BOOST_AUTO_TEST_CASE_TEMPLATE(forked_child_holds_nothing, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("fork");
  dlt::prober<dlt::process_level_of<Lock>> other(file);
  struct channel {
    dlt::process_event orphans_released;
    dlt::process_event parent_checked;
  };
  dlt::shared_object<channel> events;
  for (const bool shared : {false, true}) {
    Lock held(file, dlt::mode(shared));
    Lock nested(file, dlt::mode(true, true, true));
    dlt::child_process child([&] {
      dlt::child_require(introspection::open_lock_files() == 0u,
                         "no lock file in the child");
      dlt::child_require(dlt::descriptors_open_on(file) == 0u,
                         "no inherited descriptor on the lock file");
      dlt::child_require(
          dlt::try_lock_once<Lock>(file, dlt::mode(false, false)) ==
              attempt::process_would_block,
          "the child is refused exclusive");
      dlt::child_require(
          dlt::try_lock_once<Lock>(file, dlt::mode(true, false)) ==
              (shared ? attempt::granted : attempt::process_would_block),
          "the child gets shared iff the parent holds shared");
      nested.unlock();
      held.unlock();
      events->orphans_released.signal();
      dlt::child_require(events->parent_checked.wait(), "parent checked");
      return 0;
    });
    BOOST_TEST_REQUIRE(events->orphans_released.wait());
    BOOST_TEST(other.try_lock(false) == attempt::process_would_block,
               dlt::mode_name(shared));
    BOOST_TEST(other.try_lock(true) ==
                   (shared ? attempt::granted : attempt::process_would_block),
               dlt::mode_name(shared));
    events->parent_checked.signal();
    BOOST_TEST(dlt::exited_ok(child.wait()));
    BOOST_TEST(other.try_lock(false) == attempt::process_would_block,
               dlt::mode_name(shared) << ", after the child exited");
    BOOST_TEST(held.owns_lock());
  }
  BOOST_TEST(other.try_lock(false) == attempt::granted, other.last_detail());
  BOOST_TEST(introspection::open_lock_files() == 0u);
}

// The close trap: while a lock is held through one spelling of a file,
// take and release a lock through another spelling (relative after chdir,
// a symlinked directory, a hard link) in the same process, from this thread
// (reentrant) and from another thread. Another process must still be
// refused, and the process holds one descriptor on the file throughout.
BOOST_AUTO_TEST_CASE_TEMPLATE(close_trap_other_spellings, P,
                              dlt::process_policies) {
  dlt::watchdog dog(20s);
  using process_only = dlt::process_level_lock<P>;
  using both = dlt::both_levels_lock<P>;
  const fs::path dir = dlt::unique_path("trap-dir");
  fs::create_directory(dir);
  const fs::path file = dir / "lock";
  const fs::path linked_dir = dlt::unique_path("trap-link");
  fs::create_directory_symlink(dir, linked_dir);
  { process_only create(file); }  // the file exists before the hard link
  const fs::path hard_link = dir / "hard-link";
  fs::create_hard_link(file, hard_link);

  dlt::prober<process_only> other(file);
  const std::size_t fds = dlt::live_descriptor_count();
  const auto check_refused = [&](const std::string& when) {
    BOOST_TEST(other.try_lock(true) == attempt::process_would_block, when);
    BOOST_TEST(other.try_lock(false) == attempt::process_would_block, when);
    BOOST_TEST(dlt::descriptors_open_on(file) == 1u, when);
    BOOST_TEST(dlt::live_descriptor_count() == fds + 1, when);
  };

  for (const bool held_shared : {false, true}) {
    const std::string mode = held_shared ? "held shared" : "held exclusive";
    both held(file, dlt::mode(held_shared));
    if (held_shared) {
      // A shared hold refuses exclusive only.
      BOOST_TEST(other.try_lock(false) == attempt::process_would_block);
    } else {
      check_refused(mode);
    }
    const auto another_spelling = [&](const fs::path& spelling,
                                      const std::string& name) {
      {
        both again(spelling, dlt::mode(held_shared, false, true));
        BOOST_TEST(again.native_handle() == held.native_handle(), name);
        BOOST_TEST(dlt::descriptors_open_on(file) == 1u, name);
        BOOST_TEST(dlt::live_descriptor_count() == fds + 1, name);
      }
      {
        process_only again(spelling, dlt::mode(true, false, true));
        BOOST_TEST(dlt::descriptors_open_on(file) == 1u, name);
      }
      auto thread =
          dlt::hold_in_thread<process_only>(spelling, dlt::mode(true, false));
      BOOST_TEST(thread->wait_settled() == attempt::granted, name);
      thread->release();
      if (held_shared) {
        BOOST_TEST(other.try_lock(false) == attempt::process_would_block,
                   mode << ", after " << name);
        BOOST_TEST(dlt::descriptors_open_on(file) == 1u, name);
      } else {
        check_refused(mode + ", after " + name);
      }
    };
    {
      scoped_chdir in_dir(dir);
      // `sub/..` reaches the file through a real `sub` (docs/keys.md).
      fs::create_directories(dir / "sub");
      another_spelling("lock", "a relative spelling");
      another_spelling("./sub/../lock", "a dotted relative spelling");
    }
    another_spelling(linked_dir / "lock", "a symlinked directory");
    another_spelling(hard_link, "a hard link");
    another_spelling(linked_dir / "hard-link",
                     "a hard link through a symlinked directory");
  }
  BOOST_TEST(other.try_lock(false) == attempt::granted, other.last_detail());
  BOOST_TEST(dlt::live_descriptor_count() == fds);
  BOOST_TEST(dlt::descriptors_left_on(file) == 0u);
  BOOST_TEST(introspection::open_lock_files() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
