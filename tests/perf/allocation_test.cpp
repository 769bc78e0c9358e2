// tests/perf/allocation_test.cpp
//
// An uncontended lock-unlock cycle on a path locked recently allocates
// nothing (issue 4: "allocation per acquisition" is a cause to fix), for
// every alias and every argument type that carries native text, and so does
// a nested reentrant one. Counted by this binary's own operator new, per
// thread, so that other threads (Boost.Test, a sanitizer's) do not count.
// (Memory per held lock depends on the path's length: the benchmarks
// report it, benchmarks/held_locks_benchmark.cpp.)

#define BOOST_TEST_MODULE allocation_test
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/temp_path.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

namespace {

thread_local std::size_t allocations = 0;

}  // namespace

void* operator new(std::size_t size) {
  void* block = std::malloc(size == 0 ? 1 : size);
  if (block == nullptr) throw std::bad_alloc();
  ++allocations;
  return block;
}

void operator delete(void* block) noexcept { std::free(block); }

void operator delete(void* block, std::size_t) noexcept {
  operator delete(block);
}

namespace {

namespace fs = std::filesystem;

using all_locks =
    boost::mpl::list<dreadlocks::path_lock, dreadlocks::process_level_path_lock,
                     dreadlocks::thread_level_path_lock>;

// Returns how many allocations `cycles` cycles of `Lock` on `path` make
// after one cycle to warm up (the thread's key cache, the registries' idle
// entries).
template <class Lock, class Path>
std::size_t allocations_per_cycles(const Path& path, int cycles) {
  { Lock warm(path); }
  const std::size_t before = allocations;
  for (int i = 0; i < cycles; ++i) {
    Lock lock(path);
    BOOST_REQUIRE(lock.owns_lock());
  }
  return allocations - before;
}

// Without this, a zero below could mean the counter is not in use.
BOOST_AUTO_TEST_CASE(the_counter_counts_this_threads_allocations) {
  const std::size_t before = allocations;
  const auto block = std::make_unique<std::string>(64, 'x');
  BOOST_TEST(allocations - before == 2u);  // the string and its text
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_repeated_cycle_allocates_nothing, Lock,
                              all_locks) {
  // Already normal: a spelling that needs lexically_normal() allocates
  // for it (docs/keys.md).
  const fs::path path =
      dreadlocks_test::unique_path("cycled").lexically_normal();
  const std::string text = path.native();
  BOOST_TEST(allocations_per_cycles<Lock>(path, 100) == 0u);
  BOOST_TEST(allocations_per_cycles<Lock>(text, 100) == 0u);
  BOOST_TEST(allocations_per_cycles<Lock>(text.c_str(), 100) == 0u);
  BOOST_TEST(allocations_per_cycles<Lock>(std::string_view(text), 100) == 0u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_nested_reentrant_cycle_allocates_nothing,
                              Lock, all_locks) {
  const fs::path path =
      dreadlocks_test::unique_path("nested").lexically_normal();
  const Lock outer(path);
  dreadlocks::lock_options reentrant;
  reentrant.reentrant = true;
  reentrant.shared = true;
  { Lock warm(path, reentrant); }
  const std::size_t before = allocations;
  for (int i = 0; i < 100; ++i) {
    Lock inner(path, reentrant);
    BOOST_REQUIRE(inner.owns_lock());
  }
  BOOST_TEST(allocations - before == 0u);
}

}  // namespace
