// tests/process/process_open_test.cpp
//
// How a lock file is opened (SPEC §2 "lock file", issue 12 items 4 and 5),
// for both process policies, with and without the thread level:
// - a dangling symlink is never followed to create its target: planted by
//   another user (uid 65534) in a sticky world-writable directory, or by
//   the same user in any form, it is a std::system_error naming the path
//   and saying "dangling symlink", with nothing created, no descriptor and
//   no registry entry left, and a normal file still locks afterwards;
// - a symlink to an existing file locks that file (another process locking
//   the file directly is refused);
// - processes racing to create one missing lock file all get it, one at a
//   time;
// - a process started with descriptors 0-2 closed never gets its lock file
//   there: native_handle() >= 3 and writes to stderr do not reach the file.

#define BOOST_TEST_MODULE dreadlocks process open
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "tests/process/process_test_common.hpp"
#include "tests/support/nothing_left_behind.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

constexpr uid_t nobody = 65534;

// Where the attacker plants links and the victim's file would go.
struct playground {
  fs::path shared;    // mode 01777: anyone may add entries, as in /tmp
  fs::path private_;  // mode 0700, root's: the attacker cannot write here
};

playground make_playground(const std::string& stem) {
  const fs::path base = dlt::unique_path(stem);
  fs::create_directory(base);
  // The attacker reaches `shared` only through its working directory (set
  // before dropping privileges), so its ancestors need not be searchable.
  playground dirs{base / "shared", base / "private"};
  fs::create_directory(dirs.shared);
  fs::create_directory(dirs.private_);
  BOOST_TEST_REQUIRE(::chmod(dirs.shared.c_str(), 01777) == 0);
  BOOST_TEST_REQUIRE(::chmod(dirs.private_.c_str(), 0700) == 0);
  return dirs;
}

// Plants `shared/name -> target` as user and group 65534, from a child
// that enters `shared` as root and then drops to nobody; checks that the
// attacker itself could not create `target`. Returns how the child ended.
dlt::exit_status plant_as_nobody(const fs::path& shared,
                                 const std::string& name,
                                 const fs::path& target) {
  dlt::child_process attacker([&] {
    if (::chdir(shared.c_str()) != 0) return 10;
    if (::setgroups(0, nullptr) != 0 || ::setgid(nobody) != 0 ||
        ::setuid(nobody) != 0) {
      return 11;  // e.g. a user namespace without uid 65534 mapped
    }
    if (::geteuid() != nobody || ::getegid() != nobody) return 12;
    const int direct = ::open(target.c_str(), O_WRONLY | O_CREAT, 0666);
    if (direct >= 0) return 13;  // the attacker has the right anyway
    if (::symlink(target.c_str(), name.c_str()) != 0) return 14;
    return 0;
  });
  return attacker.wait();
}

// Expects Lock on `link` (a dangling symlink) to throw a std::system_error
// (ENOENT) that names the path and says "dangling symlink", leaving no
// descriptor and no registry entry. Returns what went wrong, or "".
template <class Lock>
std::string check_dangling_refused(const fs::path& link, bool shared) {
  return dlt::check_failure<Lock>(
      link, std::errc::no_such_file_or_directory,
      {"\"" + dlt::key_of(link).string() + "\"", "dangling symlink"}, shared);
}

// Whether the kernel refuses to follow another user's symlink in a sticky
// world-writable directory (fs.protected_symlinks); it is 0 here.
bool symlinks_protected() {
  std::ifstream in("/proc/sys/fs/protected_symlinks");
  int value = 0;
  return (in >> value) && value != 0;
}

BOOST_AUTO_TEST_SUITE(process_open)

