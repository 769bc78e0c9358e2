// tests/thread/reentrancy_test.cpp
//
// A thread asking again for a key it holds: reentrant nesting in the same
// mode and across modes (shared inside exclusive; exclusive inside shared,
// an upgrade that waits for the other shared holders), the non-reentrant
// repeat (recursive_deadlock_error at once, for every mode pair), and the
// upgrade deadlock of two shared holders that both ask for exclusive. Each
// scenario runs for every alias with a thread level, twice in a row.

#define BOOST_TEST_MODULE dreadlocks_thread_reentrancy
#include <boost/test/unit_test.hpp>
#include <optional>

#include "tests/support/nothing_left_behind.hpp"
#include "tests/thread/thread_test_util.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

using namespace dreadlocks_thread_test;

// What another thread may get, non-blocking, while `self` holds the key.
template <class Lock>
void expect_others(holder<Lock>& other, const fs::path& path, bool shared_ok,
                   const std::string& when) {
  BOOST_TEST_CONTEXT(when) {
    const fs::path key = key_of(path);
    require_would_block(other.lock(path, mode(false, false)), key, false,
                        "exclusive from another thread");
    if (shared_ok) {
      require_ok(other.lock(path, mode(true, false)),
                 "shared from another thread");
      require_ok(other.unlock(), "other unlock");
    } else {
      require_would_block(other.lock(path, mode(true, false)), key, true,
                          "shared from another thread");
    }
  }
}

