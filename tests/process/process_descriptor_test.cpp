// tests/process/process_descriptor_test.cpp
//
// Descriptor accounting (/proc/self/fd): a held lock costs exactly one
// descriptor, and none is left after a release or after any failure —
// would-block, recursive deadlock, and every bad input (a directory, a
// missing parent, an empty path, a NUL, too-long paths, a symlink loop, no
// permission, out of descriptors). Each failure is a std::system_error with
// the right code and a message naming the path; the process registry is as
// before; and locks the process already holds stay held (another process is
// still refused).

#define BOOST_TEST_MODULE dreadlocks process descriptors
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "tests/process/process_test_common.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/unprivileged.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

// One bad input: the path, the error it must raise, and a text the
// message must contain (the path, or what is wrong with it).
struct bad_input {
  std::string name;
  fs::path path;
  std::errc code;
  std::vector<std::string> named;  // texts the message must contain
};

// Builds the bad inputs under a fresh scratch directory.
std::vector<bad_input> bad_inputs() {
  const fs::path base = dlt::unique_path("bad");
  fs::create_directory(base);
  const fs::path loop_a = base / "loop-a";
  const fs::path loop_b = base / "loop-b";
  fs::create_symlink(loop_b, loop_a);
  fs::create_symlink(loop_a, loop_b);
  const fs::path regular = base / "regular";
  { dlt::process_level_lock<dreadlocks::ofd_process_lock> create(regular); }
  std::string long_path = base.string();
  while (long_path.size() <= PATH_MAX) long_path += "/" + std::string(100, 'd');
  long_path += "/lock";
  const fs::path long_component = base / std::string(NAME_MAX + 1, 'n');
  const fs::path missing = base / "missing-parent" / "lock";
  std::vector<bad_input> inputs = {
      {"a missing parent",
       missing,
       std::errc::no_such_file_or_directory,
       {missing.string()}},
      {"an empty path", fs::path(), std::errc::invalid_argument, {"empty"}},
      {"a NUL byte",
       fs::path(std::string("nul\0byte", 8)),
       std::errc::invalid_argument,
       {"NUL", "nul", "byte"}},
      {"a component longer than NAME_MAX",
       long_component,
       std::errc::filename_too_long,
       {long_component.string()}},
      {"a path longer than PATH_MAX",
       long_path,
       std::errc::filename_too_long,
       {long_path}},
      {"a symlink loop",
       loop_a,
       std::errc::too_many_symbolic_link_levels,
       {loop_a.string()}},
      {"a symlink loop as a directory",
       loop_a / "lock",
       std::errc::too_many_symbolic_link_levels,
       {(loop_a / "lock").string()}},
      {"a regular file as a directory",
       regular / "lock",
       std::errc::not_a_directory,
       {(regular / "lock").string()}},
  };
  return inputs;
}


