// tests/process/idle_reuse_test.cpp
//
// Idle lock files (dreadlocks/idle_lock_files.hpp): a released lock file
// keeps its descriptor for the next lock through the same path, and that
// descriptor is never used for a file deleted or replaced since, whether a
// thread or another process did it; failures keep none; the idle ones are
// bounded, closed by close_idle_lock_files() and gone in a forked child.

#define BOOST_TEST_MODULE dreadlocks idle lock files
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/process/process_test_common.hpp"
#include "tests/support/nothing_left_behind.hpp"

using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

// The primitives that keep idle descriptors (idle_handles_reusable), with
// and without a thread level.
using reusing_locks = boost::mpl::list<
    dlt::process_level_lock<dreadlocks::ofd_process_lock>,
    dlt::both_levels_lock<dreadlocks::ofd_process_lock>,
    dlt::process_level_lock<dreadlocks::flock_process_lock>,
    dlt::both_levels_lock<dreadlocks::flock_process_lock>>;

// ... those with a thread level, which excludes the process's threads.
using reusing_thread_locks =
    boost::mpl::list<dlt::both_levels_lock<dreadlocks::ofd_process_lock>,
                     dlt::both_levels_lock<dreadlocks::flock_process_lock>>;

// The inode a descriptor has open, and the one a path names now.
ino_t inode_of(int fd) {
  struct ::stat info {};
  BOOST_TEST_REQUIRE(::fstat(fd, &info) == 0);
  return info.st_ino;
}
ino_t inode_of(const fs::path& path) {
  struct ::stat info {};
  BOOST_TEST_REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_ino;
}

// Puts a new file at `path` in place of the old one, as an editor or a
// cleanup script would: written beside it, renamed over it.
void replace_file(const fs::path& path) {
  const fs::path beside = path.string() + ".new";
  { std::ofstream create(beside); }
  fs::rename(beside, path);
}

// Locks `path` exclusively and releases it at once: leaves an idle file.
template <class Lock>
int cycle(const fs::path& path) {
  Lock lock(path, dlt::mode(false));
  return lock.native_handle();
}

// How Lock on `file` with `options` goes, tried once by another process
// (other_error if the child did not say).
template <class Lock>
attempt try_lock_in_child(const fs::path& file,
                          dreadlocks::lock_options options) {
  dlt::child_process child([&] {
    return static_cast<int>(dlt::try_lock_once<Lock>(file, options));
  });
  const dlt::exit_status status = child.wait();
  return status.ended == dlt::exit_status::how::exited
             ? static_cast<attempt>(status.code)
             : attempt::other_error;
}

// A case that starts with no idle descriptor (earlier cases' closed), and
// counts descriptors from there.
struct from_no_idle_files {
  static std::size_t close_idle_then_count() {
    dreadlocks::close_idle_lock_files();
    return dlt::open_descriptor_count();
  }
  const std::size_t fds = close_idle_then_count();
};

}  // namespace

BOOST_AUTO_TEST_SUITE(idle_lock_files)

// A cycle on one path after the first keeps and reuses one descriptor.
BOOST_FIXTURE_TEST_CASE_TEMPLATE(reused_through_the_same_path, Lock,
                                 reusing_locks, from_no_idle_files) {
  dlt::watchdog dog(20s);
  const fs::path file = dlt::unique_path("reused");
  const int first = cycle<Lock>(file);
  BOOST_TEST(introspection::idle_lock_files() == 1u);
  BOOST_TEST(dlt::open_descriptor_count() == fds + 1);
  BOOST_TEST(dlt::descriptors_open_on(file) == 1u);
  for (const bool shared : {false, true, false}) {
    Lock again(file, dlt::mode(shared));
    BOOST_TEST(again.native_handle() == first);
    BOOST_TEST(introspection::idle_lock_files() == 0u);
    BOOST_TEST(introspection::open_lock_files() == 1u);
    BOOST_TEST(dlt::open_descriptor_count() == fds + 1);
  }
  BOOST_TEST(dreadlocks::close_idle_lock_files() == 1u);
  BOOST_TEST(dlt::open_descriptor_count() == fds);
  BOOST_TEST(introspection::idle_lock_files() == 0u);
}

// Classic fcntl locks keep none: closing a descriptor would release the
// process's lock taken through another descriptor of the file.
BOOST_FIXTURE_TEST_CASE(classic_locks_keep_none, from_no_idle_files) {
  dlt::watchdog dog(20s);
  const fs::path file = dlt::unique_path("classic");
  cycle<dlt::process_level_lock<dreadlocks::fcntl_process_lock>>(file);
  BOOST_TEST(introspection::idle_lock_files() == 0u);
  BOOST_TEST(dlt::open_descriptor_count() == fds);
}

