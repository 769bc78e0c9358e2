// tests/perf/key_normalization_test.cpp
//
// lock_key skips lexically_normal() for a path that is already normal and
// shares recent keys between guards of one thread (issue 4). Both shortcuts
// must give exactly the key the slow way gives.

#define BOOST_TEST_MODULE key_normalization_test
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/watchdog.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace fs = std::filesystem;

namespace {

constexpr const char* kOperation = "key_normalization_test";

// The key the contract defines: the lexically normal absolute path.
fs::path expected_key(const fs::path& path) {
  if (path.is_absolute()) return path.lexically_normal();
  return (fs::current_path() / path).lexically_normal();
}

// Every string of length 1..max_length over {'/', '.', 'a'}.
std::vector<std::string> all_spellings(std::size_t max_length) {
  std::vector<std::string> spellings;
  std::vector<std::string> previous{""};
  for (std::size_t length = 1; length <= max_length; ++length) {
    std::vector<std::string> next;
    for (const auto& prefix : previous) {
      for (const char c : {'/', '.', 'a'}) next.push_back(prefix + c);
    }
    spellings.insert(spellings.end(), next.begin(), next.end());
    previous = std::move(next);
  }
  return spellings;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_short_spelling_gets_the_lexically_normal_key) {
  std::size_t mismatches = 0;
  for (const auto& spelling : all_spellings(8)) {
    // Twice: the second time the thread's recent keys answer.
    for (int round = 0; round < 2; ++round) {
      const dreadlocks::lock_key key(fs::path(spelling), kOperation);
      if (key.path() != expected_key(spelling) ||
          key.path().native() != expected_key(spelling).native()) {
        if (++mismatches < 10) {
          BOOST_ERROR("\"" << spelling << "\" -> \"" << key.path().native()
                           << "\", expected \""
                           << expected_key(spelling).native() << "\"");
        }
      }
    }
  }
  BOOST_TEST(mismatches == 0u);
}

BOOST_AUTO_TEST_CASE(longer_spellings_get_the_lexically_normal_key) {
  for (const std::string spelling :
       {"/tmp/x/lock", "/tmp//x/lock", "/tmp/x/./lock", "/tmp/x/../lock",
        "/tmp/x/lock/", "/tmp/x/lock/.", "/tmp/x/lock/..", "//tmp/x/lock",
        "/tmp/.x/..lock", "/tmp/x./lock..", "/", "//", "/.", "/..",
        "relative/lock", "./lock", "../lock", "a/../../lock"}) {
    const dreadlocks::lock_key key(fs::path(spelling), kOperation);
    BOOST_TEST(key.path().native() == expected_key(spelling).native(),
               spelling);
  }
}

BOOST_AUTO_TEST_CASE(a_known_key_does_not_let_a_nul_through) {
  const std::string clean = "/tmp/nul-test/lock";
  const dreadlocks::lock_key known(fs::path(clean), kOperation);
  std::string with_nul = clean;
  with_nul[4] = '\0';
  BOOST_CHECK_THROW(dreadlocks::lock_key(fs::path(with_nul), kOperation),
                    std::system_error);
  BOOST_CHECK_THROW(dreadlocks::lock_key(fs::path(clean + std::string(1, '\0')),
                                         kOperation),
                    std::system_error);
}

BOOST_AUTO_TEST_CASE(equal_keys_hash_equal_and_outlive_the_thread_that_made_them) {
  const fs::path path = "/tmp/key-test/shared/lock";
  std::vector<dreadlocks::lock_key> made;
  std::thread maker([&] {
    for (int i = 0; i < 10; ++i) made.emplace_back(path, kOperation);
  });
  maker.join();  // its recent keys are gone with it
  const dreadlocks::lock_key mine(fs::path("/tmp/key-test/./shared/lock"),
                                  kOperation);
  for (const auto& key : made) {
    BOOST_TEST(key.path() == path);
    BOOST_TEST(key.hash() == mine.hash());
  }
  BOOST_TEST(mine.hash() ==
             std::hash<fs::path::string_type>()(path.native()));
}

BOOST_AUTO_TEST_CASE(a_moved_from_key_is_empty) {
  dreadlocks::lock_key key(fs::path("/tmp/key-test/moved"), kOperation);
  const dreadlocks::lock_key taker(std::move(key));
  BOOST_TEST(taker.path() == fs::path("/tmp/key-test/moved"));
  BOOST_TEST(key.path().empty());  // NOLINT(bugprone-use-after-move)
}

BOOST_AUTO_TEST_CASE(path_is_built_once_for_all_copies_even_when_threads_race) {
  const dreadlocks::lock_key key(std::string("/tmp/key-test/raced/./lock"),
                                 kOperation);
  BOOST_TEST(key.native() == "/tmp/key-test/raced/lock");
  BOOST_TEST(std::string(key.c_str()) == "/tmp/key-test/raced/lock");
  dreadlocks_test::watchdog dog(std::chrono::seconds(20));
  constexpr int kThreads = 8;
  const fs::path* seen[kThreads] = {};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const dreadlocks::lock_key copy = key;  // shares the block
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      seen[i] = &copy.path();  // all first calls, as close together as can be
    });
  }
  for (auto& thread : threads) thread.join();
  for (const fs::path* path : seen) {
    BOOST_TEST(path == &key.path());
  }
  BOOST_TEST(key.path() == fs::path("/tmp/key-test/raced/lock"));
}