// The attack of issue 12 item 4: another user plants x.lock -> a path only
// root may create; root locking x.lock must not create it.
BOOST_AUTO_TEST_CASE_TEMPLATE(dangling_symlink_of_another_user_is_refused, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  BOOST_TEST_REQUIRE(::geteuid() == 0u, "the test plays root, the victim");
  const playground dirs = make_playground("attack");
  const fs::path target = dirs.private_ / "created-by-the-victim";
  const dlt::exit_status planted =
      plant_as_nobody(dirs.shared, "x.lock", target);
  BOOST_TEST_REQUIRE(dlt::exited_ok(planted));
  const fs::path link = dirs.shared / "x.lock";
  struct ::stat info;
  BOOST_TEST_REQUIRE(::lstat(link.c_str(), &info) == 0);
  BOOST_TEST_REQUIRE(S_ISLNK(info.st_mode));
  BOOST_TEST_REQUIRE(info.st_uid == nobody);

  for (const bool shared : {false, true}) {
    BOOST_TEST_CONTEXT(dlt::mode_name(shared)) {
      if (symlinks_protected()) {
        // The kernel refuses to follow the link at all (EACCES) before the
        // library can tell; what matters is that nothing is created.
        try {
          Lock lock(link, dlt::mode(shared, false));
          BOOST_FAIL("a lock through another user's dangling link");
        } catch (const std::system_error& error) {
          BOOST_TEST(std::string(error.what()).find(link.string()) !=
                         std::string::npos,
                     error.what());
        }
      } else {
        BOOST_TEST(check_dangling_refused<Lock>(link, shared) == "");
      }
      BOOST_TEST(!fs::exists(fs::symlink_status(target)));
      BOOST_TEST(fs::is_symlink(fs::symlink_status(link)));
    }
  }
  // Nothing is left behind that stops a normal file from locking.
  const fs::path normal = dirs.shared / "normal.lock";
  {
    Lock lock(normal, dlt::mode(false, false));
    BOOST_TEST(lock.owns_lock());
    BOOST_TEST(dlt::descriptors_open_on(normal) == 1u);
  }
  BOOST_TEST(fs::is_regular_file(normal));
  BOOST_TEST(introspection::open_lock_files() == 0u);
}

// The same refusal for every shape of dangling link a user can make for
// itself: absolute and relative targets, a chain of links, a target whose
// directory is missing. Asked twice: the first refusal leaves nothing that
// would let the second through.
BOOST_AUTO_TEST_CASE_TEMPLATE(every_dangling_symlink_is_refused, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  const fs::path base = dlt::unique_path("dangling");
  fs::create_directory(base);
  const fs::path absolute_target = base / "absolute-target";
  const fs::path chain_target = base / "chain-target";
  const fs::path deep_target = base / "no-such-dir" / "deep-target";
  fs::create_symlink(absolute_target, base / "absolute.lock");
  fs::create_symlink("relative-target", base / "relative.lock");
  fs::create_symlink(chain_target, base / "chain-2");
  fs::create_symlink(base / "chain-2", base / "chain.lock");
  fs::create_symlink(deep_target, base / "deep.lock");
  for (const char* name :
       {"absolute.lock", "relative.lock", "chain.lock", "deep.lock"}) {
    BOOST_TEST_CONTEXT(name) {
      for (int attempt = 0; attempt < 2; ++attempt) {
        BOOST_TEST(check_dangling_refused<Lock>(base / name, false) == "");
      }
    }
  }
  BOOST_TEST(!fs::exists(fs::symlink_status(absolute_target)));
  BOOST_TEST(!fs::exists(fs::symlink_status(base / "relative-target")));
  BOOST_TEST(!fs::exists(fs::symlink_status(chain_target)));
  BOOST_TEST(!fs::exists(fs::symlink_status(base / "no-such-dir")));
  BOOST_TEST(introspection::open_lock_files() == 0u);
}

// A symlink to a file that exists is followed: the lock is on the file, so
// another process locking the file by its own name is refused.
BOOST_AUTO_TEST_CASE_TEMPLATE(symlink_to_existing_file_locks_the_file, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  const fs::path file = dlt::unique_path("target");
  { std::ofstream create(file); }
  const fs::path link = dlt::unique_path("link");
  fs::create_symlink(file, link);
  dlt::prober<dlt::process_level_of<Lock>> other(file);  // before locking
  for (const bool shared : {false, true}) {
    BOOST_TEST_CONTEXT(dlt::mode_name(shared)) {
      {
        Lock lock(link, dlt::mode(shared, false));
        BOOST_TEST(lock.owns_lock());
        BOOST_TEST(dlt::descriptors_open_on(file) == 1u);
        BOOST_TEST(other.try_lock(false) == attempt::process_would_block);
        if (!shared) {
          BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
        }
      }
      BOOST_TEST(other.try_lock(false) == attempt::granted);
    }
  }
  BOOST_TEST(fs::is_symlink(fs::symlink_status(link)));
  BOOST_TEST(fs::file_size(file) == 0u);
  BOOST_TEST(introspection::open_lock_files() == 0u);
}

