// dreadlocks/detail/file_fast_mode.hpp
//
// A file's fast mode: while one thread alone holds a file, more than once,
// its holds are in the hold word (detail/hold_word.hpp) kept in the block
// of the spelling that opened the file, and a repeat of a mode the thread
// holds, or a release that leaves the OS lock as it is, is one
// compare-and-swap on it, without the registry's mutex or a lookup.
//
// Keeping the word in the key, not in the file state, is what makes it
// safe: a thread locking through a key holds the key alive, and it learns
// which file state the key opened (key_access::entry()) only once the word
// has said that it holds that file, which then cannot be closed. Anything
// else (the first hold, a mode the OS lock must change for, a second
// thread, a waiter, another spelling) is done under the mutex, which first
// moves the word's holds into the file's counts (make_slow()); it hands
// them back to the word when one thread alone holds the file more than
// once and nothing is in flight (make_fast()). Every other key's word says
// kSlow.

#ifndef DREADLOCKS_DETAIL_FILE_FAST_MODE_HPP_
#define DREADLOCKS_DETAIL_FILE_FAST_MODE_HPP_

#include <atomic>
#include <cassert>
#include <cstdint>

#include "dreadlocks/detail/attributes.hpp"
#include "dreadlocks/detail/file_state.hpp"
#include "dreadlocks/detail/hold_word.hpp"
#include "dreadlocks/detail/key_access.hpp"
#include "dreadlocks/detail/thread_tag.hpp"
#include "dreadlocks/lock_request.hpp"

namespace dreadlocks::detail::file_fast_mode {

// Grants a repeat of a mode the calling thread `self` holds, alone, in the
// fast mode of the file the request's key opened; nothing the OS lock
// holds changes. Returns false for anything else.
inline bool try_repeat(const lock_request& request, thread_tag self) noexcept {
  if (!request.reentry_allowed) return false;
  std::atomic<std::uint64_t>& word = key_access::hold_word(request.key);
  std::uint64_t seen = word.load(std::memory_order_relaxed);
  for (;;) {
    // Shared is covered by any hold; exclusive only by exclusive (an
    // upgrade changes the OS lock).
    const std::uint64_t more =
        hold_word::with_repeat(seen, self, request.shared, false);
    if (more == hold_word::kSlow) return false;
    if (hold_word::update(word, seen, more, std::memory_order_acquire)) {
      return true;
    }
  }
}

// Gives back a hold in the fast mode, when the word keeps the holds and the
// release leaves the OS lock as it is; returns false otherwise.
inline bool try_release(std::atomic<std::uint64_t>& word,
                        bool shared) noexcept {
  std::uint64_t seen = word.load(std::memory_order_relaxed);
  for (;;) {
    if (seen == hold_word::kSlow) return false;
    // The last hold of the mode that sets the OS lock changes it.
    const bool changes_os_lock =
        shared ? hold_word::count(seen, false) == 0 &&
                     hold_word::count(seen, true) == 1
               : hold_word::count(seen, false) == 1;
    if (changes_os_lock) return false;
    if (hold_word::update(word, seen, seen - hold_word::unit(shared),
                          std::memory_order_release)) {
      return true;
    }
  }
}

// The word of a file: in the block of the spelling that opened it.
template <class File>
std::atomic<std::uint64_t>& word_of(const File& file) noexcept {
  return key_access::hold_word(file.spellings.front());
}

// Moves the word's holds into the counts, the owner table and `users`, and
// marks the word slow, so that fast operations wait for the mutex.
template <class File>
DREADLOCKS_INLINE_STEP void make_slow(File& file) noexcept {
  if (file.spellings.empty()) return;  // never held: never fast
  const std::uint64_t word = hold_word::take(word_of(file));
  if (word == hold_word::kSlow) return;
  const std::uint32_t shared = hold_word::count(word, true);
  const std::uint32_t exclusive = hold_word::count(word, false);
  hold_word::to_owners(word, file.owners);
  file.shared_holds += shared;
  file.exclusive_holds += exclusive;
  file.users += shared + exclusive - 1;  // the word counted as one
}

// Hands the holds back to the word when one thread alone holds the file,
// more than once, and no request is in flight or waiting.
template <class File>
DREADLOCKS_INLINE_STEP void make_fast(File& file) noexcept {
  if (file.waiters != 0 || file.in_transition || file.orphaned) return;
  const auto* only = file.owners.only();
  // A single hold stays with the mutex: its release changes the OS lock
  // and needs the mutex anyway, so the word would only be filled and
  // emptied again. The first nested hold hands both to the word.
  if (only == nullptr || only->shared + only->exclusive < 2 ||
      file.users != file.shared_holds + file.exclusive_holds) {
    return;
  }
  const std::uint32_t holds = only->shared + only->exclusive;
  const std::uint64_t word = hold_word::take_from_owners(file.owners);
  if (word == hold_word::kSlow) return;
  file.users -= holds - 1;
  file.shared_holds = 0;
  file.exclusive_holds = 0;
  // The key has known its file since it became the file's first spelling,
  // before its word names a holder: a thread reads the file only after the
  // word has named it.
  assert(key_access::entry(file.spellings.front(), registry_slot::process) ==
         &file);
  word_of(file).store(word, std::memory_order_release);
}

}  // namespace dreadlocks::detail::file_fast_mode

#endif  // DREADLOCKS_DETAIL_FILE_FAST_MODE_HPP_
