// tests/api/compile_fail/bad_policies.cpp
//
// Must NOT compile: a guard over a policy that breaks one requirement of
// dreadlocks/policy_concepts.hpp stops first at the static_assert that
// names that requirement. -DBROKEN_<CLAUSE> picks the broken policy below
// (each meets every requirement checked before its clause, and nothing
// after it is needed); the clauses a ThreadPolicy and a ProcessPolicy share
// break the ThreadPolicy unless -DKIND_PROCESS. -DGUARD_MUTEX or
// -DGUARD_MULTI uses basic_path_mutex or basic_multi_path_lock instead of
// basic_path_lock.

#include <string>
#include <vector>

#include "dreadlocks/dreadlocks.hpp"

namespace {

using dreadlocks::lock_key;
using dreadlocks::lock_options;
using dreadlocks::lock_request;

// The requirements in order, each stage meeting one more.
struct held {
  struct hold {};
};
struct acquires : held {
  static hold acquire(const lock_request&) { return {}; }
};
struct releases : acquires {
  static void release(hold&) noexcept {}
};
struct handles : releases {
  using native_handle_type = int;
  static native_handle_type native_handle(const hold&) noexcept { return -1; }
};
// The locating group, declared only: a broken policy never reaches a call.
struct locates : handles {
  struct located {};
  static located locate(const lock_request&);
};
struct keys_files : locates {
  static const lock_key& thread_key(const located&,
                                    const lock_request&) noexcept;
};
struct locks_located : keys_files {
  static hold lock_located(located&, const lock_request&);
};
struct abandons : locks_located {
  static void abandon(located&) noexcept;
};

// ---- the clauses a ThreadPolicy and a ProcessPolicy share ----
#if defined(BROKEN_HOLD_TYPE)
struct broken {
  int hold = 0;  // a data member, not a type
};
#elif defined(BROKEN_HOLD_EMPTY)
struct broken {
  struct hold {
    explicit hold(int) {}
  };
};
#elif defined(BROKEN_HOLD_MOVE)
struct broken {
  struct hold {
    hold() = default;
    hold(hold&&) noexcept(false) {}
    hold& operator=(hold&&) noexcept { return *this; }
  };
};
#elif defined(BROKEN_HOLD_MOVE_ASSIGN)
struct broken {
  struct hold {
    hold() = default;
    hold(hold&&) noexcept {}
    hold& operator=(hold&&) noexcept(false) { return *this; }
  };
};
#elif defined(BROKEN_ACQUIRE)
struct broken : held {
  static hold acquire(const std::string&) { return {}; }
};
#elif defined(BROKEN_ACQUIRE_STATIC)
struct broken : held {
  hold acquire(const lock_request&) { return {}; }
};
#elif defined(BROKEN_ACQUIRE_RETURNS_HOLD)
struct broken : held {
  static bool acquire(const lock_request&) { return true; }
};
#elif defined(BROKEN_RELEASE)
struct broken : acquires {};
#elif defined(BROKEN_RELEASE_STATIC)
struct broken : acquires {
  void release(hold&) noexcept {}
};
#elif defined(BROKEN_RELEASE_NOEXCEPT)
struct broken : acquires {
  static void release(hold&) {}
};

// ---- a ProcessPolicy's own ----
#elif defined(BROKEN_NATIVE_HANDLE_TYPE)
#define KIND_PROCESS
struct broken : releases {
  static int native_handle(const hold&) noexcept { return -1; }
};
#elif defined(BROKEN_NATIVE_HANDLE)
#define KIND_PROCESS
struct broken : releases {
  using native_handle_type = int;
};
#elif defined(BROKEN_NATIVE_HANDLE_STATIC)
#define KIND_PROCESS
struct broken : releases {
  using native_handle_type = int;
  native_handle_type native_handle(const hold&) const noexcept { return -1; }
};
#elif defined(BROKEN_NATIVE_HANDLE_RETURNS_HANDLE)
#define KIND_PROCESS
struct broken : releases {
  using native_handle_type = int;
  static long native_handle(const hold&) noexcept { return -1; }
};
#elif defined(BROKEN_NATIVE_HANDLE_NOEXCEPT)
#define KIND_PROCESS
struct broken : releases {
  using native_handle_type = int;
  static native_handle_type native_handle(const hold&) { return -1; }
};
#elif defined(BROKEN_KEYS)
#define KIND_PROCESS
struct broken : handles {
  dreadlocks::key_form keys = dreadlocks::key_form::lexical;  // not static
};
#elif defined(BROKEN_LOCATED)
#define KIND_PROCESS
struct broken : handles {
  static void abandon(int&) noexcept;  // one of the group, without the rest
};
#elif defined(BROKEN_LOCATE)
#define KIND_PROCESS
struct broken : handles {
  struct located {};
};
#elif defined(BROKEN_THREAD_KEY)
#define KIND_PROCESS
struct broken : locates {
  static const lock_key& thread_key(const located&, const lock_request&);
};
#elif defined(BROKEN_LOCK_LOCATED)
#define KIND_PROCESS
struct broken : keys_files {
  static int lock_located(located&, const lock_request&);
};
#elif defined(BROKEN_ABANDON)
#define KIND_PROCESS
struct broken : locks_located {
  static void abandon(located&);
};
#elif defined(BROKEN_TRY_REPEAT)
#define KIND_PROCESS
struct broken : abandons {
  static bool try_repeat(const lock_request&) noexcept;
};

#elif defined(BROKEN_KEPT)
#define KIND_PROCESS
struct broken : handles {
  static void unkeep(int&) noexcept;  // one of the keeping group, alone
};
#elif defined(BROKEN_KEEP)
#define KIND_PROCESS
struct broken : handles {
  struct kept {};
  static void keep(kept&, const hold&);  // not noexcept
  static void unkeep(kept&) noexcept;
};
#elif defined(BROKEN_UNKEEP)
#define KIND_PROCESS
struct broken : handles {
  struct kept {};
  static void keep(kept&, const hold&) noexcept;
  static bool unkeep(kept&) noexcept;  // returns something
};
#elif defined(BROKEN_KEPT_KEY)
#define KIND_PROCESS
struct broken : handles {
  struct kept {};
  static void keep(kept&, const hold&) noexcept;
  static void unkeep(kept&) noexcept;
  static const lock_key* kept_key(const kept&);  // not noexcept
  static hold lock_kept(kept&, const lock_request&);
};
#elif defined(BROKEN_LOCK_KEPT)
#define KIND_PROCESS
struct broken : handles {
  struct kept {};
  static void keep(kept&, const hold&) noexcept;
  static void unkeep(kept&) noexcept;
  static const lock_key* kept_key(const kept&) noexcept;
  static bool lock_kept(kept&, const lock_request&);  // returns no hold
};

// ---- a ReentrancyPolicy's ----
#elif defined(BROKEN_ALLOWS_REENTRY)
#define KIND_REENTRANCY
struct broken {
  static bool allows_reentry(const std::string&) noexcept { return true; }
};
#elif defined(BROKEN_ALLOWS_REENTRY_STATIC)
#define KIND_REENTRANCY
struct broken {
  bool allows_reentry(const lock_options&) const noexcept { return true; }
};
#elif defined(BROKEN_ALLOWS_REENTRY_RETURNS_BOOL)
#define KIND_REENTRANCY
struct broken {
  static int allows_reentry(const lock_options&) noexcept { return 1; }
};
#elif defined(BROKEN_ALLOWS_REENTRY_NOEXCEPT)
#define KIND_REENTRANCY
struct broken {
  static bool allows_reentry(const lock_options&) { return true; }
};
#else
#error "define one BROKEN_<CLAUSE> (see tests/api/BUILD.bazel)"
#endif

#if defined(KIND_REENTRANCY)
using thread_policy = dreadlocks::shareable_thread_lock;
using process_policy = dreadlocks::no_process_lock;
using reentrancy_policy = broken;
#elif defined(KIND_PROCESS)
using thread_policy = dreadlocks::shareable_thread_lock;
using process_policy = broken;
using reentrancy_policy = dreadlocks::reentrant_if_requested;
#else
using thread_policy = broken;
using process_policy = dreadlocks::no_process_lock;
using reentrancy_policy = dreadlocks::reentrant_if_requested;
#endif

}  // namespace

int main() {
  const char* const path = "/tmp/dreadlocks-never-compiled.lock";
#if defined(GUARD_MUTEX)
  dreadlocks::basic_path_mutex<thread_policy, process_policy,
                               reentrancy_policy>
      mutex(path);
  mutex.lock();
  mutex.unlock();
  return 0;
#elif defined(GUARD_MULTI)
  dreadlocks::basic_multi_path_lock<thread_policy, process_policy,
                                    reentrancy_policy>
      guard(std::vector<std::string>{path});
  return guard.owns_lock() ? 0 : 1;
#else
  dreadlocks::basic_path_lock<thread_policy, process_policy, reentrancy_policy>
      guard(path);
  return guard.owns_lock() ? 0 : 1;
#endif
}
