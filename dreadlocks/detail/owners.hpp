// dreadlocks/detail/owners.hpp
//
// Per-thread hold counts of one key or file, kept by both registries. A key
// is rarely held by more than a few threads at once, so a flat vector
// searched linearly beats any map.

#ifndef DREADLOCKS_DETAIL_OWNERS_HPP_
#define DREADLOCKS_DETAIL_OWNERS_HPP_

#include <cassert>
#include <cstddef>
#include <thread>
#include <vector>

namespace dreadlocks::detail {

// What one thread holds of one key or file.
struct owner {
  std::thread::id thread;
  std::size_t shared = 0;
  std::size_t exclusive = 0;
};

class owner_table {
 public:
  // Returns the calling-or-named thread's counts, or nullptr if it holds
  // nothing.
  owner* find(std::thread::id thread) noexcept {
    // A plain loop: the table has one or two entries, and std::find_if's
    // unrolled loop costs more than it saves here.
    for (owner& o : owners_) {
      if (o.thread == thread) return &o;
    }
    return nullptr;
  }

  // Counts one more hold of `thread` in the given mode.
  void add(std::thread::id thread, bool shared) {
    owner* mine = find(thread);
    if (mine == nullptr) {
      owners_.push_back(owner{thread, 0, 0});
      mine = &owners_.back();
    }
    ++(shared ? mine->shared : mine->exclusive);
  }

  // Counts one hold of `thread` less; forgets the thread at zero. Returns
  // the thread's remaining exclusive count.
  std::size_t remove(std::thread::id thread, bool shared) noexcept {
    owner* mine = find(thread);
    assert(mine != nullptr && "dreadlocks: release without a hold");
    --(shared ? mine->shared : mine->exclusive);
    const std::size_t exclusive_left = mine->exclusive;
    if (mine->shared == 0 && mine->exclusive == 0) {
      *mine = owners_.back();
      owners_.pop_back();
    }
    return exclusive_left;
  }

  // Returns the number of distinct threads holding anything.
  std::size_t threads() const noexcept { return owners_.size(); }

  bool empty() const noexcept { return owners_.empty(); }

 private:
  std::vector<owner> owners_;
};

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_OWNERS_HPP_