// Holds `file` exclusively through `key` for a moment: another process is
// refused even a shared lock, and the file has one descriptor (once the
// idle one another spelling may keep beside it is closed).
template <class Lock, class Prober>
void check_excludes_through_key(const dreadlocks::lock_key& key,
                                const fs::path& file, Prober& other) {
  dreadlocks::close_idle_lock_files();
  const Lock held = dlt::lock_through<Lock>(key, dlt::mode(false));
  BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
  BOOST_TEST(dlt::descriptors_open_on(file) == 1u);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(process_descriptors)

// Success: one descriptor per held file, whatever the number of holds on
// it; none after release (destructor, unlock(), move).
BOOST_AUTO_TEST_CASE_TEMPLATE(one_descriptor_per_held_file, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("count");
  const auto second = dlt::unique_path("count-second");
  const std::size_t fds = dlt::live_descriptor_count();
  const std::size_t files = introspection::open_lock_files();
  for (const bool shared : {false, true}) {
    {
      Lock lock(file, dlt::mode(shared));
      BOOST_TEST(dlt::live_descriptor_count() == fds + 1);
      BOOST_TEST(dlt::descriptors_open_on(file) == 1u);
      BOOST_TEST(introspection::open_lock_files() == files + 1);
      {
        Lock nested(file, dlt::mode(true, true, true));
        BOOST_TEST(dlt::live_descriptor_count() == fds + 1);
        BOOST_TEST(nested.native_handle() == lock.native_handle());
        Lock other(second, dlt::mode(shared));
        BOOST_TEST(dlt::live_descriptor_count() == fds + 2);
        BOOST_TEST(introspection::open_lock_files() == files + 2);
      }
      BOOST_TEST(dlt::live_descriptor_count() == fds + 1);
      Lock moved(std::move(lock));
      BOOST_TEST(!lock.owns_lock());
      BOOST_TEST(dlt::live_descriptor_count() == fds + 1);
      moved.unlock();
      BOOST_TEST(dlt::live_descriptor_count() == fds);
      moved.unlock();
      BOOST_TEST(dlt::live_descriptor_count() == fds);
    }
    BOOST_TEST(dlt::live_descriptor_count() == fds);
    BOOST_TEST(dlt::descriptors_left_on(file) == 0u);
    BOOST_TEST(introspection::open_lock_files() == files);
  }
}

// A key that opened a file finds the file's state again without the
// registry's lookup (process_registry::find_spelling()). Once the closed
// file's state is forgotten (more files were closed since, and trim() frees
// the spares), the key must not lead to it any more: it opens the file
// anew, and the lock really excludes another process.
BOOST_AUTO_TEST_CASE_TEMPLATE(key_outliving_its_closed_file, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("outlived-state");
  dlt::prober<dlt::process_level_of<Lock>> other(file);
  const std::size_t fds = dlt::live_descriptor_count();
  const dreadlocks::lock_key key(file, "test");
  dlt::lock_through<Lock>(key, dlt::mode(false)).unlock();
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 24; ++i) {
      Lock(dlt::unique_path("evicting-" + std::to_string(i)), dlt::mode(true))
          .unlock();
    }
    introspection::trim();
    check_excludes_through_key<Lock>(key, file, other);
    BOOST_TEST(other.try_lock(false) == attempt::granted, other.last_detail());
  }
  BOOST_TEST(dlt::live_descriptor_count() == fds);
  BOOST_TEST(introspection::open_lock_files() == 0u);
}

// The same key, when its path has come to name another file this thread
// holds (renamed onto it) while the key's own closed file waits to be
// reopened: the key joins the held file (its descriptor, no second one),
// the closed file's state lets go of the key, and once everything is
// released the key opens the path anew.
BOOST_AUTO_TEST_CASE_TEMPLATE(key_joining_a_file_renamed_onto_its_path, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  const auto file = dlt::unique_path("renamed-onto");
  const auto renamed = dlt::unique_path("renamed-from");
  dlt::prober<dlt::process_level_of<Lock>> other(file);
  const std::size_t fds = dlt::live_descriptor_count();
  const dreadlocks::lock_key key(file, "test");
  for (int round = 0; round < 3; ++round) {
    dlt::lock_through<Lock>(key, dlt::mode(false)).unlock();
    {
      const Lock held(renamed, dlt::mode(false));
      fs::rename(renamed, file);
      const Lock joined =
          dlt::lock_through<Lock>(key, dlt::mode(false, true, true));
      BOOST_TEST(joined.native_handle() == held.native_handle());
      BOOST_TEST(dlt::live_descriptor_count() == fds + 1);
      BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
    }
    BOOST_TEST(other.try_lock(false) == attempt::granted, other.last_detail());
    check_excludes_through_key<Lock>(key, file, other);
  }
  BOOST_TEST(dlt::live_descriptor_count() == fds);
  BOOST_TEST(introspection::open_lock_files() == 0u);
}