// Replaced by another process, which then holds the new file: this
// process is refused (it asks the new file, not the old one through its
// idle descriptor), then granted the new file once it is free.
BOOST_AUTO_TEST_CASE_TEMPLATE(replaced_by_another_process, Lock,
                              reusing_locks) {
  dlt::watchdog dog(20s);
  const fs::path file = dlt::unique_path("replaced");
  const int stale = cycle<Lock>(file);
  const ino_t old_inode = inode_of(stale);
  {
    dlt::child_process replacer([&] {
      replace_file(file);
      return 0;
    });
    BOOST_TEST_REQUIRE(dlt::exited_ok(replacer.wait()));
  }
  BOOST_TEST_REQUIRE(inode_of(file) != old_inode);
  {
    dlt::process_holder<dlt::process_level_of<Lock>> other(file,
                                                           dlt::mode(false));
    BOOST_TEST_REQUIRE(other.wait_settled() == attempt::granted);
    BOOST_TEST(dlt::try_lock_once<Lock>(file, dlt::mode(true, false)) ==
               attempt::process_would_block);
    BOOST_TEST(dlt::exited_ok(other.release_and_exit()));
  }
  Lock now(file, dlt::mode(false));
  BOOST_TEST(inode_of(now.native_handle()) == inode_of(file));
  BOOST_TEST(dlt::descriptors_open_on(file) == 1u);
}

// Deleted by another process: the next lock creates the file again and
// locks it, so that another process is refused it.
BOOST_AUTO_TEST_CASE_TEMPLATE(deleted_by_another_process, Lock,
                              reusing_locks) {
  dlt::watchdog dog(20s);
  const fs::path file = dlt::unique_path("deleted");
  cycle<Lock>(file);
  {
    dlt::child_process deleter([&] { return fs::remove(file) ? 0 : 1; });
    BOOST_TEST_REQUIRE(dlt::exited_ok(deleter.wait()));
  }
  BOOST_TEST_REQUIRE(!fs::exists(file));
  Lock now(file, dlt::mode(false));
  BOOST_TEST(fs::exists(file));
  BOOST_TEST(inode_of(now.native_handle()) == inode_of(file));
  BOOST_TEST(try_lock_in_child<dlt::process_level_of<Lock>>(
                 file, dlt::mode(true, false)) ==
             attempt::process_would_block);
}

// Replaced by another thread of this process, which then holds the new
// file through another spelling (a symlinked directory): this thread is
// refused at the thread level (the file is the other thread's), and is
// granted the new file once it is free.
BOOST_AUTO_TEST_CASE_TEMPLATE(replaced_by_another_thread, Lock,
                              reusing_thread_locks) {
  dlt::watchdog dog(20s);
  const fs::path file = dlt::unique_path("replaced-in-thread");
  const fs::path linked_dir = dlt::unique_path("linked-dir");
  fs::create_directory_symlink(file.parent_path(), linked_dir);
  const fs::path other_spelling = linked_dir / file.filename();
  const int stale = cycle<Lock>(file);
  const ino_t old_inode = inode_of(stale);
  replace_file(file);
  BOOST_TEST_REQUIRE(inode_of(file) != old_inode);
  {
    auto thread = dlt::hold_in_thread<Lock>(other_spelling, dlt::mode(false));
    BOOST_TEST_REQUIRE(thread->wait_settled() == attempt::granted);
    BOOST_TEST(dlt::try_lock_once<Lock>(file, dlt::mode(true, false)) ==
               attempt::thread_would_block);
    thread->release();
  }
  Lock now(file, dlt::mode(false));
  BOOST_TEST(inode_of(now.native_handle()) == inode_of(file));
  BOOST_TEST(try_lock_in_child<dlt::process_level_of<Lock>>(
                 file, dlt::mode(true, false)) ==
             attempt::process_would_block);
  fs::remove(linked_dir);
}

// A file held through another spelling while an idle descriptor of it is
// kept (a hard link): the idle spelling's next lock joins the held file
// and its descriptor is closed, one descriptor left.
BOOST_AUTO_TEST_CASE_TEMPLATE(idle_spelling_joins_the_held_file, Lock,
                              reusing_locks) {
  dlt::watchdog dog(20s);
  const fs::path file = dlt::unique_path("joined");
  const fs::path link = dlt::unique_path("joined-link");
  cycle<Lock>(file);
  fs::create_hard_link(file, link);
  const Lock held(link, dlt::mode(false));
  BOOST_TEST(dlt::descriptors_open_on(file) == 2u);  // held, and idle
  {
    const Lock joined(file, dlt::mode(false, true, true));
    BOOST_TEST(joined.native_handle() == held.native_handle());
    BOOST_TEST(dlt::descriptors_open_on(file) == 1u);
  }
  BOOST_TEST(try_lock_in_child<dlt::process_level_of<Lock>>(
                 file, dlt::mode(true, false)) ==
             attempt::process_would_block);
}

