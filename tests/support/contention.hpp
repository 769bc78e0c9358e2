// tests/support/contention.hpp
//
// What the tests of path mutexes and multi-path locks share when they pit a
// lock against a holder in another thread or process: which of those a
// lock type keeps out, the time bounds of a refused request, and for the
// stress tests, a count of who is inside each critical section and a run of
// two rival processes.
//
//   if constexpr (dreadlocks_test::excludes_other_threads<M>) { ... }
//   const auto start = std::chrono::steady_clock::now();
//   BOOST_TEST(!m.try_lock_for(timeout));
//   dreadlocks_test::check_timed(std::chrono::steady_clock::now() - start,
//                                timeout);
//
//   dreadlocks_test::shared_object<dreadlocks_test::occupancy<3>> inside;
//   ... each process, holding the locks of sections 0 and 2:
//   inside->enter({0, 2});  inside->leave({0, 2});
//   ... parent: BOOST_TEST(inside->violations() == 0);
//
//   dreadlocks_test::run_in_two_processes(body_a, body_b);  // both exit 0

#ifndef DREADLOCKS_TESTS_SUPPORT_CONTENTION_HPP_
#define DREADLOCKS_TESTS_SUPPORT_CONTENTION_HPP_

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <type_traits>
#include <utility>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/child_process.hpp"

namespace dreadlocks_test {

// Whether holders of `Lock` (a path mutex or a multi-path lock: anything
// with a guard_type) keep out the other threads of this process / other
// processes.
template <class Lock>
inline constexpr bool excludes_other_threads =
    !std::is_same_v<typename Lock::guard_type::thread_policy,
                    dreadlocks::no_thread_lock>;
template <class Lock>
inline constexpr bool excludes_other_processes =
    !std::is_same_v<typename Lock::guard_type::process_policy,
                    dreadlocks::no_process_lock>;

// How soon a request that must not wait is refused.
inline constexpr std::chrono::milliseconds kAtOnce{200};

// How much longer than its timeout a refused timed request may take:
// generous, for sanitizers and loaded CI machines.
inline constexpr std::chrono::milliseconds kTimedMargin{2000};

// Checks that a refused timed request waited its `timeout`, and less than
// kTimedMargin more.
inline void check_timed(std::chrono::steady_clock::duration elapsed,
                        std::chrono::milliseconds timeout) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  // Parenthesised: C++17 cannot print durations; the messages say it all.
  BOOST_TEST((elapsed >= timeout),
             "waited only " << ms << " ms of " << timeout.count() << " ms");
  BOOST_TEST((elapsed < timeout + kTimedMargin),
             "waited " << ms << " ms of " << timeout.count() << " ms");
}

// occupancy
//
// Who is inside each of `Sections` critical sections, and how many times
// one was entered while another party was inside: a stress test's proof
// that its locks exclude. Made of lock-free atomics only, so that it also
// counts across processes in a shared_object (shared_memory.hpp).
template <std::size_t Sections>
class occupancy {
 public:
  // Enters the sections numbered `which` (each below Sections), counting a
  // violation for each that was occupied.
  template <class Indices>
  void enter(const Indices& which) noexcept {
    for (const auto i : which) {
      if (inside_[i].fetch_add(1) != 0) violations_.fetch_add(1);
    }
  }
  void enter(std::initializer_list<int> which) noexcept {
    enter<std::initializer_list<int>>(which);
  }

  // Leaves the sections numbered `which`, entered before.
  template <class Indices>
  void leave(const Indices& which) noexcept {
    for (const auto i : which) inside_[i].fetch_sub(1);
  }
  void leave(std::initializer_list<int> which) noexcept {
    leave<std::initializer_list<int>>(which);
  }

  int violations() const noexcept { return violations_.load(); }

 private:
  static_assert(std::atomic<int>::is_always_lock_free,
                "shared between processes, it must not hide a lock");
  std::atomic<int> inside_[Sections] = {};
  std::atomic<int> violations_{0};
};

// Runs `first` and `second`, child_process bodies, in two processes at
// once, and checks that both exit with 0. Waits for each as
// child_process::wait() does (bounded).
template <class First, class Second>
void run_in_two_processes(First&& first, Second&& second) {
  child_process one(std::forward<First>(first));
  child_process other(std::forward<Second>(second));
  const exit_status one_status = one.wait();
  const exit_status other_status = other.wait();
  BOOST_TEST(one_status.ok(), one_status.describe());
  BOOST_TEST(other_status.ok(), other_status.describe());
}

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_CONTENTION_HPP_
