// tests/process/process_out_of_memory_test.cpp
//
// An acquisition that runs out of memory after the OS lock was raised for it
// leaves the OS lock as the remaining holds need it: another thread's shared
// hold keeps the file, and another process may share it again at once. This
// binary replaces operator new so that one thread can be refused memory on
// demand.

#define BOOST_TEST_MODULE dreadlocks process out of memory
#include <boost/test/unit_test.hpp>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <thread>

#include "tests/process/process_test_common.hpp"

namespace {

// Set by a thread to have its own allocations fail; counts the refusals.
thread_local bool refuse_memory = false;
thread_local int refused_allocations = 0;

}  // namespace

void* operator new(std::size_t size) {
  if (refuse_memory) {
    ++refused_allocations;
    throw std::bad_alloc();
  }
  void* block = std::malloc(size == 0 ? 1 : size);
  if (block == nullptr) throw std::bad_alloc();
  return block;
}

void operator delete(void* block) noexcept { std::free(block); }

void operator delete(void* block, std::size_t) noexcept { std::free(block); }

namespace {

namespace dlt = dreadlocks_test;
using namespace std::chrono_literals;
using dlt::attempt;

BOOST_AUTO_TEST_CASE_TEMPLATE(upgrade_refused_memory_drops_back, P,
                              dlt::process_policies) {
  dlt::alarm_watchdog dog("upgrade_refused_memory_drops_back", 20s);
  using process_only = dlt::process_level_lock<P>;
  const auto file = dlt::fresh_path("out-of-memory");
  dlt::prober<process_only> other(file);
  const std::size_t fds = dlt::open_descriptor_count();
  {
    const process_only reader(file, dlt::mode(true));
    BOOST_TEST(other.try_lock(true) == attempt::granted, other.last_detail());
    bool refused = false;
    int refusals = 0;
    std::thread([&] {
      // The key is made first: its block is this thread's first allocation
      // for the path. What is left to allocate is the second thread's entry
      // in the file's owner table, after the OS lock went exclusive.
      const dreadlocks::lock_key key(file, "test");
      refuse_memory = true;
      try {
        const auto writer =
            dlt::lock_through<process_only>(key, dlt::mode(false, false));
      } catch (const std::bad_alloc&) {
        refused = true;
      }
      refuse_memory = false;
      refusals = refused_allocations;
    }).join();
    BOOST_TEST_REQUIRE(refused);
    // One allocation asked for and refused: the owner table's, the last
    // step of the acquisition.
    BOOST_TEST(refusals == 1);
    // The reader's shared hold alone is left, and the OS lock with it.
    BOOST_TEST(other.try_lock(true) == attempt::granted, other.last_detail());
    BOOST_TEST(other.try_lock(false) == attempt::process_would_block);
    BOOST_TEST(dlt::open_lock_files() == 1u);
  }
  BOOST_TEST(other.try_lock(false) == attempt::granted, other.last_detail());
  BOOST_TEST(dlt::open_descriptor_count() == fds);
  BOOST_TEST(dlt::open_lock_files() == 0u);
}

}  // namespace
