// tests/process/one_file_one_lock_test.cpp
//
// One file, one lock (SPEC §2, issue 12 item 3), for each kind of spelling
// that names a file another spelling also names: `..` after a symlinked
// directory, a symlink to the file, a hard link, and relative paths (one
// through a symlinked directory below the working directory, one from a
// working directory entered through a symlink). For each:
// - processes: another process locking the canonical spelling is refused
//   while this one holds the odd spelling, and the other way round (the
//   process level locks the file open(2) of the spelling names);
// - threads, with path_lock's composition: two threads through the two
//   spellings exclude each other (thread-level would-block), a reentrant
//   repeat through the other spelling is granted as a repeat (one
//   descriptor), a non-reentrant one is refused with a thread-level
//   recursive_deadlock_error, and errors name the path the user gave;
// - path_mutex and multi_path_lock, built on path_lock, do the same;
// - thread_level_path_lock stays lexical and opens nothing.
// Every scenario runs against the OFD and the classic process policies.

#define BOOST_TEST_MODULE dreadlocks one file one lock
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <functional>
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

// A scratch tree:
//   srv/data/            a directory
//   srv/app.lock         the file every spelling below names
//   home/link -> srv/data
//   home/app.lock        what `home/link/../app.lock` names lexically
//   alias.lock -> srv/app.lock
//   hard.lock            a hard link to srv/app.lock
struct tree {
  fs::path root;
  fs::path canonical;
  fs::path decoy;

  tree() : root(dlt::unique_path("one-file")) {
    fs::create_directories(root / "srv" / "data");
    fs::create_directories(root / "home");
    root = fs::canonical(root);
    canonical = root / "srv" / "app.lock";
    decoy = root / "home" / "app.lock";
    fs::create_directory_symlink(root / "srv" / "data", root / "home" / "link");
    { dlt::process_level_lock<dreadlocks::ofd_process_lock> c(canonical); }
    { dlt::process_level_lock<dreadlocks::ofd_process_lock> d(decoy); }
    fs::create_symlink(canonical, root / "alias.lock");
    fs::create_hard_link(canonical, root / "hard.lock");
  }
};

// One odd spelling of the canonical file: its text, and the working
// directory it is to be used from (empty: any).
struct spelling {
  std::string kind;
  fs::path text;
  fs::path cwd;
  // What path_lock's path() returns for it: the absolute spelling with
  // `..` after a symlink kept.
  fs::path as_opened;
};

std::vector<spelling> odd_spellings(const tree& t) {
  return {
      {"`..` after a symlinked directory", t.root / "home/link/../app.lock",
       {}, t.root / "home/link/../app.lock"},
      {"a symlink", t.root / "alias.lock", {}, t.root / "alias.lock"},
      {"a hard link", t.root / "hard.lock", {}, t.root / "hard.lock"},
      {"relative, through a symlinked directory", "link/../app.lock",
       t.root / "home", t.root / "home/link/../app.lock"},
      // getcwd() is free of symlinks: `..` is the real parent.
      {"relative, from a working directory entered through a symlink",
       "../app.lock", t.root / "home/link", t.root / "srv/app.lock"},
  };
}

// Runs `body` with the working directory `cwd` (if not empty), restoring
// the old one after.
void in_directory(const fs::path& cwd, const std::function<void()>& body) {
  if (cwd.empty()) return body();
  const fs::path saved = fs::current_path();
  fs::current_path(cwd);
  try {
    body();
  } catch (...) {
    fs::current_path(saved);
    throw;
  }
  fs::current_path(saved);
}

// What another thread gets trying Lock on `file` (exclusive or shared,
// without blocking) while this thread holds what it holds.
template <class Lock>
attempt from_another_thread(const fs::path& file, bool shared) {
  attempt result = attempt::other_error;
  std::thread other([&] {
    result = dlt::try_lock_once<Lock>(file, dlt::mode(shared, false));
  });
  other.join();
  return result;
}

// (a) Processes: whichever spelling this process holds, another process
// asking through the other is refused.
BOOST_AUTO_TEST_CASE_TEMPLATE(processes_are_excluded_across_spellings, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(60s);
  const tree t;
  for (const spelling& odd : odd_spellings(t)) {
    BOOST_TEST_CONTEXT(odd.kind) {
      // Forked before any lock is taken; both probe absolute spellings.
      dlt::prober<dlt::process_level_of<Lock>> canonical_prober(t.canonical);
      dlt::prober<dlt::process_level_of<Lock>> odd_prober(odd.as_opened);
      in_directory(odd.cwd, [&] {
        {
          Lock held(odd.text, dlt::mode(false));
          BOOST_TEST(held.path() == odd.as_opened);
          BOOST_TEST(canonical_prober.try_lock(true) ==
                     attempt::process_would_block);
          BOOST_TEST(canonical_prober.try_lock(false) ==
                     attempt::process_would_block);
        }
        {
          Lock held(t.canonical, dlt::mode(false));
          BOOST_TEST(odd_prober.try_lock(false) ==
                     attempt::process_would_block);
        }
        {
          // Shared through one spelling admits shared through the other.
          Lock held(odd.text, dlt::mode(true));
          BOOST_TEST(canonical_prober.try_lock(true) == attempt::granted);
          BOOST_TEST(canonical_prober.try_lock(false) ==
                     attempt::process_would_block);
        }
      });
      BOOST_TEST(canonical_prober.try_lock(false) == attempt::granted);
      BOOST_TEST(introspection::open_lock_files() == 0u);
    }
  }
}