// The racers' common ground, in shared memory.
constexpr unsigned racers_count = 6;
struct race_state {
  dlt::process_barrier start{racers_count};
  std::atomic<int> inside{0};
  std::atomic<int> most_inside{0};
  std::atomic<int> granted{0};
};

// Processes racing to create the same missing lock files: each round, all
// of them ask for a new file at once, so several find it missing and try
// the exclusive create together. Every request is granted (an exclusive
// create that loses the race opens the winner's file), and no two are
// inside at once.
BOOST_AUTO_TEST_CASE_TEMPLATE(racing_creators_all_get_the_lock, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(40s);
  constexpr int rounds = 40;
  const fs::path base = dlt::unique_path("race");
  fs::create_directory(base);
  dlt::shared_object<race_state> state;
  std::vector<std::unique_ptr<dlt::child_process>> racers;
  for (unsigned i = 0; i < racers_count; ++i) {
    racers.push_back(std::make_unique<dlt::child_process>([&] {
      for (int round = 0; round < rounds; ++round) {
        dlt::child_require(state->start.arrive_and_wait(),
                           "all racers at the start line");
        const fs::path file = base / ("r" + std::to_string(round) + ".lock");
        Lock lock(file, dlt::mode(false));
        const int now = ++state->inside;
        int most = state->most_inside.load();
        while (now > most &&
               !state->most_inside.compare_exchange_weak(most, now)) {
        }
        ++state->granted;
        --state->inside;
      }
      return 0;
    }));
  }
  for (auto& racer : racers) BOOST_TEST(dlt::exited_ok(racer->wait(30s)));
  BOOST_TEST(state->granted.load() == static_cast<int>(racers_count) * rounds);
  BOOST_TEST(state->most_inside.load() == 1);
  for (int round = 0; round < rounds; ++round) {
    const fs::path file = base / ("r" + std::to_string(round) + ".lock");
    BOOST_TEST(fs::is_regular_file(fs::symlink_status(file)), file);
    BOOST_TEST(fs::file_size(file) == 0u, file);
  }
}

// A process whose descriptors `closed` are closed at start locks a new and
// an existing file: the descriptor is 3 or more, the closed ones stay
// closed, stderr writes never reach the file, and none is leaked. Runs in
// a child (which reports by exit status) so that the test's own stderr
// stays open.
template <class Lock>
dlt::exit_status lock_with_closed(const std::vector<int>& closed,
                                  const fs::path& fresh,
                                  const fs::path& existing) {
  dlt::child_process child([&] {
    for (const int fd : closed) ::close(fd);
    const std::size_t fds = dlt::live_descriptor_count();
    for (const fs::path& file : {fresh, existing}) {
      {
        Lock lock(file, dlt::mode(false, false));
        if (lock.native_handle() < 3) return 20;
        for (const int fd : closed) {
          if (::fcntl(fd, F_GETFD) >= 0 || errno != EBADF) return 21;
        }
        const bool stderr_closed = std::find(closed.begin(), closed.end(),
                                             STDERR_FILENO) != closed.end();
        const char text[] = "written to stderr\n";
        if (stderr_closed &&
            ::write(STDERR_FILENO, text, sizeof text - 1) != -1) {
          return 22;  // stderr was closed, yet the write went somewhere
        }
        if (dlt::live_descriptor_count() != fds + 1) return 23;
      }
      if (dlt::live_descriptor_count() != fds) return 24;
      if (fs::file_size(file) != 0u) return 25;
    }
    return 0;
  });
  return child.wait();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(lock_file_never_on_descriptors_0_to_2, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  const std::vector<std::vector<int>> cases = {{2}, {0, 1, 2}, {0}, {1, 2}};
  for (const auto& closed : cases) {
    const fs::path fresh = dlt::unique_path("low-fresh");
    const fs::path existing = dlt::unique_path("low-existing");
    { std::ofstream create(existing); }
    BOOST_TEST(dlt::exited_ok(lock_with_closed<Lock>(closed, fresh, existing)),
               "closed " << closed.size() << " from " << closed.front());
    BOOST_TEST(fs::file_size(fresh) == 0u);
    BOOST_TEST(fs::file_size(existing) == 0u);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
