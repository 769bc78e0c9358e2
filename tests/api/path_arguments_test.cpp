// tests/api/path_arguments_test.cpp
//
// SPEC §1: every alias takes a std::filesystem::path, boost::filesystem::path,
// std::string, std::string_view, const char* or char array, none ambiguous,
// and all of them name the same key; other types are rejected at compile
// time.

#define BOOST_TEST_MODULE dreadlocks_api_path_arguments

#include <unistd.h>

#include <boost/filesystem/path.hpp>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

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
using dreadlocks::lock_options;

// ---- compile time: accepted and rejected argument types ----

template <class L>
constexpr bool accepts_every_path_type() {
  return std::is_constructible_v<L, fs::path> &&
         std::is_constructible_v<L, const fs::path&> &&
         std::is_constructible_v<L, boost::filesystem::path> &&
         std::is_constructible_v<L, std::string> &&
         std::is_constructible_v<L, const std::string&> &&
         std::is_constructible_v<L, std::string_view> &&
         std::is_constructible_v<L, const char*> &&
         std::is_constructible_v<L, char*> &&
         std::is_constructible_v<L, const char (&)[8]> &&
         std::is_constructible_v<L, char (&)[8]> &&
         std::is_constructible_v<L, fs::path, lock_options> &&
         std::is_constructible_v<L, boost::filesystem::path, lock_options> &&
         std::is_constructible_v<L, std::string, lock_options> &&
         std::is_constructible_v<L, std::string_view, lock_options> &&
         std::is_constructible_v<L, const char*, lock_options>;
}

template <class L>
constexpr bool rejects_non_paths() {
  return !std::is_constructible_v<L, int> &&
         !std::is_constructible_v<L, double> &&
         !std::is_constructible_v<L, char> &&
         !std::is_constructible_v<L, std::nullptr_t> &&
         !std::is_constructible_v<L, std::vector<int>> &&
         !std::is_constructible_v<L, lock_options> &&
         !std::is_constructible_v<L, int, lock_options> &&
         !std::is_constructible_v<L, std::vector<int>, lock_options>;
}

// The constructor is explicit: a string does not silently become a lock.
template <class L>
constexpr bool constructor_is_explicit() {
  return !std::is_convertible_v<fs::path, L> &&
         !std::is_convertible_v<std::string, L> &&
         !std::is_convertible_v<const char*, L>;
}

template <class L>
constexpr bool check_alias() {
  static_assert(accepts_every_path_type<L>());
  static_assert(rejects_non_paths<L>());
  static_assert(constructor_is_explicit<L>());
  static_assert(!std::is_default_constructible_v<L>);
  return true;
}

static_assert(check_alias<dreadlocks::thread_level_path_lock>());
static_assert(check_alias<dreadlocks::process_level_path_lock>());
static_assert(check_alias<dreadlocks::path_lock>());

// ---- run time: every overload names the same key ----

template <class L>
fs::path path_of(L&& lock) {
  BOOST_TEST(lock.owns_lock());
  return lock.path();
}

BOOST_FIXTURE_TEST_SUITE(path_arguments, dreadlocks_test::nothing_left_behind)

BOOST_AUTO_TEST_CASE_TEMPLATE(every_overload_gives_the_same_path, L,
                              all_aliases) {
  const fs::path file = dreadlocks_test::unique_path("overloads");
  const std::string text = file.string();
  const fs::path expected = file.lexically_normal();
  BOOST_TEST_REQUIRE(expected.is_absolute());

  char array[4096] = {};
  BOOST_TEST_REQUIRE(text.size() < sizeof array);
  std::memcpy(array, text.c_str(), text.size() + 1);
  const char* c_string = text.c_str();

  BOOST_TEST(path_of(L(file)) == expected);
  BOOST_TEST(path_of(L(boost::filesystem::path(text))) == expected);
  BOOST_TEST(path_of(L(text)) == expected);
  BOOST_TEST(path_of(L(std::string_view(text))) == expected);
  BOOST_TEST(path_of(L(c_string)) == expected);
  BOOST_TEST(path_of(L(array)) == expected);
  BOOST_TEST(path_of(L(static_cast<const char(&)[4096]>(array))) == expected);
  // The same with options.
  BOOST_TEST(path_of(L(file, {.shared = true})) == expected);
  BOOST_TEST(path_of(L(boost::filesystem::path(text), {.shared = true})) ==
             expected);
  BOOST_TEST(path_of(L(text, {.shared = true})) == expected);
  BOOST_TEST(path_of(L(std::string_view(text), {.shared = true})) == expected);
  BOOST_TEST(path_of(L(c_string, {.shared = true})) == expected);
  BOOST_TEST(path_of(L(array, {.shared = true})) == expected);
}

// A string_view that is not NUL-terminated is read up to its size, not to
// the end of the underlying buffer.
BOOST_AUTO_TEST_CASE_TEMPLATE(string_view_uses_its_size, L, all_aliases) {
  const fs::path file = dreadlocks_test::unique_path("view");
  const std::string padded = file.string() + "TRAILING";
  const std::string_view view(padded.data(), file.string().size());
  L lock(view);
  BOOST_TEST(lock.path() == file);
}

// Different spellings of one path name one key, whatever the argument type.
// `d/..` is folded lexically only where no file is opened; a file-backed
// lock keeps it (`d` could be a symlink) and reaches the file through it
// (docs/keys.md).
BOOST_AUTO_TEST_CASE_TEMPLATE(spellings_of_one_path_are_one_key, L,
                              all_aliases) {
  const fs::path file = dreadlocks_test::unique_path("spelling");
  const fs::path dir = file.parent_path();
  const std::string name = file.filename().string();
  const std::string dotted = (dir / "." / name).string();
  const fs::path sub = dreadlocks_test::unique_path("spelling-dir");
  fs::create_directories(sub);
  const std::string up = (sub / ".." / name).string();
  const std::string doubled = dir.string() + "//" + name;

  L first(file);
  BOOST_TEST(L(up.c_str(), {.reentrant = true}).path() ==
             (api_test::has_process_level<L> ? fs::path(up) : file));
  BOOST_TEST(L(std::string_view(dotted), {.reentrant = true}).path() == file);
  BOOST_TEST(L(boost::filesystem::path(doubled), {.reentrant = true}).path() ==
             file);
  if constexpr (api_test::has_process_level<L>) {
    // One descriptor for all spellings.
    BOOST_TEST(dreadlocks::introspection::open_lock_files() == 1u);
  }
}

// A relative path is made absolute against the current directory.
BOOST_AUTO_TEST_CASE_TEMPLATE(relative_paths_become_absolute, L, all_aliases) {
  const fs::path dir = dreadlocks_test::scratch_dir();
  const fs::path saved = fs::current_path();
  fs::current_path(dir);
  const fs::path cwd = fs::current_path();  // as the library will read it
  try {
    const std::string name =
        dreadlocks_test::unique_path("relative").filename().string();
    {
      L lock("./" + name);
      BOOST_TEST(lock.path() == cwd / name);
      BOOST_TEST(lock.path().is_absolute());
      if constexpr (api_test::has_process_level<L>) {
        BOOST_TEST(fs::exists(cwd / name));
      }
    }
    {
      // `sub/..` is kept where a file is opened (docs/keys.md).
      fs::create_directories(cwd / "sub");
      L lock(std::string_view("sub/../" + name));
      BOOST_TEST(lock.path() == (api_test::has_process_level<L>
                                     ? cwd / "sub" / ".." / name
                                     : cwd / name));
    }
  } catch (...) {
    fs::current_path(saved);
    throw;
  }
  fs::current_path(saved);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