// (b) Threads of one process, with path_lock's composition (both levels).
BOOST_AUTO_TEST_CASE_TEMPLATE(threads_are_excluded_across_spellings, P,
                              dlt::process_policies) {
  dlt::watchdog dog(60s);
  using both = dlt::both_levels_lock<P>;
  const tree t;
  for (const spelling& odd : odd_spellings(t)) {
    BOOST_TEST_CONTEXT(odd.kind) {
      in_directory(odd.cwd, [&] {
        for (const bool odd_first : {true, false}) {
          const fs::path first = odd_first ? odd.text : t.canonical;
          const fs::path second = odd_first ? t.canonical : odd.text;
          const fs::path second_named =
              odd_first ? t.canonical : odd.as_opened;
          BOOST_TEST_CONTEXT((odd_first ? "odd" : "canonical")
                             << " spelling held") {
            {
              both held(first, dlt::mode(false));
              std::string detail;
              attempt result = attempt::other_error;
              std::thread other([&] {
                result = dlt::try_lock_once<both>(
                    second, dlt::mode(true, false), &detail);
              });
              other.join();
              BOOST_TEST(result == attempt::thread_would_block);
              // The message names the path that thread gave.
              BOOST_TEST(detail.find(second_named.string()) !=
                             std::string::npos,
                         detail);
              BOOST_TEST(from_another_thread<both>(second, false) ==
                         attempt::thread_would_block);
            }
            {
              // Shared beside shared: granted, one file.
              both held(first, dlt::mode(true));
              BOOST_TEST(from_another_thread<both>(second, true) ==
                         attempt::granted);
              BOOST_TEST(from_another_thread<both>(second, false) ==
                         attempt::thread_would_block);
            }
            {
              both held(first, dlt::mode(false));
              // A reentrant repeat through the other spelling is a repeat.
              std::optional<both> again;
              again.emplace(second, dlt::mode(false, false, true));
              BOOST_TEST(again->owns_lock());
              BOOST_TEST(introspection::open_lock_files() == 1u);
              held.unlock();
              // The repeat alone still holds the file for this thread.
              BOOST_TEST(from_another_thread<both>(first, true) ==
                         attempt::thread_would_block);
              again.reset();
              BOOST_TEST(from_another_thread<both>(first, false) ==
                         attempt::granted);
            }
            {
              both held(first, dlt::mode(true));
              // A non-reentrant repeat through the other spelling: the
              // thread level refuses it at once, naming the path given.
              try {
                both again(second, dlt::mode(false, true, false));
                BOOST_ERROR("a non-reentrant repeat was granted");
              } catch (const dreadlocks::recursive_deadlock_error& error) {
                BOOST_TEST((error.level() == dreadlocks::lock_level::thread));
                BOOST_TEST(error.path() == second_named);
              }
              BOOST_TEST(introspection::open_lock_files() == 1u);
            }
          }
        }
      });
      BOOST_TEST(introspection::open_lock_files() == 0u);
      BOOST_TEST(introspection::held_thread_keys() == 0u);
    }
  }
}