template <class Lock>
void expect_free(holder<Lock>& other, const fs::path& path,
                 const std::string& when) {
  BOOST_TEST_CONTEXT(when) {
    require_ok(other.lock(path, mode(false, false)),
               "exclusive from another thread");
    require_ok(other.unlock(), "other unlock");
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(reentrant_same_mode_nesting, Lock, lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path path = dreadlocks_test::unique_path("nest-same");
  constexpr int kDepth = 4;
  twice([&] {
    for (const bool shared : {false, true}) {
      BOOST_TEST_CONTEXT(mode_name(shared) << " in " << mode_name(shared)) {
        holder<Lock> self("self");
        holder<Lock> other("other");
        for (int depth = 0; depth < kDepth; ++depth) {
          require_ok(self.lock(path, mode(shared, true, true)),
                     "nested lock, blocking");
        }
        // A non-blocking repeat never waits on the thread's own hold.
        require_ok(self.lock(path, mode(shared, false, true)),
                   "nested lock, non-blocking");
        BOOST_TEST(dreadlocks::introspection::held_thread_keys() == 1u);
        for (int depth = kDepth; depth > 0; --depth) {
          expect_others(other, path, shared,
                        "depth " + std::to_string(depth + 1));
          require_ok(self.unlock(), "inner unlock");
        }
        expect_others(other, path, shared, "outermost only");
        require_ok(self.unlock(), "outermost unlock");
        expect_free(other, path, "all released");
      }
    }
  });
}

BOOST_AUTO_TEST_CASE_TEMPLATE(shared_inside_exclusive, Lock, lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path path = dreadlocks_test::unique_path("nest-shared-in-excl");
  twice([&] {
    holder<Lock> self("self");
    holder<Lock> other("other");
    // In order: exclusive, shared; released inner first.
    require_ok(self.lock(path, mode(false)), "exclusive");
    require_ok(self.lock(path, mode(true, false, true)), "nested shared");
    expect_others(other, path, false, "exclusive + shared");
    require_ok(self.unlock(), "shared unlock");
    expect_others(other, path, false, "exclusive again");
    require_ok(self.unlock(), "exclusive unlock");
    expect_free(other, path, "released");

    // Released outer first (unlock() on the outer guard): what remains is
    // a shared hold, which lets other readers in but no writer.
    require_ok(self.lock(path, mode(false)), "exclusive");
    require_ok(self.lock(path, mode(true, true, true)), "nested shared");
    require_ok(self.unlock_at(0), "exclusive unlock first");
    BOOST_TEST(self.held() == 1u);
    expect_others(other, path, true, "shared left");
    require_ok(self.unlock(), "shared unlock");
    expect_free(other, path, "released");
  });
}

BOOST_AUTO_TEST_CASE_TEMPLATE(exclusive_inside_shared_upgrades, Lock,
                              lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path path = dreadlocks_test::unique_path("nest-excl-in-shared");
  twice([&] {
    holder<Lock> self("self");
    holder<Lock> other("other");
    // Sole holder: the upgrade is granted at once, even non-blocking.
    require_ok(self.lock(path, mode(true)), "shared");
    require_ok(self.lock(path, mode(false, false, true)), "upgrade");
    expect_others(other, path, false, "upgraded");
    require_ok(self.unlock(), "exclusive unlock");
    // Back to shared: readers are let in again, writers are not.
    expect_others(other, path, true, "downgraded");
    require_ok(self.unlock(), "shared unlock");
    expect_free(other, path, "released");
  });
}

BOOST_AUTO_TEST_CASE_TEMPLATE(upgrade_waits_for_other_readers, Lock,
                              lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path path = dreadlocks_test::unique_path("upgrade-wait");
  const fs::path key = key_of(path);
  twice([&] {
    event_log log;
    holder<Lock> self("A", &log);
    holder<Lock> reader("B", &log);
    holder<Lock> other("C");
    require_ok(self.lock(path, mode(true)), "A shared");
    require_ok(reader.lock(path, mode(true)), "B shared");
    // Non-blocking, the upgrade is refused while B reads, and A keeps its
    // shared hold.
    require_would_block(self.lock(path, mode(false, false, true)), key, false,
                        "non-blocking upgrade beside a reader");
    BOOST_TEST(self.held() == 1u);
    // Blocking, it waits for B.
    auto upgrade = self.lock(path, mode(false, true, true));
    BOOST_TEST(self.wait_until_waiting(), "upgrade did not wait");
    BOOST_TEST(!is_ready(upgrade), "upgrade granted beside a reader");
    require_ok(reader.unlock(), "B leaves");
    require_ok(std::move(upgrade), "upgrade after B left");
    BOOST_TEST(log.last_index_of("A acquired") > log.index_of("B released"),
               log.dump());
    expect_others(other, path, false, "upgraded");
    require_ok(self.unlock(), "A exclusive unlock");
    expect_others(other, path, true, "A shared again");
    require_ok(self.unlock(), "A shared unlock");
    expect_free(other, path, "released");
  });
}

BOOST_AUTO_TEST_CASE_TEMPLATE(non_reentrant_repeat_is_refused, Lock,
                              lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path path = dreadlocks_test::unique_path("repeat");
  const fs::path key = key_of(path);
  twice([&] {
    for (const bool first : {false, true}) {
      for (const bool second : {false, true}) {
        for (const bool blocking : {true, false}) {
          BOOST_TEST_CONTEXT(mode_name(second)
                             << " asked again inside " << mode_name(first)
                             << ", blocking " << blocking) {
            holder<Lock> self("self");
            holder<Lock> other("other");
            require_ok(self.lock(path, mode(first)), "first lock");
            // Refused at once: the watchdog would catch a hang.
            require_recursive_deadlock(
                self.lock(path, mode(second, blocking, false)), key, second,
                "repeat without reentrancy");
            // Refused on the same guard, on this thread too.
            BOOST_TEST(self.held() == 1u);
            // The first hold is intact and nothing was added to it.
            expect_others(other, path, first, "after the refusal");
            require_ok(self.unlock(), "first unlock");
            expect_free(other, path, "released");
          }
        }
      }
    }
  });
}

// The always-refusing policy refuses even when the options ask for
// reentrancy; the always-allowing one nests when they do not.
BOOST_AUTO_TEST_CASE(reentrancy_policies_decide) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  using never = dreadlocks::basic_path_lock<dreadlocks::shareable_thread_lock,
                                            dreadlocks::no_process_lock,
                                            dreadlocks::never_reentrant>;
  using always = dreadlocks::basic_path_lock<dreadlocks::shareable_thread_lock,
                                             dreadlocks::no_process_lock,
                                             dreadlocks::always_reentrant>;
  const fs::path path = dreadlocks_test::unique_path("policies");
  twice([&] {
    {
      never outer(path, mode(true));
      BOOST_CHECK_THROW(never(path, mode(true, true, true)),
                        dreadlocks::recursive_deadlock_error);
    }
    {
      always outer(path, mode(false));
      always inner(path, mode(false, false, false));
      always inner_shared(path, mode(true, false, false));
      BOOST_TEST(inner.owns_lock());
      BOOST_TEST(inner_shared.owns_lock());
    }
  });
}

BOOST_AUTO_TEST_CASE_TEMPLATE(upgrade_deadlock_is_detected, Lock, lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path path = dreadlocks_test::unique_path("upgrade-deadlock");
  const fs::path key = key_of(path);
  twice([&] {
    event_log log;
    holder<Lock> a("A", &log);
    holder<Lock> b("B", &log);
    holder<Lock> other("C");
    require_ok(a.lock(path, mode(true)), "A shared");
    require_ok(b.lock(path, mode(true)), "B shared");
    // Both ask to upgrade at (about) the same time.
    auto upgrade_a = a.lock(path, mode(false, true, true));
    auto upgrade_b = b.lock(path, mode(false, true, true));
    // Exactly one is refused, promptly; the other waits.
    const auto end = std::chrono::steady_clock::now() + kTimeout;
    while (!is_ready(upgrade_a) && !is_ready(upgrade_b) &&
           std::chrono::steady_clock::now() < end) {
      std::this_thread::yield();
    }
    BOOST_TEST_REQUIRE((is_ready(upgrade_a) || is_ready(upgrade_b)),
                       "both upgrades hang: deadlock not detected");
    const bool a_refused = is_ready(upgrade_a);
    holder<Lock>& loser = a_refused ? a : b;
    holder<Lock>& winner = a_refused ? b : a;
    auto& lost = a_refused ? upgrade_a : upgrade_b;
    auto& won = a_refused ? upgrade_b : upgrade_a;
    require_recursive_deadlock(std::move(lost), key, false,
                               "second upgrade");
    BOOST_TEST(winner.wait_until_waiting(), "first upgrade did not wait");
    BOOST_TEST(!is_ready(won), "upgrade granted beside a reader");
    BOOST_TEST(loser.held() == 1u, "the refused thread lost its shared hold");
    // The refused thread drops its shared hold; the other's upgrade ends.
    require_ok(loser.unlock(), "refused thread leaves");
    require_ok(std::move(won), "upgrade after the other left");
    BOOST_TEST(log.last_index_of(winner.name() + " acquired") >
                   log.index_of(loser.name() + " released"),
               log.dump());
    expect_others(other, path, false, "upgraded");
    require_ok(winner.unlock(), "exclusive unlock");
    require_ok(winner.unlock(), "shared unlock");
  });
}

// A guard moved to another thread and released there while its taker
// waits to upgrade: the taker then holds nothing, so its request is a plain
// exclusive one and must wait for every reader, not only for itself to be
// alone in the owner table.
BOOST_AUTO_TEST_CASE_TEMPLATE(upgrade_after_outer_guard_moved_away, Lock,
                              lock_types) {
  dreadlocks_test::watchdog watchdog(kWatchdog);
  const fs::path path = dreadlocks_test::unique_path("moved-upgrade");
  twice([&] {
    event_log log;
    holder<Lock> a("A", &log);
    holder<Lock> b("B", &log);
    // A takes shared and hands the guard out to this thread.
    auto taken = a.run([&] { return Lock(path, mode(true)); });
    BOOST_TEST_REQUIRE(ready_within(taken));
    std::optional<Lock> outer(taken.get());
    require_ok(b.lock(path, mode(true)), "B shared");
    auto upgrade = a.lock(path, mode(false, true, true));
    BOOST_TEST(a.wait_until_waiting(), "upgrade did not wait");
    // A's shared hold is released here; B still reads.
    outer.reset();
    log.add("outer released");
    // A must not get exclusive while B holds shared. Give a wrong grant
    // the chance to happen (bounded), then let B go.
    const bool early = ready_within(upgrade, 200ms);
    BOOST_TEST(!early, "exclusive granted while another thread holds shared");
    require_ok(b.unlock(), "B leaves");
    require_ok(std::move(upgrade), "A's request after B left");
    BOOST_TEST(log.last_index_of("A acquired") > log.index_of("B released"),
               log.dump());
    require_ok(a.unlock(), "A unlock");
  });
}

}  // namespace
