// dreadlocks/detail/map_room.hpp
//
// Room in an unordered map for elements about to be inserted, made before
// anything changes, so that the insertions themselves cannot throw.

#ifndef DREADLOCKS_DETAIL_MAP_ROOM_HPP_
#define DREADLOCKS_DETAIL_MAP_ROOM_HPP_

#include <cstddef>

namespace dreadlocks::detail {

// make_room()
//
// Makes `map` able to take `more` elements without rehashing. Does
// nothing while it already can: the standard lets an insertion rehash only
// past max_load_factor() * bucket_count() elements, and reserve() would
// recompute the bucket count on every call (a prime-table search, some 40
// to 130 instructions, on every cycle that inserts). A map of one bucket
// gets reserve() anyway: libstdc++ allocates a default-constructed map's
// buckets at its first insertion. Throws std::bad_alloc, having changed
// nothing the map holds.
template <class Map>
void make_room(Map& map, std::size_t more) {
  const std::size_t wanted = map.size() + more;
  if (map.bucket_count() > 1 &&
      static_cast<double>(wanted) <=
          static_cast<double>(map.max_load_factor()) *
              static_cast<double>(map.bucket_count())) {
    return;
  }
  map.reserve(wanted);
}

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_MAP_ROOM_HPP_
