// dreadlocks/detail/spelling_index.hpp
//
// Which file each spelling seen leads to, for the file table
// (detail/file_table.hpp): an index from a spelling's text to the file's
// state, and beside it the shortcut that spares the index its lookup, the
// pointer from the key that opened a file to the file's state
// (key_access::entry()). Guarded by the registry's mutex.
//
// Allocates first, changes after: reserve() makes the node and the bucket
// room one insert() needs, so that insert() and drop() never throw.

#ifndef DREADLOCKS_DETAIL_SPELLING_INDEX_HPP_
#define DREADLOCKS_DETAIL_SPELLING_INDEX_HPP_

#include <cstddef>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dreadlocks/detail/key_access.hpp"
#include "dreadlocks/detail/key_view.hpp"
#include "dreadlocks/detail/map_room.hpp"
#include "dreadlocks/lock_key.hpp"

namespace dreadlocks::detail {

template <class File>
class spelling_index {
 public:
  // Keeps at most `spares` nodes for reuse.
  explicit spelling_index(std::size_t spares) : spares_(spares) {
    spare_nodes_.reserve(spares);  // keeping a spare never allocates
  }

  // find()
  //
  // Returns the file `spelling` leads to, or nullptr. The key that opened
  // a file points to its state for as long as the state keeps it as a
  // spelling, which spares the opener the index: what a cycle of lock and
  // unlock on one path finds every time.
  File* find(const lock_key& spelling) const noexcept {
    if (void* opened = key_access::entry(spelling, registry_slot::process)) {
      return static_cast<File*>(opened);
    }
    const auto known = index_.find(key_view(spelling));
    return known != index_.end() ? known->second : nullptr;
  }

  // reserve()
  //
  // Makes a spare node and room in the index for one more spelling.
  // Throws std::bad_alloc, having changed nothing but the spares.
  void reserve(const lock_key& spelling) {
    make_room(index_, 1);
    if (spare_nodes_.empty()) {
      map scratch;
      scratch.emplace(key_view(spelling), nullptr);
      spare_nodes_.push_back(scratch.extract(scratch.begin()));
    }
  }

  // insert()
  //
  // Makes `spelling` lead to `target`, in what reserve() made; `opener`
  // when the spelling opened the file (it then points to the state). The
  // spelling's text must live as long as it is in the index.
  void insert(const lock_key& spelling, File* target, bool opener) noexcept {
    typename map::node_type node = std::move(spare_nodes_.back());
    spare_nodes_.pop_back();
    node.key() = key_view(spelling);
    node.mapped() = target;
    index_.insert(std::move(node));  // room reserved: no rehash
    if (opener) key_access::set_entry(spelling, registry_slot::process, target);
  }

  // drop()
  //
  // Forgets `spelling` (and its pointer to the state it opened); keeps the
  // node as a spare.
  void drop(const lock_key& spelling) noexcept {
    forget_opener(spelling);
    typename map::node_type node = index_.extract(key_view(spelling));
    if (spare_nodes_.size() < spares_) {
      spare_nodes_.push_back(std::move(node));  // reserved
    }
  }

  // forget_opener()
  //
  // Clears the pointer of a key to the state of the file it opened, as the
  // state lets go of the key.
  static void forget_opener(const lock_key& spelling) noexcept {
    if (key_access::entry(spelling, registry_slot::process) != nullptr) {
      key_access::set_entry(spelling, registry_slot::process, nullptr);
    }
  }

  // clear()
  //
  // Forgets every spelling (their keys' pointers already cleared).
  void clear() noexcept { index_.clear(); }

  // trim()
  //
  // Frees the spares and the buckets nothing uses.
  void trim() noexcept {
    spare_nodes_.clear();
    index_.rehash(0);
  }

 private:
  using map = std::unordered_map<key_view, File*, key_view_hash>;

  std::size_t spares_;
  map index_;
  std::vector<typename map::node_type> spare_nodes_;
};

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_SPELLING_INDEX_HPP_