// Would-block (another process holds the file) and recursive deadlock (a
// non-reentrant repeat): the right error, and no extra descriptor.
BOOST_AUTO_TEST_CASE_TEMPLATE(refusals_leave_no_descriptor, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  const auto busy = dlt::unique_path("busy");
  const auto mine = dlt::unique_path("mine");
  dlt::process_holder<Lock> other(busy, dlt::mode(false));
  BOOST_TEST_REQUIRE(other.wait_settled() == attempt::granted);
  const std::size_t fds = dlt::live_descriptor_count();
  const std::size_t files = introspection::open_lock_files();
  for (const bool shared : {false, true}) {
    BOOST_TEST(dlt::try_lock_once<Lock>(busy, dlt::mode(shared, false)) ==
               attempt::process_would_block);
    BOOST_TEST(dlt::live_descriptor_count() == fds);
    BOOST_TEST(introspection::open_lock_files() == files);
  }
  {
    Lock held(mine, dlt::mode(false));
    for (const bool shared : {false, true}) {
      try {
        Lock again(mine, dlt::mode(shared));
        BOOST_ERROR("a non-reentrant repeat was granted");
      } catch (const dreadlocks::recursive_deadlock_error& error) {
        BOOST_TEST((error.code() == std::errc::resource_deadlock_would_occur));
        BOOST_TEST(std::string(error.what()).find(dlt::key_of(mine).string()) !=
                   std::string::npos);
      }
      BOOST_TEST(dlt::live_descriptor_count() == fds + 1);
      BOOST_TEST(introspection::open_lock_files() == files + 1);
    }
  }
  BOOST_TEST(dlt::live_descriptor_count() == fds);
  BOOST_TEST(introspection::open_lock_files() == files);
  BOOST_TEST(dlt::exited_ok(other.release_and_exit()));
}

// Every bad input: std::system_error with its code, a message naming the
// path, nothing left behind.
BOOST_AUTO_TEST_CASE_TEMPLATE(bad_inputs_leave_nothing_behind, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  for (const auto& input : bad_inputs()) {
    const std::string problem =
        dlt::check_failure<Lock>(input.path, input.code, input.named);
    BOOST_TEST(problem.empty(), input.name << ": " << problem);
  }
}

// A process that holds locks keeps them when another acquisition fails,
// however it fails (bad inputs, would-block on another file, a
// non-reentrant repeat on the held file through the same and other
// spellings): another process is still refused after each failure.
BOOST_AUTO_TEST_CASE_TEMPLATE(failures_keep_other_locks, Lock,
                              dlt::file_locks) {
  dlt::watchdog dog(20s);
  const fs::path dir = dlt::unique_path("keep-dir");
  fs::create_directory(dir);
  const fs::path held_file = dir / "held";
  { dlt::process_level_of<Lock> create(held_file); }
  const fs::path hard_link = dir / "held-hard-link";
  fs::create_hard_link(held_file, hard_link);
  const auto busy = dlt::unique_path("keep-busy");
  const auto inputs = bad_inputs();
  dlt::prober<dlt::process_level_of<Lock>> other(held_file);
  dlt::process_holder<Lock> busy_holder(busy, dlt::mode(false));
  BOOST_TEST_REQUIRE(busy_holder.wait_settled() == attempt::granted);
  const std::size_t fds = dlt::live_descriptor_count();
  {
    Lock held(held_file, dlt::mode(false));
    BOOST_TEST(other.try_lock(true) == attempt::process_would_block);
    for (const auto& input : inputs) {
      const std::string problem =
          dlt::check_failure<Lock>(input.path, input.code, input.named);
      BOOST_TEST(problem.empty(), input.name << ": " << problem);
      BOOST_TEST(other.try_lock(true) == attempt::process_would_block,
                 "after " << input.name);
    }
    BOOST_TEST(dlt::try_lock_once<Lock>(busy, dlt::mode(false, false)) ==
               attempt::process_would_block);
    BOOST_TEST(other.try_lock(true) == attempt::process_would_block,
               "after a would-block on another file");
    for (const fs::path& spelling :
         {held_file, fs::path(hard_link), dir / "." / "held"}) {
      BOOST_TEST(dlt::try_lock_once<dlt::process_level_of<Lock>>(
                     spelling, dlt::mode(false, false)) == attempt::deadlock,
                 spelling);
      BOOST_TEST(other.try_lock(true) == attempt::process_would_block,
                 "after a refused repeat through " << spelling);
    }
    BOOST_TEST(dlt::live_descriptor_count() == fds + 1);
    BOOST_TEST(dlt::descriptors_open_on(held_file) == 1u);
  }
  BOOST_TEST(other.try_lock(false) == attempt::granted, other.last_detail());
  BOOST_TEST(dlt::live_descriptor_count() == fds);
  BOOST_TEST(dlt::exited_ok(busy_holder.release_and_exit()));
}

