// tests/api/bad_input_test.cpp
//
// SPEC §2 "bad input" and "failure": an empty path, a path with a NUL, a
// directory, a missing parent, a too-long name or a relative path while the
// current directory is deleted give a std::system_error naming the path and
// the reason, and leave nothing behind in either registry. thread_level_path_lock never touches the file system.

#define BOOST_TEST_MODULE dreadlocks_api_bad_input

#include <limits.h>

#include <boost/filesystem/path.hpp>
#include <boost/test/unit_test.hpp>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/api/api_support.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/temp_path.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

namespace fs = std::filesystem;
using api_test::all_aliases;
using api_test::contains;
using api_test::file_backed_aliases;

// Constructs L from `path`, expecting a std::system_error; returns it.
template <class L, class Path>
std::system_error expect_system_error(const Path& path,
                                      dreadlocks::lock_options options = {}) {
  try {
    L lock(path, options);
  } catch (const std::system_error& e) {
    // Nothing is left behind.
    BOOST_TEST(dreadlocks::introspection::held_thread_keys() == 0u);
    BOOST_TEST(dreadlocks::introspection::open_lock_files() == 0u);
    return e;
  }
  BOOST_FAIL("no std::system_error was thrown");
  throw std::logic_error("unreachable");
}

// After a failure the registries still work.
template <class L>
void expect_usable_afterwards() {
  const fs::path file = dreadlocks_test::unique_path("after-failure");
  L lock(file, {.blocking = false});
  BOOST_TEST(lock.owns_lock());
}

BOOST_FIXTURE_TEST_SUITE(bad_input, dreadlocks_test::nothing_left_behind)

BOOST_AUTO_TEST_CASE_TEMPLATE(empty_path_is_invalid_argument, L,
                              all_aliases) {
  const std::string empty;
  const std::system_error errors[] = {
      expect_system_error<L>(fs::path()),
      expect_system_error<L>(boost::filesystem::path()),
      expect_system_error<L>(empty),
      expect_system_error<L>(std::string_view()),
      expect_system_error<L>(""),
      expect_system_error<L>(empty.c_str()),
      expect_system_error<L>(fs::path(), {.shared = true, .blocking = false}),
  };
  for (const auto& e : errors) {
    BOOST_TEST((e.code() == std::errc::invalid_argument), e.what());
    BOOST_TEST(contains(e.what(), "basic_path_lock::basic_path_lock"),
               e.what());
    BOOST_TEST(contains(e.what(), "empty path"), e.what());
  }
  expect_usable_afterwards<L>();
}

// A moved-from lock_key names no path: the constructor that takes a key
// (used by path_mutex and multi_path_lock) refuses it as an empty path,
// before either level looks at it.
BOOST_AUTO_TEST_CASE_TEMPLATE(moved_from_key_is_invalid_argument, L,
                              all_aliases) {
  dreadlocks::lock_key key(dreadlocks_test::unique_path("moved-key"), "test");
  const dreadlocks::lock_key taken(std::move(key));
  try {
    L lock(std::move(key), dreadlocks::lock_options{},
           dreadlocks::lock_request::clock::time_point{}, "test::lock");
    BOOST_FAIL("a moved-from key was locked");
  } catch (const std::system_error& e) {
    BOOST_TEST((e.code() == std::errc::invalid_argument), e.what());
    BOOST_TEST(contains(e.what(), "test::lock: empty path"), e.what());
    BOOST_TEST(dreadlocks::introspection::held_thread_keys() == 0u);
    BOOST_TEST(dreadlocks::introspection::open_lock_files() == 0u);
  }
  BOOST_TEST(!taken.native().empty());
  expect_usable_afterwards<L>();
}

