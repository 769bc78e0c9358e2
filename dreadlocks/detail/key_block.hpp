// dreadlocks/detail/key_block.hpp
//
// What a lock_key points to: one immutable, counted block holding the
// key's text, its hash and form, the std::filesystem::path built from it on
// first use, and the slots the registries keep in it; and the calling
// thread's recent keys, which hand a block out again for a text locked
// again. Only lock_key and key_access (detail/key_access.hpp) touch these.

#ifndef DREADLOCKS_DETAIL_KEY_BLOCK_HPP_
#define DREADLOCKS_DETAIL_KEY_BLOCK_HPP_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <new>

#include "dreadlocks/detail/hold_word.hpp"
#include "dreadlocks/detail/key_normalize.hpp"
#include "dreadlocks/detail/single_thread.hpp"
#include "dreadlocks/detail/windows_api.hpp"
#include "dreadlocks/key_form.hpp"

namespace dreadlocks::detail {

// key_block
//
// One allocation: this header, then the text and its NUL. Made with one
// reference; the last drop_reference() frees it.
class key_block {
 public:
  std::size_t hash;

  static key_block* make(key_text text, key_form form) {
    void* memory = ::operator new(sizeof(key_block) +
                                  (text.size() + 1) * sizeof(key_char));
    auto* block = new (memory) key_block(text, form);
    key_char* chars = block->chars();
    text.copy(chars, text.size());
    chars[text.size()] = key_char{};
    return block;
  }

  key_char* chars() noexcept { return reinterpret_cast<key_char*>(this + 1); }
  const key_char* chars() const noexcept {
    return reinterpret_cast<const key_char*>(this + 1);
  }
  key_text text() const noexcept {
    return {chars(), static_cast<std::size_t>(size_and_form_ & ~kAsOpened)};
  }

  // Part of what a recent key must match: a text normal as opened
  // (`/a/link/../x`) is not lexically normal.
  key_form form() const noexcept {
    return (size_and_form_ & kAsOpened) != 0 ? key_form::as_opened
                                              : key_form::lexical;
  }

