// tests/process/process_out_of_memory_test.cpp
//
// Every allocation of an acquisition refused in turn (the 1st, the 2nd, ...
// until the acquisition allocates no more than it is allowed and succeeds),
// once alone and once with every later allocation refused too, in each
// situation an acquisition can meet: the first lock of the process; a new
// file while another is held; a second thread sharing; a process-level
// upgrade beside shared holds; reentrant repeats; a multi-path lock; a path
// mutex; a request another process refuses. After every refusal the
// acquisition has thrown std::bad_alloc and left the process as it found
// it: the same descriptors, the same registry entries, the same thread-level
// holds (what another thread is granted), the same OS lock (what another
// process is granted); and the next attempt succeeds. SQLite's
// out-of-memory tests are the model.
//
// This binary replaces operator new so that the thread under test can be
// refused memory on demand. Each attempt runs on a thread of its own, after
// the registries dropped what they keep for reuse, so that every attempt
// meets the cold path (a new thread's recent keys are empty).

#define BOOST_TEST_MODULE dreadlocks process out of memory
#include <boost/test/unit_test.hpp>
#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dreadlocks/introspection.hpp"
#include "tests/process/process_test_common.hpp"
#include "tests/support/nothing_left_behind.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

// Set by the thread under test: the allocation that fails, counted from
// now (0: none), and whether every later one fails too.
thread_local long refuse_countdown = 0;
thread_local bool refuse_later_too = false;
thread_local long refusals = 0;

}  // namespace

void* operator new(std::size_t size) {
  if (refuse_countdown != 0 && --refuse_countdown == 0) {
    ++refusals;
    if (refuse_later_too) refuse_countdown = 1;
    throw std::bad_alloc();
  }
  void* block = std::malloc(size == 0 ? 1 : size);
  if (block == nullptr) throw std::bad_alloc();
  return block;
}

void operator delete(void* block) noexcept { std::free(block); }

void operator delete(void* block, std::size_t) noexcept { std::free(block); }

namespace {

template <class P>
using both_levels_mutex = dlt::with_both_levels<dreadlocks::basic_path_mutex, P>;
template <class P>
using both_levels_multi_path_lock =
    dlt::with_both_levels<dreadlocks::basic_multi_path_lock, P>;
template <class P>
using process_level_multi_path_lock =
    dlt::with_process_level<dreadlocks::basic_multi_path_lock, P>;

// Every composition, the thread level alone included.
using all_locks =
    boost::mpl::list<dlt::process_level_lock<dreadlocks::ofd_process_lock>,
                     dlt::both_levels_lock<dreadlocks::ofd_process_lock>,
                     dlt::process_level_lock<dreadlocks::fcntl_process_lock>,
                     dlt::both_levels_lock<dreadlocks::fcntl_process_lock>,
                     dreadlocks::thread_level_path_lock>;

// What the rest of the world sees of one file: what another process and
// another thread of this one are granted (non-blocking, at once released),
// and what this process has open and registered.
struct world {
  attempt process_shared;
  attempt process_exclusive;
  attempt thread_shared;
  attempt thread_exclusive;
  std::size_t descriptors;
  std::size_t lock_files;
  std::size_t thread_keys;

