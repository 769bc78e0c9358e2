// dreadlocks/detail/thread_tag.hpp
//
// How the registries tell threads apart: by a 32-bit tag, small enough to
// share one atomic word with hold counts.

#ifndef DREADLOCKS_DETAIL_THREAD_TAG_HPP_
#define DREADLOCKS_DETAIL_THREAD_TAG_HPP_

#include <atomic>
#include <cstdint>

namespace dreadlocks::detail {

using thread_tag = std::uint32_t;

// this_thread_tag()
//
// Returns the calling thread's tag: 1, 2, ... in the order threads first
// ask, never reused. pthread ids are reused as soon as a thread is joined,
// and a guard moved out of a thread that ended would then count as held by
// the next thread given that id. After 2^32 threads the numbering starts
// again; only a hold kept that long by a guard whose thread ended could
// then be taken for a new thread's.
inline thread_tag this_thread_tag() noexcept {
  thread_local thread_tag tag = 0;  // trivial: usable to the thread's end
  if (tag == 0) {
    static std::atomic<thread_tag> last{0};
    do {
      tag = last.fetch_add(1, std::memory_order_relaxed) + 1;
    } while (tag == 0);
  }
  return tag;
}

}  // namespace dreadlocks::detail

#endif  // DREADLOCKS_DETAIL_THREAD_TAG_HPP_