// Threads hammering one file through all its absolute spellings, exclusive
// and shared, some nesting a reentrant repeat through another spelling:
// never two writers, nor a writer beside a reader, and nothing left after.
BOOST_AUTO_TEST_CASE_TEMPLATE(spellings_under_load, P, dlt::process_policies) {
  dlt::watchdog dog(60s);
  using both = dlt::both_levels_lock<P>;
  const tree t;
  const std::vector<fs::path> spellings = {
      t.canonical, t.root / "home/link/../app.lock", t.root / "alias.lock",
      t.root / "hard.lock"};
  std::atomic<int> writers{0};
  std::atomic<int> readers{0};
  std::atomic<int> violations{0};
  std::vector<std::thread> threads;
  for (std::size_t id = 0; id < 4; ++id) {
    threads.emplace_back([&, id] {
      for (std::size_t i = 0; i < 500; ++i) {
        const fs::path& mine = spellings[(id + i) % spellings.size()];
        const fs::path& other = spellings[(id + i + 1) % spellings.size()];
        const bool shared = (i + id) % 3 == 0;
        both held(mine, dlt::mode(shared));
        std::optional<both> nested;
        if (i % 4 == 0) nested.emplace(other, dlt::mode(true, true, true));
        if (shared) {
          ++readers;
          if (writers.load() != 0) ++violations;
          --readers;
        } else {
          if (++writers != 1 || readers.load() != 0) ++violations;
          --writers;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  BOOST_TEST(violations.load() == 0);
  BOOST_TEST(introspection::open_lock_files() == 0u);
  BOOST_TEST(introspection::held_thread_keys() == 0u);
}

// path_mutex and multi_path_lock are path_lock underneath: one file, one
// lock there too. Two spellings of one file in one multi_path_lock are one
// file asked for twice: granted as a repeat when reentrant, else
// recursive_deadlock_error with nothing left behind.
BOOST_AUTO_TEST_CASE(mutex_and_multi_path_lock_see_one_file) {
  dlt::watchdog dog(60s);
  const tree t;
  for (const spelling& odd : odd_spellings(t)) {
    BOOST_TEST_CONTEXT(odd.kind) {
      in_directory(odd.cwd, [&] {
        dreadlocks::path_mutex odd_mutex(odd.text);
        dreadlocks::path_mutex canonical_mutex(t.canonical);
        BOOST_TEST(odd_mutex.path() == odd.as_opened);
        odd_mutex.lock();
        bool got = true;
        std::thread other([&] {
          got = canonical_mutex.try_lock();
          if (got) canonical_mutex.unlock();
        });
        other.join();
        BOOST_TEST(!got);
        odd_mutex.unlock();

        // Spellings whose keys are one text are one path of the set.
        const bool one_key = odd.as_opened == t.canonical;
        if (one_key) {
          BOOST_TEST(dreadlocks::multi_path_lock({odd.text, t.canonical})
                         .guards()
                         .size() == 1u);
        } else {
          BOOST_CHECK_THROW(
              dreadlocks::multi_path_lock({odd.text, t.canonical}),
              dreadlocks::recursive_deadlock_error);
        }
        // The mutex that locked keeps the file open (docs/mutex.md): one.
        BOOST_TEST(introspection::open_lock_files() == 1u);
        dreadlocks::multi_path_lock both({odd.text, t.canonical},
                                         dlt::mode(false, true, true));
        BOOST_TEST(both.guards().size() == (one_key ? 1u : 2u));
        BOOST_TEST(introspection::open_lock_files() == 1u);
        BOOST_TEST(from_another_thread<dreadlocks::path_lock>(t.canonical,
                                                              true) ==
                   attempt::thread_would_block);
      });
      BOOST_TEST(introspection::open_lock_files() == 0u);
    }
  }
}

// (c) thread_level_path_lock never touches the file system, so its keys
// stay lexical: `home/link/../app.lock` is `home/app.lock` there (not the
// file open(2) reaches), a symlink is another key, and nothing is opened;
// path_lock on the same spelling is about srv/app.lock instead.
BOOST_AUTO_TEST_CASE(thread_level_keys_stay_lexical) {
  dlt::watchdog dog(60s);
  const tree t;
  using thread_only = dreadlocks::thread_level_path_lock;
  const fs::path dotted = t.root / "home/link/../app.lock";
  thread_only held(dotted);
  BOOST_TEST(held.path() == t.decoy);
  BOOST_TEST(introspection::open_lock_files() == 0u);
  BOOST_TEST(from_another_thread<thread_only>(t.decoy, true) ==
             attempt::thread_would_block);
  BOOST_TEST(from_another_thread<thread_only>(t.canonical, false) ==
             attempt::granted);
  thread_only canonical(t.canonical);
  BOOST_TEST(from_another_thread<thread_only>(t.root / "alias.lock", false) ==
             attempt::granted);
  BOOST_TEST(from_another_thread<thread_only>(t.root / "hard.lock", false) ==
             attempt::granted);
  // path_lock on the same spelling keys the file open(2) reaches
  // (srv/app.lock), so it does not meet the lexical key held above.
  {
    dreadlocks::path_lock file_lock(dotted);
    BOOST_TEST(file_lock.path() == dotted);
    BOOST_TEST(introspection::open_lock_files() == 1u);
  }
  // A missing file is no concern of the thread level.
  const fs::path missing = t.root / "home/link/../no-such-dir/../never.lock";
  thread_only nothing_opened(missing);
  BOOST_TEST(!fs::exists(t.root / "srv/never.lock"));
  BOOST_TEST(!fs::exists(t.root / "home/never.lock"));
}

}  // namespace
