// dreadlocks/detail/key_access.hpp
//
// The one door from the registries into a lock_key's block
// (detail/key_block.hpp): the entry each registry keeps there, the process
// level's fast hold word, whether a copy is the last, the calling thread's
// recent keys, and an empty key. Every function forwards to the block and
// is inlined: the door adds no step to a lock.

#ifndef DREADLOCKS_DETAIL_KEY_ACCESS_HPP_
#define DREADLOCKS_DETAIL_KEY_ACCESS_HPP_

#include <atomic>
#include <cstdint>

#include "dreadlocks/detail/key_block.hpp"
#include "dreadlocks/lock_key.hpp"

namespace dreadlocks::detail {

// Which registry a slot of a key's block belongs to.
enum class registry_slot : unsigned { thread = 0, process = 1 };

struct key_access {
  // entry()
  //
  // Returns the entry the registry of `slot` put in `key`'s block (acquire
  // load), or nullptr, always for an empty key. See
  // key_block::registry_entries for who sets it and how long it lives.
  static void* entry(const lock_key& key, registry_slot slot) noexcept {
    return key.block_ != nullptr
               ? key.block_->registry_entries[static_cast<unsigned>(slot)]
                     .load(std::memory_order_acquire)
               : nullptr;
  }

  // set_entry()
  //
  // Publishes `entry` (release store) in `key`'s block for the registry of
  // `slot`; nullptr clears it. Requires: `key` is not empty.
  static void set_entry(const lock_key& key, registry_slot slot,
                        void* entry) noexcept {
    key.block_->registry_entries[static_cast<unsigned>(slot)].store(
        entry, std::memory_order_release);
  }

  // hold_word()
  //
  // Returns the process registry's fast-mode word in `key`'s block
  // (detail/hold_word.hpp): the holds of the file this key opened here,
  // hold_word::kSlow for any other key. Requires: `key` is not empty.
  static std::atomic<std::uint64_t>& hold_word(const lock_key& key) noexcept {
    return key.block_->process_hold_word;
  }

  // sole_copy()
  //
  // Returns true when no copy of `key` but this one exists (false for an
  // empty key).
  static bool sole_copy(const lock_key& key) noexcept {
    return key.block_ != nullptr && key.block_->sole_reference();
  }

  // prefer_in_thread_cache()
  //
  // Makes the calling thread's recent keys hand out `key`'s block for its
  // text from now on, instead of another block with the same text.
  static void prefer_in_thread_cache(const lock_key& key) noexcept {
    if (key.block_ != nullptr) recent_keys::mine().prefer(key.block_);
  }

  // empty()
  //
  // Returns an empty key (as a moved-from one), for registries that keep
  // a key only sometimes.
  static lock_key empty() noexcept { return lock_key(); }
};

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_KEY_ACCESS_HPP_