// A lock of another primitive on the path does not take the idle
// descriptor: an OFD file's idle descriptor does not make a flock(2)
// request an OFD lock (a flock(2) user elsewhere is refused).
BOOST_AUTO_TEST_CASE(another_primitive_opens_its_own) {
  dlt::watchdog dog(20s);
  using ofd = dlt::process_level_lock<dreadlocks::ofd_process_lock>;
  using flock = dlt::process_level_lock<dreadlocks::flock_process_lock>;
  const fs::path file = dlt::unique_path("other-primitive");
  cycle<ofd>(file);
  const flock held(file, dlt::mode(false));
  BOOST_TEST(try_lock_in_child<flock>(file, dlt::mode(true, false)) ==
             attempt::process_would_block);
}

// A request refused by another process keeps no idle descriptor, whether
// it opened the file or woke an idle one.
BOOST_FIXTURE_TEST_CASE_TEMPLATE(refused_requests_keep_none, Lock,
                                 reusing_locks, from_no_idle_files) {
  dlt::watchdog dog(20s);
  const fs::path file = dlt::unique_path("refused");
  // Refused in `shared` mode while another process holds the file: no idle
  // descriptor, and no descriptor more than at the start.
  const auto refused_leaves_none = [&](bool shared) {
    dlt::process_holder<dlt::process_level_of<Lock>> other(file,
                                                           dlt::mode(false));
    BOOST_TEST_REQUIRE(other.wait_settled() == attempt::granted);
    BOOST_TEST(dlt::try_lock_once<Lock>(file, dlt::mode(shared, false)) ==
               attempt::process_would_block);
    BOOST_TEST(introspection::idle_lock_files() == 0u);
    BOOST_TEST(dlt::open_descriptor_count() == fds);
    BOOST_TEST(dlt::exited_ok(other.release_and_exit()));
  };
  refused_leaves_none(false);  // opened the file
  cycle<Lock>(file);
  BOOST_TEST(introspection::idle_lock_files() == 1u);
  refused_leaves_none(true);  // woke the idle descriptor
}

// At most 8 idle files, the last released; close_idle_lock_files() closes
// them all.
BOOST_FIXTURE_TEST_CASE(bounded_and_closed_on_request, from_no_idle_files) {
  dlt::watchdog dog(20s);
  using Lock = dlt::process_level_lock<dreadlocks::ofd_process_lock>;
  dreadlocks::close_idle_lock_files();
  std::vector<fs::path> files;
  for (int i = 0; i < 12; ++i) {
    files.push_back(dlt::unique_path("bounded-" + std::to_string(i)));
    cycle<Lock>(files.back());
    BOOST_TEST(introspection::idle_lock_files() ==
               std::min<std::size_t>(files.size(), 8));
  }
  BOOST_TEST(dlt::open_descriptor_count() == fds + 8);
  BOOST_TEST(dlt::descriptors_open_on(files.front()) == 0u);
  BOOST_TEST(dlt::descriptors_open_on(files.back()) == 1u);
  BOOST_TEST(dreadlocks::close_idle_lock_files() == 8u);
  BOOST_TEST(dlt::open_descriptor_count() == fds);
  BOOST_TEST(dreadlocks::close_idle_lock_files() == 0u);
  for (const fs::path& file : files) {
    BOOST_TEST(dlt::descriptors_open_on(file) == 0u);
  }
}

// A forked child closes its copies of the parent's idle descriptors at
// once, and opens the file for itself.
BOOST_AUTO_TEST_CASE_TEMPLATE(forked_child_has_none, Lock, reusing_locks) {
  dlt::watchdog dog(20s);
  const fs::path file = dlt::unique_path("forked");
  const int idle = cycle<Lock>(file);
  BOOST_TEST_REQUIRE(introspection::idle_lock_files() >= 1u);
  dlt::child_process child([&] {
    if (introspection::idle_lock_files() != 0) return 10;
    if (::fcntl(idle, F_GETFD) != -1 || errno != EBADF) return 11;
    if (dlt::descriptors_open_on(file) != 0) return 12;
    {
      Lock mine(file, dlt::mode(false));
      if (dlt::descriptors_open_on(file) != 1) return 13;
    }
    return introspection::idle_lock_files() == 1 ? 0 : 14;
  });
  BOOST_TEST(dlt::exited_ok(child.wait()));
  BOOST_TEST(dlt::descriptors_open_on(file) == 1u);  // the parent's, idle
  Lock again(file, dlt::mode(false));
  BOOST_TEST(again.native_handle() == idle);
}

BOOST_AUTO_TEST_SUITE_END()
