// dreadlocks/detail/hold_word.hpp
//
// The fast mode both registries share: while one thread alone holds a key
// or file, its holds fit in one atomic word that the thread changes with a
// compare-and-swap, without the registry's mutex. The word holds the
// thread's tag in bits 0-31, its shared count in 32-47 and its exclusive
// count in 48-62; or kSlow alone, when the registry's mutex guards the
// holds (in its owner table) instead.

#ifndef DREADLOCKS_DETAIL_HOLD_WORD_HPP_
#define DREADLOCKS_DETAIL_HOLD_WORD_HPP_

#include <atomic>
#include <cstdint>

#include "dreadlocks/detail/owners.hpp"
#include "dreadlocks/detail/single_thread.hpp"
#include "dreadlocks/detail/thread_tag.hpp"

namespace dreadlocks::detail::hold_word {

inline constexpr std::uint64_t kShared = std::uint64_t{1} << 32;
inline constexpr std::uint64_t kExclusive = std::uint64_t{1} << 48;
inline constexpr std::uint64_t kSlow = std::uint64_t{1} << 63;
inline constexpr std::uint64_t kCounts = kSlow - kShared;
// The most holds of one mode a word counts; more take the slow mode.
inline constexpr std::uint32_t kMost = 0x7fff;

constexpr std::uint64_t unit(bool shared) noexcept {
  return shared ? kShared : kExclusive;
}

constexpr thread_tag holder(std::uint64_t word) noexcept {
  return static_cast<thread_tag>(word);
}

constexpr std::uint32_t count(std::uint64_t word, bool shared) noexcept {
  return static_cast<std::uint32_t>(shared ? (word >> 32) & 0xffff
                                           : (word >> 48) & 0x7fff);
}

// Returns the word of `thread` holding `shared` and `exclusive` times;
// both at most kMost.
constexpr std::uint64_t make(thread_tag thread, std::uint32_t shared,
                             std::uint32_t exclusive) noexcept {
  return thread | shared * kShared | exclusive * kExclusive;
}

// Returns `word` with one more hold of `shared`'s mode by `self`, or kSlow
// when the fast mode cannot grant it: the word is slow or names another
// thread, the thread holds kMost of the mode already, or the hold would
// upgrade shared to exclusive and `may_upgrade` is false.
constexpr std::uint64_t with_repeat(std::uint64_t word, thread_tag self,
                                    bool shared, bool may_upgrade) noexcept {
  if ((word & kSlow) != 0 || holder(word) != self) return kSlow;
  if (!shared && !may_upgrade && count(word, false) == 0) return kSlow;
  if (count(word, shared) >= kMost) return kSlow;
  return word + unit(shared);
}

// Adds the holds of a word that is not kSlow to an owner table that is
// empty in the fast mode (so that this allocates nothing).
inline void to_owners(std::uint64_t word, owner_table& owners) noexcept {
  owners.add(holder(word), count(word, true), count(word, false));
}

// Returns the word of the one thread in `owners` and empties the table; or
// kSlow, leaving the table as it is, when it lists more or fewer threads or
// more holds of a mode than a word counts.
inline std::uint64_t take_from_owners(owner_table& owners) noexcept {
  const auto* only = owners.only();
  if (only == nullptr || only->shared > kMost || only->exclusive > kMost) {
    return kSlow;
  }
  const std::uint64_t word = make(only->thread, only->shared, only->exclusive);
  owners.clear();
  return word;
}

// Replaces `word`, last read as `seen`, with `desired`; on failure `seen`
// is the word now. While the process has one thread nobody else can change
// the word, and a plain store does.
inline bool update(std::atomic<std::uint64_t>& word, std::uint64_t& seen,
                   std::uint64_t desired, std::memory_order order) noexcept {
  if (process_single_threaded()) {
    word.store(desired, std::memory_order_relaxed);
    return true;
  }
  return word.compare_exchange_weak(seen, desired, order,
                                    std::memory_order_relaxed);
}

// Marks the word slow and returns what it held before; kSlow if it was
// slow already. For the registry's mutex holder, which then keeps the holds.
inline std::uint64_t take(std::atomic<std::uint64_t>& word) noexcept {
  const std::uint64_t seen = word.load(std::memory_order_relaxed);
  if (seen == kSlow) return kSlow;
  if (process_single_threaded()) {
    word.store(kSlow, std::memory_order_relaxed);
    return seen;
  }
  return word.exchange(kSlow, std::memory_order_acq_rel);
}

}  // namespace dreadlocks::detail::hold_word

#endif  // DREADLOCKS_DETAIL_HOLD_WORD_HPP_
