// tests/api/compile_fail/bad_primitives.cpp
//
// Must NOT compile: file_process_lock over a LockPrimitive that breaks one
// requirement of dreadlocks/lock_primitive.hpp stops first at the
// static_assert naming it. -DBROKEN_<CLAUSE> picks which.

#include "dreadlocks/dreadlocks.hpp"

namespace {

using dreadlocks::lock_result;
using dreadlocks::primitive_mode;

// Everything but set() and the traits, from the shipped base.
struct opens : dreadlocks::posix_file_primitive {};

#if defined(BROKEN_SET)
// set() may throw: the registry calls it under its mutex.
struct broken : opens {
  static constexpr bool closing_any_releases = false;
  static lock_result set(native_handle_type, primitive_mode, primitive_mode,
                         bool) {
    return {dreadlocks::lock_status::acquired};
  }
};
#elif defined(BROKEN_CLOSING_ANY_RELEASES)
// The trait is missing.
struct broken : opens {
  static lock_result set(native_handle_type, primitive_mode, primitive_mode,
                         bool) noexcept {
    return {dreadlocks::lock_status::acquired};
  }
};
#elif defined(BROKEN_SET_UNTIL)
// set_until() takes a duration, not a deadline.
struct broken : dreadlocks::ofd_primitive {
  static lock_result set_until(native_handle_type, primitive_mode,
                               primitive_mode, long) noexcept {
    return {dreadlocks::lock_status::acquired};
  }
};
#elif defined(BROKEN_IDLE_HANDLES_REUSABLE)
// Idle handles kept where closing any handle releases the process's lock.
struct broken : dreadlocks::fcntl_primitive {
  static constexpr bool idle_handles_reusable = true;
};
#elif defined(BROKEN_OPEN)
// open() takes the wrong arguments.
struct broken : dreadlocks::fcntl_primitive {
  static native_handle_type open(const char*) noexcept { return -1; }
};
#endif

}  // namespace

int main() {
  dreadlocks::basic_path_lock<dreadlocks::no_thread_lock,
                              dreadlocks::file_process_lock<broken>,
                              dreadlocks::reentrant_if_requested>
      lock("x");
  return lock.owns_lock() ? 0 : 1;
}