// Keys as opened (docs/keys.md): only the foldings open(2) agrees with; a
// `..` after a component of the path is kept, one after the current
// directory's components (getcwd() names real directories) or under the
// root is folded.
BOOST_AUTO_TEST_CASE(keys_as_opened_keep_dot_dot_after_the_path) {
  using dreadlocks::key_form;
  const auto opened = [](const std::string& spelling) {
    return dreadlocks::lock_key(spelling, kOperation, key_form::as_opened)
        .native();
  };
  const std::string cwd = fs::current_path().native();
  const std::string parent = fs::current_path().parent_path().native();
  BOOST_TEST(opened("/tmp/x/lock") == "/tmp/x/lock");
  BOOST_TEST(opened("/tmp//x/./lock/") == "/tmp/x/lock");
  BOOST_TEST(opened("//tmp/x/lock/.") == "/tmp/x/lock");
  BOOST_TEST(opened("/tmp/link/../lock") == "/tmp/link/../lock");
  BOOST_TEST(opened("/tmp/a/b/../../lock") == "/tmp/a/b/../../lock");
  BOOST_TEST(opened("/../tmp/lock") == "/tmp/lock");
  BOOST_TEST(opened("/..") == "/");
  BOOST_TEST(opened("/") == "/");
  BOOST_TEST(opened("lock") == cwd + "/lock");
  BOOST_TEST(opened("./sub/../lock") == cwd + "/sub/../lock");
  BOOST_TEST(opened("../lock") == parent + "/lock");
  BOOST_TEST(opened("sub/../../lock") == cwd + "/sub/../../lock");
}

// The thread's recent keys never hand a key of one form to a request for
// the other: the same spelling gets its own fold each time.
BOOST_AUTO_TEST_CASE(recent_keys_keep_the_forms_apart) {
  using dreadlocks::key_form;
  const std::string spelling = "/tmp/key-test/link/../lock";
  for (int round = 0; round < 3; ++round) {
    const dreadlocks::lock_key lexical(spelling, kOperation);
    const dreadlocks::lock_key opened(spelling, kOperation,
                                      key_form::as_opened);
    BOOST_TEST(lexical.native() == "/tmp/key-test/lock");
    BOOST_TEST((lexical.form() == key_form::lexical));
    BOOST_TEST(opened.native() == spelling);
    BOOST_TEST((opened.form() == key_form::as_opened));
    // A lexical text is already folded as opened; the converse folds.
    BOOST_TEST(lexical.in_form(key_form::as_opened, kOperation).native() ==
               "/tmp/key-test/lock");
    BOOST_TEST(opened.in_form(key_form::lexical, kOperation).native() ==
               "/tmp/key-test/lock");
  }
}