  void add_reference() noexcept {
    if (process_single_threaded()) {
      references_.store(references_.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
    } else {
      references_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  void drop_reference() noexcept {
    if (process_single_threaded()) {
      const std::size_t left = references_.load(std::memory_order_relaxed) - 1;
      references_.store(left, std::memory_order_relaxed);
      if (left != 0) return;
    } else if (references_.fetch_sub(1, std::memory_order_acq_rel) != 1) {
      return;
    }
    destroy();
  }

  bool sole_reference() const noexcept {
    return references_.load(std::memory_order_acquire) == 1;
  }

  // Each registry keeps, in the block of a key its entry for this text
  // holds, a pointer to that entry, so that locking through the same block
  // (the calling thread's recent keys hand it out again) can find the entry
  // without the registry's mutex or hash table. The registry sets and
  // clears it under its mutex and keeps the entry alive for as long as a
  // key could read the pointer (see detail/thread_registry.hpp and
  // detail/process_registry.hpp). Indexed by registry_slot
  // (detail/key_access.hpp).
  std::atomic<void*> registry_entries[2] = {nullptr, nullptr};

  // The process registry's fast mode keeps the holds of the file this key
  // opened here (detail/hold_word.hpp); hold_word::kSlow for any other key.
  std::atomic<std::uint64_t> process_hold_word{hold_word::kSlow};

  // Builds the std::filesystem::path once; threads racing to build it keep
  // the first one published.
  const std::filesystem::path& path() const {
    const std::filesystem::path* built = path_.load(std::memory_order_acquire);
    if (built != nullptr) return *built;
    auto made = std::make_unique<const std::filesystem::path>(text());
    if (path_.compare_exchange_strong(built, made.get(),
                                      std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      built = made.release();
    }
    return *built;
  }

 private:
  // Out of line, so that dropping a reference, which a lock does at least
  // once per cycle, stays small enough to be inlined wherever a key dies.
  [[gnu::noinline]] void destroy() noexcept {
    delete path_.load(std::memory_order_acquire);
    this->~key_block();
    ::operator delete(this);
  }

  key_block(key_text text, key_form folded) noexcept
      : hash(std::hash<key_text>()(text)),
        size_and_form_(text.size() |
                       (folded == key_form::as_opened ? kAsOpened : 0)) {}

  // The form rides in the top bit of the size (no string is that long): a
  // byte of its own would push a key into the next malloc size class.
  static constexpr std::size_t kAsOpened = ~(~std::size_t{0} >> 1);

  std::atomic<std::size_t> references_{1};
  std::size_t size_and_form_;
  mutable std::atomic<const std::filesystem::path*> path_{nullptr};
};
static_assert(alignof(key_block) >= alignof(key_char));

// recent_keys
//
// The few keys the calling thread made last. A thread tends to lock the
// same paths again (a cycle, a nested lock, a handful of files in turn);
// eight entries, as many as the idle lock files a process keeps open
// (detail/file_table.hpp), catch that at the price of eight small blocks
// kept alive per thread. With four, guards over six files in turn made a
// new key each time (0.91 to 0.94 of the raw open-lock-unlock-close
// sequence, against 0.84 with eight).
struct recent_keys {
  static constexpr std::size_t kSize = 8;
  key_block* keys[kSize] = {};
  std::size_t next = 0;
  std::size_t last = 0;  // the entry found or added last: tried first

  recent_keys() = default;
  recent_keys(const recent_keys&) = delete;
  recent_keys& operator=(const recent_keys&) = delete;
  ~recent_keys() {
    for (key_block* key : keys) {
      if (key != nullptr) key->drop_reference();
    }
  }

  // Returns a new reference to the recent key with this text and form, or
  // nullptr.
  key_block* find(key_text text, key_form form) noexcept {
    if (matches(last, text, form)) return share(keys[last]);
    for (std::size_t i = 0; i < kSize; ++i) {
      if (i != last && matches(i, text, form)) {
        last = i;
        return share(keys[i]);
      }
    }
    return nullptr;
  }

  bool matches(std::size_t i, key_text text, key_form form) const noexcept {
    return keys[i] != nullptr && keys[i]->form() == form &&
           keys[i]->text() == text;
  }

  static key_block* share(key_block* key) noexcept {
    key->add_reference();
    return key;
  }

  // Replaces the recent key with `preferred`'s text and form by
  // `preferred`.
  void prefer(key_block* preferred) noexcept {
    for (key_block*& key : keys) {
      if (key != nullptr && key != preferred &&
          key->form() == preferred->form() &&
          key->text() == preferred->text()) {
        key->drop_reference();
        key = share(preferred);
      }
    }
  }

  // Makes a key of `normal` text, keeps it and returns a new reference.
  key_block* add(key_text normal, key_form form) {
    key_block* key = key_block::make(normal, form);
    if (keys[next] != nullptr) keys[next]->drop_reference();
    keys[next] = key;
    last = next;
    next = (next + 1) % kSize;
    return share(key);
  }

  static recent_keys& mine() {
#if defined(_WIN32)
    // Not a thread_local with a destructor: mingw-w64's emulated TLS frees
    // a thread's thread_local storage before it runs their destructors
    // (seen with GCC 12: the destructor then corrupts the heap). The keys
    // live on the heap instead, in a fiber-local slot whose callback frees
    // them when the thread ends.
    static const DWORD slot = ::FlsAlloc(&free_at_thread_end);
    if (slot == FLS_OUT_OF_INDEXES) throw std::bad_alloc();
    auto* keys = static_cast<recent_keys*>(::FlsGetValue(slot));
    if (keys == nullptr) {
      std::unique_ptr<recent_keys> made(new recent_keys);
      if (!::FlsSetValue(slot, made.get())) throw std::bad_alloc();
      keys = made.release();
    }
    return *keys;
#else
    thread_local recent_keys recent;
    return recent;
#endif
  }

#if defined(_WIN32)
  static void WINAPI free_at_thread_end(void* keys) {
    delete static_cast<recent_keys*>(keys);
  }
#endif
};

// intern_key()
//
// Returns a reference to the shared block of `text` folded in `form`. A
// recent key with the same text and form proves `text` normal (and free of
// NUL) without looking further. Throws as normalize().
inline key_block* intern_key(key_text text, const char* operation,
                             key_form form) {
  recent_keys& recent = recent_keys::mine();
  if (key_block* hit = recent.find(text, form)) return hit;
  if (already_normal(text, operation, form)) return recent.add(text, form);
  const std::filesystem::path normal = normalize(text, operation, form);
  if (key_block* hit = recent.find(normal.native(), form)) return hit;
  return recent.add(normal.native(), form);
}

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_KEY_BLOCK_HPP_