  bool operator==(const world& other) const {
    return process_shared == other.process_shared &&
           process_exclusive == other.process_exclusive &&
           thread_shared == other.thread_shared &&
           thread_exclusive == other.thread_exclusive &&
           descriptors == other.descriptors &&
           lock_files == other.lock_files && thread_keys == other.thread_keys;
  }
  bool operator!=(const world& other) const { return !(*this == other); }
};

std::ostream& operator<<(std::ostream& out, const world& seen) {
  return out << "{another process: shared " << seen.process_shared
             << ", exclusive " << seen.process_exclusive
             << "; another thread: shared " << seen.thread_shared
             << ", exclusive " << seen.thread_exclusive << "; "
             << seen.descriptors << " descriptors, " << seen.lock_files
             << " lock files, " << seen.thread_keys << " thread-level keys}";
}

// One situation: holds taken by the thread under test before the
// acquisition (set_up, undone by tear_down), the acquisition itself
// (acquire, which keeps what it takes until release). Holds of other
// threads and processes are taken by the test case around the run.
struct situation {
  std::string name;
  std::function<void()> set_up = [] {};
  std::function<void()> acquire;
  std::function<void()> release;
  std::function<void()> tear_down = [] {};
  // False for an acquisition that may find all it needs already made (a
  // repeat through the same key): then it need not allocate at all.
  bool allocates = true;
};

// Looks at `file` from outside this process, and at what this process has
// open and registered; changes nothing here.
template <class Prober>
world look_from_outside(Prober& other) {
  world seen{};
  seen.process_shared = other.try_lock(true);
  seen.process_exclusive = other.try_lock(false);
  seen.thread_shared = seen.thread_exclusive = attempt::other_error;
  seen.descriptors = dlt::live_descriptor_count();
  seen.lock_files = introspection::open_lock_files();
  seen.thread_keys = introspection::held_thread_keys();
  return seen;
}

// Looks at `file` from outside and from a new thread that locks it with
// Lock (non-reentrant, so that it is refused wherever another thread holds
// the thread level). Locking from here changes this process's registries
// (it may record a file opened alone, leave a file state for reuse), so
// the look at a refusal's aftermath is look_from_outside().
template <class Lock, class Prober>
world look_at(const fs::path& file, Prober& other) {
  world seen = look_from_outside(other);
  std::thread([&] {
    seen.thread_shared = dlt::try_lock_once<Lock>(file, dlt::mode(true, false));
    seen.thread_exclusive =
        dlt::try_lock_once<Lock>(file, dlt::mode(false, false));
  }).join();
  return seen;
}

// Forgets what the registries keep for reuse, so that the next acquisition
// allocates what a cold one does.
void drop_reusable_state() { introspection::trim(); }

// Runs `acquire` of `what` with its n-th allocation refused (and every
// later one, with `later_too`), for n = 1, 2, ... until it succeeds without
// a refusal. After each refusal: the world as before, seen from outside;
// the holds taken before released as they stand (a registry left
// inconsistent fails there); the next attempt succeeds and leaves the world
// as before. Returns the number of allocations refused in turn.
template <class Lock, class Prober>
long refuse_each_allocation(const situation& what, const fs::path& file,
                            Prober& other, bool later_too) {
  for (long n = 1; n < 1000; ++n) {
    BOOST_TEST_CONTEXT(what.name << ": allocation " << n << " refused"
                                 << (later_too ? ", and every later one" : "")) {
      bool succeeded = false;
      std::thread([&] {
        what.set_up();
        const world before = look_at<Lock>(file, other);
        // Again, so that the look leaves nothing the acquisition finds.
        what.tear_down();
        what.set_up();
        drop_reusable_state();
        const world quiet_before = look_from_outside(other);
        std::string unexpected;
        bool refused = false;
        refuse_later_too = later_too;
        refuse_countdown = n;
        refusals = 0;
        try {
          what.acquire();
        } catch (const std::bad_alloc&) {
          refused = true;
        } catch (const std::exception& error) {
          unexpected = error.what();
        }
        refuse_countdown = 0;
        BOOST_TEST(unexpected.empty(), "threw " << unexpected);
        if (!refused) {
          // Fewer than n allocations: nothing was refused, and the
          // acquisition is complete.
          BOOST_TEST(refusals == 0);
          what.release();
          succeeded = true;
        } else {
          BOOST_TEST(refusals >= 1);
          const world after = look_from_outside(other);
          BOOST_TEST(after == quiet_before, "after the refusal: "
                                                << after << ", before: "
                                                << quiet_before);
          what.tear_down();
          what.set_up();
          what.acquire();  // the next attempt succeeds (throws if not)
          what.release();
          // Made anew: a mutex keeps its file open until it is destroyed
          // (docs/mutex.md), and `before` saw a mutex never locked.
          what.tear_down();
          what.set_up();
          const world again = look_at<Lock>(file, other);
          BOOST_TEST(again == before, "after the next attempt: "
                                          << again << ", before: " << before);
        }
        what.tear_down();
      }).join();
      if (succeeded) return n - 1;
    }
  }
  BOOST_FAIL(what.name << ": still allocating after 1000 allocations");
  return 0;
}

// Runs both refusal modes; requires that the acquisition allocates at all
// (so that no situation passes without a refusal).
template <class Lock, class Prober>
void refuse_in_turn(const situation& what, const fs::path& file,
                    Prober& other) {
  const long alone = refuse_each_allocation<Lock>(what, file, other, false);
  const long later = refuse_each_allocation<Lock>(what, file, other, true);
  BOOST_TEST_MESSAGE(what.name << ": " << alone << " allocations refused");
  if (what.allocates) {
    BOOST_TEST(alone >= 1, what.name << " allocated nothing to refuse");
  }
  BOOST_TEST(later == alone);
}

// A guard per hold, kept by a situation between acquire and release.
template <class Lock>
situation lock_situation(std::string name, std::optional<Lock>& guard,
                         const fs::path& file, dreadlocks::lock_options options) {
  situation what;
  what.name = std::move(name);
  what.acquire = [&guard, file, options] { guard.emplace(file, options); };
  what.release = [&guard] { guard.reset(); };
  return what;
}

BOOST_AUTO_TEST_CASE_TEMPLATE(first_lock, Lock, all_locks) {
  dlt::watchdog dog(120s);
  const auto file = dlt::unique_path("oom-first");
  dlt::prober<dlt::process_level_lock<dreadlocks::ofd_process_lock>> other(
      file);
  std::optional<Lock> guard;
  for (const bool shared : {false, true}) {
    refuse_in_turn<Lock>(
        lock_situation<Lock>(shared ? "first lock, shared" : "first lock",
                             guard, file, dlt::mode(shared)),
        file, other);
  }
}

// The reported defect: the first file held was opened while nothing else
// was (and not identified); the second one records both.
BOOST_AUTO_TEST_CASE_TEMPLATE(new_file_beside_another, Lock, all_locks) {
  dlt::watchdog dog(120s);
  const auto file = dlt::unique_path("oom-second");
  const auto held_first = dlt::unique_path("oom-first-held");
  dlt::prober<dlt::process_level_lock<dreadlocks::ofd_process_lock>> other(
      file);
  std::optional<Lock> first;
  std::optional<Lock> guard;
  for (const bool shared : {false, true}) {
    situation what = lock_situation<Lock>(
        "a new file beside another", guard, file, dlt::mode(shared));
    what.set_up = [&] { first.emplace(held_first, dlt::mode(shared)); };
    what.tear_down = [&] { first.reset(); };
    refuse_in_turn<Lock>(what, file, other);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(second_thread_sharing, Lock, all_locks) {
  dlt::watchdog dog(120s);
  const auto file = dlt::unique_path("oom-sharing");
  dlt::prober<dlt::process_level_lock<dreadlocks::ofd_process_lock>> other(
      file);
  const Lock first_thread(file, dlt::mode(true));
  std::optional<Lock> guard;
  refuse_in_turn<Lock>(lock_situation<Lock>("a second thread sharing", guard,
                                            file, dlt::mode(true)),
                       file, other);
}

// Threads of one process share the process level: a second thread's
// exclusive request raises the OS lock beside the first one's shared hold.
BOOST_AUTO_TEST_CASE_TEMPLATE(upgrade_beside_shared_holds, P,
                              dlt::process_policies) {
  dlt::watchdog dog(120s);
  using process_only = dlt::process_level_lock<P>;
  using both = dlt::both_levels_lock<P>;
  const auto file = dlt::unique_path("oom-upgrade");
  dlt::prober<process_only> other(file);
  const process_only reader(file, dlt::mode(true));
  std::optional<process_only> writer;
  refuse_in_turn<process_only>(
      lock_situation<process_only>("a process-level upgrade", writer, file,
                                   dlt::mode(false)),
      file, other);
  std::optional<both> both_writer;
  refuse_in_turn<process_only>(
      lock_situation<both>("a process-level upgrade under path_lock",
                           both_writer, file, dlt::mode(false)),
      file, other);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(reentrant_repeat, Lock, all_locks) {
  dlt::watchdog dog(120s);
  const auto file = dlt::unique_path("oom-repeat");
  dlt::prober<dlt::process_level_lock<dreadlocks::ofd_process_lock>> other(
      file);
  std::optional<Lock> outer;
  std::optional<Lock> guard;
  struct nesting {
    const char* name;
    bool outer_shared;
    bool inner_shared;
  };
  // A repeat through the key the thread holds finds it in the thread's
  // recent keys and may allocate nothing; one through a hard link makes a
  // new key and, at the process level, a new spelling of the held file.
  const auto link = dlt::unique_path("oom-repeat-link");
  std::ofstream(file).put('x');
  fs::create_hard_link(file, link);
  for (const nesting& n :
       {nesting{"exclusive in exclusive", false, false},
        nesting{"shared in exclusive", false, true},
        nesting{"shared in shared", true, true},
        nesting{"exclusive in shared (upgrade)", true, false}}) {
    for (const bool through_link : {false, true}) {
      situation what = lock_situation<Lock>(
          std::string("a reentrant repeat, ") + n.name +
              (through_link ? ", through a hard link" : ""),
          guard, through_link ? link : file,
          dlt::mode(n.inner_shared, true, true));
      what.set_up = [&] { outer.emplace(file, dlt::mode(n.outer_shared)); };
      what.tear_down = [&] { outer.reset(); };
      what.allocates = through_link;
      refuse_in_turn<Lock>(what, file, other);
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(multi_path_lock, P, dlt::process_policies) {
  dlt::watchdog dog(120s);
  const auto file = dlt::unique_path("oom-multi-a");
  const std::vector<fs::path> files{file, dlt::unique_path("oom-multi-b"),
                                    dlt::unique_path("oom-multi-c")};
  dlt::prober<dlt::process_level_lock<P>> other(file);
  std::optional<both_levels_multi_path_lock<P>> both;
  std::optional<process_level_multi_path_lock<P>> process_only;
  for (const bool shared : {false, true}) {
    situation what;
    what.name = "multi_path_lock";
    what.acquire = [&] { both.emplace(files, dlt::mode(shared)); };
    what.release = [&] { both.reset(); };
    refuse_in_turn<dlt::both_levels_lock<P>>(what, file, other);
    what.name = "process-level multi_path_lock";
    what.acquire = [&] { process_only.emplace(files, dlt::mode(shared)); };
    what.release = [&] { process_only.reset(); };
    refuse_in_turn<dlt::both_levels_lock<P>>(what, file, other);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(path_mutex, P, dlt::process_policies) {
  dlt::watchdog dog(120s);
  const auto file = dlt::unique_path("oom-mutex");
  dlt::prober<dlt::process_level_lock<P>> other(file);
  std::optional<both_levels_mutex<P>> mutex;
  situation what;
  what.name = "path_mutex::lock";
  what.set_up = [&] { mutex.emplace(file); };
  what.acquire = [&] { mutex->lock(); };
  what.release = [&] { mutex->unlock(); };
  what.tear_down = [&] { mutex.reset(); };
  refuse_in_turn<dlt::both_levels_lock<P>>(what, file, other);
  what.name = "path_mutex::lock_shared";
  what.acquire = [&] { mutex->lock_shared(); };
  what.release = [&] { mutex->unlock_shared(); };
  refuse_in_turn<dlt::both_levels_lock<P>>(what, file, other);
  // The mutex made under refusal: its key is the allocation to refuse.
  what.name = "path_mutex made and locked";
  what.set_up = [] {};
  what.acquire = [&] {
    mutex.emplace(file);
    try {
      mutex->lock();
    } catch (...) {
      mutex.reset();
      throw;
    }
  };
  what.release = [&] {
    mutex->unlock();
    mutex.reset();
  };
  what.tear_down = [] {};
  refuse_in_turn<dlt::both_levels_lock<P>>(what, file, other);
}

// Another process holds the file exclusively: the request ends in the
// process-level would-block error when it is allowed its allocations, and
// in std::bad_alloc, with nothing left, when it is not.
BOOST_AUTO_TEST_CASE_TEMPLATE(refused_by_another_process, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(120s);
  const auto file = dlt::unique_path("oom-refused");
  dlt::prober<dlt::process_level_lock<typename Lock::process_policy>> other(
      file);
  dlt::process_holder<dlt::process_level_lock<typename Lock::process_policy>>
      rival(file, dlt::mode(false));
  BOOST_TEST_REQUIRE(rival.wait_settled() == attempt::granted);
  for (const bool shared : {false, true}) {
    situation what;
    what.name = shared ? "refused by another process, shared"
                       : "refused by another process";
    what.acquire = [&] {
      try {
        const Lock lock(file, dlt::mode(shared, false));
        BOOST_ERROR("granted beside another process's exclusive lock");
      } catch (
          const dreadlocks::acquiring_process_level_lock_would_block_error&) {
        // The outcome when memory is not refused.
      }
    };
    what.release = [] {};
    refuse_in_turn<Lock>(what, file, other);
  }
  BOOST_TEST(dlt::exited_ok(rival.release_and_exit()));
}

}  // namespace