// No permission on the lock file: EACCES naming the path, nothing left.
// Root bypasses file permissions, so then the attempt runs in a child that
// has first given up the capabilities that bypass them (or, failing that,
// become an unprivileged user).
BOOST_AUTO_TEST_CASE_TEMPLATE(no_permission, Lock, dlt::file_locks) {
  dlt::watchdog dog(20s);
  const fs::path dir = dlt::unique_path("perm-dir");
  fs::create_directory(dir);
  fs::permissions(dir, fs::perms::all);
  const fs::path file = dir / "locked-out";
  { dlt::process_level_of<Lock> create(file); }
  fs::permissions(file, fs::perms::none);
  if (::geteuid() != 0) {
    const std::string problem = dlt::check_failure<Lock>(
        file, std::errc::permission_denied, {file.string()});
    BOOST_TEST(problem.empty(), problem);
    return;
  }
  dlt::child_process child([&] {
    dlt::child_require(dlt::give_up_permission_override(),
                       "dropping the capabilities that bypass permissions");
    dlt::child_require(
        ::faccessat(AT_FDCWD, file.c_str(), R_OK, AT_EACCESS) != 0 &&
            errno == EACCES,
        "permissions are checked after dropping them");
    const std::string problem = dlt::check_failure<Lock>(
        file, std::errc::permission_denied, {file.string()});
    dlt::child_require(problem.empty(), problem);
    return 0;
  });
  BOOST_TEST(dlt::exited_ok(child.wait()));
}

// Out of descriptors (EMFILE): a child that holds a lock exhausts its
// descriptor limit; a lock on a new file fails with EMFILE and leaves
// nothing behind; a lock on the held file through another spelling needs no
// descriptor and is granted; the held lock stays (this process is refused).
BOOST_AUTO_TEST_CASE_TEMPLATE(out_of_descriptors, Lock, dlt::file_locks) {
  dlt::watchdog dog(20s);
  struct channel {
    dlt::process_event failed_as_expected;
    dlt::process_event probed;
  };
  dlt::shared_object<channel> events;
  const fs::path dir = dlt::unique_path("emfile-dir");
  fs::create_directory(dir);
  const fs::path held_file = dir / "held";
  const fs::path link_dir = dlt::unique_path("emfile-link");
  fs::create_directory_symlink(dir, link_dir);
  const fs::path new_file = dir / "new";
  dlt::child_process child([&] {
    Lock held(held_file, dlt::mode(false));
    const std::size_t fds = dlt::live_descriptor_count();
    const std::size_t files = introspection::open_lock_files();
    rlimit limit{};
    dlt::child_require(::getrlimit(RLIMIT_NOFILE, &limit) == 0, "getrlimit");
    limit.rlim_cur = fds + 16;
    dlt::child_require(::setrlimit(RLIMIT_NOFILE, &limit) == 0, "setrlimit");
    std::vector<int> fillers;
    for (;;) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        dlt::child_require(errno == EMFILE, "filled up to EMFILE");
        break;
      }
      fillers.push_back(fd);
    }
    std::string problem;
    try {
      Lock lock(new_file, dlt::mode(false));
      problem = "granted without a free descriptor";
    } catch (const std::system_error& error) {
      if (error.code() != std::errc::too_many_files_open) {
        problem = std::string("wrong error: ") + error.what();
      } else if (std::string(error.what()).find(new_file.string()) ==
                 std::string::npos) {
        problem =
            std::string("message does not name the path: ") + error.what();
      }
    }
    if (introspection::open_lock_files() != files)
      problem += "; left a registry entry";
    {
      // The held file through another spelling: no descriptor needed.
      Lock again(link_dir / "held", dlt::mode(false, false, true));
      if (!again.owns_lock()) problem += "; the other spelling failed";
    }
    for (const int fd : fillers) ::close(fd);
    if (dlt::live_descriptor_count() != fds) problem += "; leaked a descriptor";
    dlt::child_require(problem.empty(), problem);
    events->failed_as_expected.signal();
    dlt::child_require(events->probed.wait(), "parent probed in time");
    return 0;
  });
  BOOST_TEST_REQUIRE(events->failed_as_expected.wait());
  BOOST_TEST(dlt::try_lock_once<Lock>(held_file, dlt::mode(true, false)) ==
             attempt::process_would_block);
  events->probed.signal();
  BOOST_TEST(dlt::exited_ok(child.wait()));
  BOOST_TEST(dlt::try_lock_once<Lock>(held_file, dlt::mode(false, false)) ==
             attempt::granted);
}

BOOST_AUTO_TEST_SUITE_END()
