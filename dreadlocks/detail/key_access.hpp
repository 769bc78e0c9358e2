// dreadlocks/detail/key_access.hpp
//
// Temporary door (replaced by the lock_key split).

#ifndef DREADLOCKS_DETAIL_KEY_ACCESS_HPP_
#define DREADLOCKS_DETAIL_KEY_ACCESS_HPP_

#include <atomic>
#include <cstdint>

#include "dreadlocks/lock_request.hpp"

namespace dreadlocks::detail {

enum class registry_slot : unsigned { thread = 0, process = 1 };

struct key_access {
  static void* entry(const lock_key& key, registry_slot slot) noexcept {
    return key.registry_entry(static_cast<lock_key::registry_slot>(slot));
  }
  static void set_entry(const lock_key& key, registry_slot slot,
                        void* entry) noexcept {
    key.set_registry_entry(static_cast<lock_key::registry_slot>(slot), entry);
  }
  static std::atomic<std::uint64_t>& hold_word(const lock_key& key) noexcept {
    return key.process_hold_word();
  }
  static bool sole_copy(const lock_key& key) noexcept {
    return key.sole_copy();
  }
  static void prefer_in_thread_cache(const lock_key& key) noexcept {
    lock_key::prefer_in_thread_cache(key);
  }
  static lock_key empty() noexcept { return lock_key(); }
};

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_KEY_ACCESS_HPP_
