// tests/support/scenario_locks.hpp
//
// The vocabulary the thread, process and timeout scenarios are written in:
// the two compositions of a process policy (process level alone, both
// levels), which levels a lock type has, a request's options in one call, a mode's name as messages spell
// it, and the key a path is locked under. One definition for all of them,
// so that "exclusive, non-blocking" means the same request everywhere.

#ifndef DREADLOCKS_TESTS_SUPPORT_SCENARIO_LOCKS_HPP_
#define DREADLOCKS_TESTS_SUPPORT_SCENARIO_LOCKS_HPP_

#include <filesystem>
#include <type_traits>

#include "dreadlocks/dreadlocks.hpp"

namespace dreadlocks_test {

// Any kind of lock (basic_path_lock, basic_path_mutex,
// basic_multi_path_lock) composed over the process policy P, as the aliases
// compose it over the default one.
template <template <class, class, class> class Kind, class P>
using with_process_level =
    Kind<dreadlocks::no_thread_lock, P, dreadlocks::reentrant_if_requested>;
template <template <class, class, class> class Kind, class P>
using with_both_levels = Kind<dreadlocks::shareable_thread_lock, P,
                              dreadlocks::reentrant_if_requested>;

// Process policy P with no thread level, and with the shareable one; both
// honour a request's `reentrant` flag, so that one type serves nested and
// non-nested scenarios.
template <class P>
using process_level_lock = with_process_level<dreadlocks::basic_path_lock, P>;
template <class P>
using both_levels_lock = with_both_levels<dreadlocks::basic_path_lock, P>;

// What another process would hold against Lock: the same OS primitive,
// without Lock's thread level (which another process does not share).
template <class Lock>
using process_level_of = process_level_lock<typename Lock::process_policy>;

inline dreadlocks::lock_options mode(bool shared, bool blocking = true,
                                     bool reentrant = false) {
  dreadlocks::lock_options options;
  options.shared = shared;
  options.blocking = blocking;
  options.reentrant = reentrant;
  return options;
}

// Whether a guard or mutex type excludes threads / processes (has a thread
// level / a process level).
template <class T>
inline constexpr bool excludes_threads_v =
    !std::is_same_v<typename T::thread_policy, dreadlocks::no_thread_lock>;
template <class T>
inline constexpr bool excludes_processes_v =
    !std::is_same_v<typename T::process_policy, dreadlocks::no_process_lock>;

// As the library's messages spell the mode.
inline const char* mode_name(bool shared) {
  return shared ? "shared" : "exclusive";
}

// The key a lock on `file` is taken under.
inline std::filesystem::path key_of(const std::filesystem::path& file) {
  return std::filesystem::absolute(file).lexically_normal();
}

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_SCENARIO_LOCKS_HPP_
