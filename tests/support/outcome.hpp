// tests/support/outcome.hpp
//
// The one way tests name how a lock request ended: `attempt`, and
// attempt_of(), which runs a request and turns what it throws into one.
// Values, not exceptions, so that they cross threads (an exception object
// handed across threads is released inside libstdc++, where
// ThreadSanitizer cannot see the synchronisation) and processes (through
// shared memory, as an int).
//
//   std::string what;
//   const dlt::attempt got = dlt::attempt_of(
//       [&] { dreadlocks::path_lock lock(file, dlt::mode(false, false)); },
//       [&](const std::exception& error) { what = error.what(); });
//   BOOST_TEST(got == dlt::attempt::process_would_block, what);

#ifndef DREADLOCKS_TESTS_SUPPORT_OUTCOME_HPP_
#define DREADLOCKS_TESTS_SUPPORT_OUTCOME_HPP_

#include <exception>
#include <ostream>
#include <utility>

#include "dreadlocks/dreadlocks.hpp"

namespace dreadlocks_test {

// How a request ended. Nonzero, so that 0 in shared memory means "not yet".
enum class attempt : int {
  granted = 1,
  process_would_block,  // acquiring_process_level_lock_would_block_error
  thread_would_block,   // acquiring_thread_level_lock_would_block_error
  deadlock,             // recursive_deadlock_error
  other_error,          // anything else
};

inline const char* to_string(attempt result) {
  switch (result) {
    case attempt::granted:
      return "granted";
    case attempt::process_would_block:
      return "process-level would-block";
    case attempt::thread_would_block:
      return "thread-level would-block";
    case attempt::deadlock:
      return "recursive deadlock";
    case attempt::other_error:
      break;
  }
  return "other error";
}

inline std::ostream& operator<<(std::ostream& out, attempt result) {
  return out << to_string(result);
}

// Returns the attempt `error` stands for (never `granted`).
inline attempt attempt_of_error(const std::exception& error) {
  if (dynamic_cast<
          const dreadlocks::acquiring_process_level_lock_would_block_error*>(
          &error) != nullptr) {
    return attempt::process_would_block;
  }
  if (dynamic_cast<
          const dreadlocks::acquiring_thread_level_lock_would_block_error*>(
          &error) != nullptr) {
    return attempt::thread_would_block;
  }
  if (dynamic_cast<const dreadlocks::recursive_deadlock_error*>(&error) !=
      nullptr) {
    return attempt::deadlock;
  }
  return attempt::other_error;
}

// Runs `request`; returns `granted` if it returns, else the attempt its
// std::exception stands for, after handing the exception to `on_error`
// (to keep its message, code, ...). Anything else thrown is other_error.
template <class Request, class OnError>
attempt attempt_of(Request&& request, OnError&& on_error) {
  try {
    request();
    return attempt::granted;
  } catch (const std::exception& error) {
    on_error(error);
    return attempt_of_error(error);
  } catch (...) {
    return attempt::other_error;
  }
}

template <class Request>
attempt attempt_of(Request&& request) {
  return attempt_of(std::forward<Request>(request),
                    [](const std::exception&) {});
}

}  // namespace dreadlocks_test

#endif  // DREADLOCKS_TESTS_SUPPORT_OUTCOME_HPP_