// A NUL inside the path would silently cut it short at the OS: refused,
// and the message names the path and says why.
BOOST_AUTO_TEST_CASE_TEMPLATE(path_with_nul_is_invalid_argument, L,
                              all_aliases) {
  const fs::path dir = dreadlocks_test::scratch_dir();
  const std::string relative("nul-before\0nul-after", 20);
  const std::string absolute = (dir / "nul-before").string() +
                               std::string(1, '\0') + "nul-after.lock";
  const std::system_error errors[] = {
      expect_system_error<L>(relative),
      expect_system_error<L>(std::string_view(relative)),
      expect_system_error<L>(fs::path(relative)),
      expect_system_error<L>(boost::filesystem::path(relative)),
      expect_system_error<L>(absolute, {.shared = true}),
  };
  for (const auto& e : errors) {
    BOOST_TEST((e.code() == std::errc::invalid_argument), e.what());
    // what() is a C string: a raw NUL copied into the message cuts it short
    // there, so the reason and the rest of the path must come through.
    const std::string what = e.what();
    BOOST_TEST(contains(what, "basic_path_lock::basic_path_lock"), what);
    BOOST_TEST(contains(what, "nul-before"), what);
    BOOST_TEST((contains(what, "nul-after") && contains(what, "NUL")),
               "message cut at the NUL: " << what);
  }
  // Nothing named by the part before the NUL was created or locked.
  BOOST_TEST(!fs::exists(dir / "nul-before"));
  expect_usable_afterwards<L>();
}

