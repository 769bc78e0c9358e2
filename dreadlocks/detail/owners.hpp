// dreadlocks/detail/owners.hpp
//
// Per-thread hold counts of one key or file, kept by both registries in the
// slow mode (threads named by their thread_tag). A key is rarely held by more
// than a few threads at once, so the first holder is kept inline and the others
// in a flat vector searched linearly.

#ifndef DREADLOCKS_DETAIL_OWNERS_HPP_
#define DREADLOCKS_DETAIL_OWNERS_HPP_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "dreadlocks/detail/thread_tag.hpp"

namespace dreadlocks::detail {

// What one thread holds of one key or file. 32-bit counts: each hold is a
// live guard, and four billion of them would not fit in memory anyway.
struct owner {
  thread_tag thread = 0;
  std::uint32_t shared = 0;
  std::uint32_t exclusive = 0;
};

class owner_table {
 public:
  // Returns the named thread's counts, or nullptr if it holds nothing.
  owner* find(thread_tag thread) noexcept {
    if (first_.thread == thread) return &first_;
    if (others_ == nullptr) return nullptr;
    // A plain loop: the table has one or two entries, and std::find_if's
    // unrolled loop costs more than it saves here.
    for (owner& o : *others_) {
      if (o.thread == thread) return &o;
    }
    return nullptr;
  }

  // Counts one more hold of `thread` in the given mode. Allocates (and so
  // may throw) only for a second thread holding at once.
  void add(thread_tag thread, bool shared) {
    owner& mine = slot(thread);
    ++(shared ? mine.shared : mine.exclusive);
  }

  // Counts `shared` and `exclusive` more holds of `thread` at once. Does
  // not allocate (and so does not throw) while the table is empty.
  void add(thread_tag thread, std::uint32_t shared, std::uint32_t exclusive) {
    owner& mine = slot(thread);
    mine.shared += shared;
    mine.exclusive += exclusive;
  }

  // Counts one hold of `thread` less; forgets the thread at zero. Returns
  // the thread's remaining exclusive count.
  std::uint32_t remove(thread_tag thread, bool shared) noexcept {
    owner* mine = find(thread);
    assert(mine != nullptr && "dreadlocks: release without a hold");
    --(shared ? mine->shared : mine->exclusive);
    const std::uint32_t exclusive_left = mine->exclusive;
    if (mine->shared == 0 && mine->exclusive == 0) {
      const bool more = others_ != nullptr && !others_->empty();
      if (more) {
        *mine = others_->back();
        others_->pop_back();
      } else {
        *mine = owner{};
      }
    }
    return exclusive_left;
  }

  // Returns the number of distinct threads holding anything.
  std::size_t threads() const noexcept {
    if (empty()) return 0;
    return 1 + (others_ != nullptr ? others_->size() : 0);
  }

  bool empty() const noexcept { return first_.thread == 0; }

  // Returns the only holder's counts, or nullptr unless exactly one thread
  // holds anything.
  const owner* only() const noexcept {
    return threads() == 1 ? &first_ : nullptr;
  }

  // Forgets every holder.
  void clear() noexcept {
    first_ = owner{};
    if (others_ != nullptr) others_->clear();
  }

 private:
  // Returns the named thread's counts, adding it with none if it holds
  // nothing. Allocates (and so may throw) only for a second thread.
  owner& slot(thread_tag thread) {
    if (owner* mine = find(thread)) return *mine;
    if (empty()) {
      first_.thread = thread;
      return first_;
    }
    if (others_ == nullptr) others_ = std::make_unique<std::vector<owner>>();
    others_->push_back(owner{thread, 0, 0});
    return others_->back();
  }

  // The one holder a key or file has most of the time, kept inline so that
  // holding it allocates nothing. `first_` is empty only when the table is
  // (remove() moves the last of `others_` into it).
  owner first_;
  std::unique_ptr<std::vector<owner>> others_;
};

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_OWNERS_HPP_
