// dreadlocks/thread_policies.hpp
//
// ThreadPolicy: the in-process level, excluding the threads of one process
// per key.
//
// What a ThreadPolicy must provide and enforce (per-thread counts and
// reentrancy, release from another thread, shared and exclusive per key,
// the would-block and deadlock errors) is stated once, with its check, in
// dreadlocks/policy_concepts.hpp.
//
// Shipped:
//   shareable_thread_lock  a keyed registry of shared/exclusive locks with
//                          per-thread ownership counts (docs/thread-level.md)
//   no_thread_lock         grants everything at once; holds nothing

#ifndef DREADLOCKS_THREAD_POLICIES_HPP_
#define DREADLOCKS_THREAD_POLICIES_HPP_

#include <cstdint>

#include "dreadlocks/detail/thread_registry.hpp"
#include "dreadlocks/detail/thread_tag.hpp"
#include "dreadlocks/lock_request.hpp"
#include "dreadlocks/policy_concepts.hpp"

namespace dreadlocks {

// shareable_thread_lock
//
// Excludes threads per key: any number of shared holders, or one thread
// holding exclusive (any number of times, when reentrant). A new shared
// request is granted while an exclusive one waits. A thread holding shared
// that asks for exclusive upgrades once it is the only holder; the second
// of two such upgrades gets recursive_deadlock_error instead of a hang.
struct shareable_thread_lock {
  struct hold {
    detail::thread_registry::key_state* entry = nullptr;
    detail::thread_tag owner = 0;
    std::uint32_t generation = 0;
    bool shared = false;
  };

  static hold acquire(const lock_request& request) {
    auto& registry = detail::thread_registry::instance();
    const auto tag = detail::this_thread_tag();
    auto& entry = registry.acquire(request, tag);
    return hold{&entry, tag, registry.generation(), request.shared};
  }

  static void release(hold& held) noexcept {
    if (held.entry == nullptr) return;
    detail::thread_registry::instance().release(*held.entry, held.owner,
                                                held.shared, held.generation);
    held.entry = nullptr;
  }
};

// no_thread_lock
//
// Grants every request at once and holds nothing: threads are not excluded
// from one another. The thread level of process_level_path_lock.
struct no_thread_lock {
  struct hold {};
  static hold acquire(const lock_request&) noexcept { return {}; }
  static void release(hold&) noexcept {}
};

}  // namespace dreadlocks

#endif  // DREADLOCKS_THREAD_POLICIES_HPP_