// A directory opens read-only (SPEC §2 as amended by issue 15, as flock(1)
// opens one): a shared lock is granted; an exclusive fcntl/OFD lock needs
// write access and is refused with EBADF and a message naming the path and
// that reason, leaving nothing behind.
BOOST_AUTO_TEST_CASE_TEMPLATE(directory_takes_shared_locks_only, L,
                              file_backed_aliases) {
  const fs::path dir = dreadlocks_test::unique_path("a-directory");
  fs::create_directory(dir);
  const std::system_error e = expect_system_error<L>(dir);
  BOOST_TEST((e.code() == std::errc::bad_file_descriptor), e.what());
  BOOST_TEST(contains(e.what(), "basic_path_lock::basic_path_lock"), e.what());
  BOOST_TEST(contains(e.what(), "\"" + dir.string() + "\""), e.what());
  BOOST_TEST(contains(e.what(), "needs write access"), e.what());
  BOOST_TEST(contains(e.what(), "opened read-only"), e.what());
  const std::system_error nonblocking =
      expect_system_error<L>(dir.string(), {.blocking = false});
  BOOST_TEST((nonblocking.code() == std::errc::bad_file_descriptor),
             nonblocking.what());
  {
    L shared(dir, {.shared = true, .blocking = false});
    BOOST_TEST(shared.owns_lock());
  }
  BOOST_TEST(dreadlocks::introspection::open_lock_files() == 0u);
  BOOST_TEST(fs::is_directory(dir));
  expect_usable_afterwards<L>();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(missing_parent_is_refused, L,
                              file_backed_aliases) {
  const fs::path parent = dreadlocks_test::unique_path("missing-parent");
  const fs::path file = parent / "x.lock";
  const std::system_error e = expect_system_error<L>(file);
  BOOST_TEST((e.code() == std::errc::no_such_file_or_directory), e.what());
  BOOST_TEST(contains(e.what(), "\"" + file.string() + "\""), e.what());
  BOOST_TEST(contains(e.what(), std::generic_category().message(ENOENT)),
             e.what());
  // Parent directories are not created.
  BOOST_TEST(!fs::exists(parent));
  expect_usable_afterwards<L>();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(too_long_name_is_refused, L,
                              file_backed_aliases) {
  const fs::path file =
      dreadlocks_test::scratch_dir() / std::string(NAME_MAX + 1, 'n');
  const std::system_error e = expect_system_error<L>(file);
  BOOST_TEST((e.code() == std::errc::filename_too_long), e.what());
  BOOST_TEST(contains(e.what(), file.string()), e.what());
  expect_usable_afterwards<L>();
}

// A file in the way of a parent directory ("file/x.lock").
BOOST_AUTO_TEST_CASE_TEMPLATE(file_as_parent_is_refused, L,
                              file_backed_aliases) {
  const fs::path blocker = dreadlocks_test::unique_path("not-a-dir");
  { L create(blocker); }
  const std::system_error e = expect_system_error<L>(blocker / "x.lock");
  BOOST_TEST((e.code() == std::errc::not_a_directory), e.what());
  BOOST_TEST(contains(e.what(), (blocker / "x.lock").string()), e.what());
}

// Enters a new directory and deletes it, so that the current directory
// cannot be read; the destructor goes back where the test was.
class in_deleted_directory {
 public:
  in_deleted_directory() : previous_(fs::current_path()) {
    const fs::path dir = dreadlocks_test::unique_path("deleted-cwd");
    fs::create_directory(dir);
    fs::current_path(dir);
    fs::remove(dir);
  }
  ~in_deleted_directory() { fs::current_path(previous_); }
  in_deleted_directory(const in_deleted_directory&) = delete;
  in_deleted_directory& operator=(const in_deleted_directory&) = delete;

 private:
  fs::path previous_;
};

// A relative path while the current directory has been deleted cannot be
// made absolute: the error names the operation, the path and the reason
// (not a bare "cannot get current path"), and nothing is created.
BOOST_AUTO_TEST_CASE_TEMPLATE(relative_path_in_deleted_directory_is_refused,
                              L, all_aliases) {
  const std::string relative = "in-deleted-directory.lock";
  std::string what;
  {
    in_deleted_directory gone;
    for (const bool shared : {false, true}) {
      const std::system_error e =
          expect_system_error<L>(relative, {.shared = shared});
      BOOST_TEST((e.code() == std::errc::no_such_file_or_directory),
                 e.what());
      BOOST_TEST(contains(e.what(), "basic_path_lock::basic_path_lock"),
                 e.what());
      BOOST_TEST(contains(e.what(), "\"" + relative + "\""), e.what());
      BOOST_TEST(contains(e.what(), "current directory"), e.what());
      BOOST_TEST(contains(e.what(), std::generic_category().message(ENOENT)),
                 e.what());
    }
  }
  BOOST_TEST(!fs::exists(relative));
  expect_usable_afterwards<L>();
}

// ---- thread_level_path_lock never touches the file system ----

BOOST_AUTO_TEST_CASE(thread_level_ignores_the_file_system) {
  const fs::path parent = dreadlocks_test::unique_path("never-created");
  const fs::path file = parent / "deeper" / "x.lock";
  {
    dreadlocks::thread_level_path_lock lock(file);
    BOOST_TEST(lock.owns_lock());
    BOOST_TEST(lock.path() == file);
    BOOST_TEST(lock.native_handle() == -1);
    dreadlocks::thread_level_path_lock shared(parent / "y.lock",
                                              {.shared = true});
    BOOST_TEST(shared.owns_lock());
  }
  BOOST_TEST(!fs::exists(parent));

  // A directory, or a name too long for the OS, is just a key.
  const fs::path dir = dreadlocks_test::scratch_dir();
  {
    dreadlocks::thread_level_path_lock lock(dir);
    BOOST_TEST(lock.owns_lock());
    dreadlocks::thread_level_path_lock long_name(
        dir / std::string(NAME_MAX + 1, 'n'));
    BOOST_TEST(long_name.owns_lock());
  }
  BOOST_TEST(fs::is_directory(dir));
  std::error_code ignored;
  BOOST_TEST(!fs::exists(dir / std::string(NAME_MAX + 1, 'n'), ignored));
  BOOST_TEST(dreadlocks::introspection::open_lock_files() == 0u);
}

// path_lock takes the thread level first; when the process level then
// fails, the thread level is given back.
BOOST_AUTO_TEST_CASE(path_lock_gives_back_the_thread_level) {
  const fs::path file = dreadlocks_test::unique_path("gone") / "x.lock";
  const std::system_error e =
      expect_system_error<dreadlocks::path_lock>(file);
  BOOST_TEST((e.code() == std::errc::no_such_file_or_directory), e.what());
  // The key is free again for a thread-level lock.
  dreadlocks::thread_level_path_lock lock(file, {.blocking = false});
  BOOST_TEST(lock.owns_lock());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
