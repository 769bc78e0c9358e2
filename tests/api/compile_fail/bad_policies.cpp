// tests/api/compile_fail/bad_policies.cpp
//
// Must NOT compile: basic_path_lock over a policy that misses a member
// stops at the readable static_assert of basic_path_lock.hpp. Which policy
// is broken is chosen with -DBROKEN_THREAD_POLICY, -DBROKEN_PROCESS_POLICY
// or -DBROKEN_REENTRANCY_POLICY.

#include "dreadlocks/dreadlocks.hpp"

namespace {

// Missing `release`.
struct broken_thread_lock {
  struct hold {};
  static hold acquire(const dreadlocks::lock_request&) { return {}; }
};

// Missing `native_handle`.
struct broken_process_lock {
  using native_handle_type = int;
  struct hold {};
  static hold acquire(const dreadlocks::lock_request&) { return {}; }
  static void release(hold&) noexcept {}
};

// `allows_reentry` returns int.
struct broken_reentrancy {
  static int allows_reentry(const dreadlocks::lock_options&) noexcept {
    return 1;
  }
};

#if defined(BROKEN_THREAD_POLICY)
using lock = dreadlocks::basic_path_lock<broken_thread_lock,
                                         dreadlocks::no_process_lock,
                                         dreadlocks::reentrant_if_requested>;
#elif defined(BROKEN_PROCESS_POLICY)
using lock = dreadlocks::basic_path_lock<dreadlocks::shareable_thread_lock,
                                         broken_process_lock,
                                         dreadlocks::reentrant_if_requested>;
#elif defined(BROKEN_REENTRANCY_POLICY)
using lock = dreadlocks::basic_path_lock<dreadlocks::shareable_thread_lock,
                                         dreadlocks::no_process_lock,
                                         broken_reentrancy>;
#else
#error "define BROKEN_THREAD_POLICY, BROKEN_PROCESS_POLICY or BROKEN_REENTRANCY_POLICY"
#endif

}  // namespace

int main() {
  lock guard("/tmp/dreadlocks-never-compiled.lock");
  return guard.owns_lock() ? 0 : 1;
}
