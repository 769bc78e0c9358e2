// tests/api/cxx17_test.cpp
//
// SPEC §1: the public headers compile as C++17. Built with -std=c++17 (no
// designated initializers here): includes the umbrella header, explicitly
// instantiates basic_path_lock for every combination of shipped policies,
// and takes and releases a lock with each.

#define BOOST_TEST_MODULE dreadlocks_api_cxx17

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <tuple>
#include <type_traits>

#include "dreadlocks/dreadlocks.hpp"
#include "tests/api/api_support.hpp"
#include "tests/support/nothing_left_behind.hpp"
#include "tests/support/temp_path.hpp"

// Whatever the cases do, the binary ends holding nothing it did not start
// with: no lock file, no thread key, no extra descriptor.
using dreadlocks_test::nothing_left_behind;
BOOST_TEST_GLOBAL_FIXTURE(nothing_left_behind);

#if __cplusplus >= 202002L
#error "this test must be compiled as C++17"
#endif

namespace dl = dreadlocks;

// Every member of every combination compiles.
#define DREADLOCKS_INSTANTIATE(T, P)                                  \
  template class dl::basic_path_lock<T, P, dl::reentrant_if_requested>; \
  template class dl::basic_path_lock<T, P, dl::always_reentrant>;       \
  template class dl::basic_path_lock<T, P, dl::never_reentrant>;
DREADLOCKS_INSTANTIATE(dl::shareable_thread_lock, dl::ofd_process_lock)
DREADLOCKS_INSTANTIATE(dl::shareable_thread_lock, dl::fcntl_process_lock)
DREADLOCKS_INSTANTIATE(dl::shareable_thread_lock, dl::no_process_lock)
DREADLOCKS_INSTANTIATE(dl::no_thread_lock, dl::ofd_process_lock)
DREADLOCKS_INSTANTIATE(dl::no_thread_lock, dl::fcntl_process_lock)
DREADLOCKS_INSTANTIATE(dl::no_thread_lock, dl::no_process_lock)
#undef DREADLOCKS_INSTANTIATE

namespace {

template <class T, class P>
using with_each_reentrancy =
    std::tuple<dl::basic_path_lock<T, P, dl::reentrant_if_requested>,
               dl::basic_path_lock<T, P, dl::always_reentrant>,
               dl::basic_path_lock<T, P, dl::never_reentrant>>;

template <class... Tuples>
struct concat;
template <class... Ts>
struct concat<std::tuple<Ts...>> {
  using type = std::tuple<Ts...>;
};
template <class... Ts, class... Us, class... Rest>
struct concat<std::tuple<Ts...>, std::tuple<Us...>, Rest...>
    : concat<std::tuple<Ts..., Us...>, Rest...> {};

using every_combination = typename concat<
    with_each_reentrancy<dl::shareable_thread_lock, dl::ofd_process_lock>,
    with_each_reentrancy<dl::shareable_thread_lock, dl::fcntl_process_lock>,
    with_each_reentrancy<dl::shareable_thread_lock, dl::no_process_lock>,
    with_each_reentrancy<dl::no_thread_lock, dl::ofd_process_lock>,
    with_each_reentrancy<dl::no_thread_lock, dl::fcntl_process_lock>,
    with_each_reentrancy<dl::no_thread_lock, dl::no_process_lock>>::type;
static_assert(std::tuple_size_v<every_combination> == 18);

// The aliases are among them.
static_assert(std::is_same_v<dl::thread_level_path_lock,
                             std::tuple_element_t<6, every_combination>>);

// The policy traits without concepts (dreadlocks/policy_concepts.hpp).
static_assert(dl::is_thread_policy_v<dl::shareable_thread_lock>);
static_assert(dl::is_process_policy_v<dl::default_process_lock>);
static_assert(dl::locates_files_v<dl::default_process_lock>);
static_assert(dl::is_reentrancy_policy_v<dl::reentrant_if_requested>);
struct throwing_release {
  struct hold {};
  static hold acquire(const dl::lock_request&) { return {}; }
  static void release(hold&) {}
};
static_assert(!dl::is_thread_policy_v<throwing_release>);

BOOST_FIXTURE_TEST_SUITE(cxx17, dreadlocks_test::nothing_left_behind)

BOOST_AUTO_TEST_CASE_TEMPLATE(lock_and_unlock, L, every_combination) {
  const std::filesystem::path file = dreadlocks_test::unique_path("cxx17");
  dl::lock_options shared;
  shared.shared = true;
  shared.blocking = false;
  {
    L lock(file);
    BOOST_TEST(lock.owns_lock());
    BOOST_TEST(lock.path() == file);
    BOOST_TEST(!lock.options().shared);
    if (api_test::has_process_level<L>) {
      BOOST_TEST(lock.native_handle() >= 0);
    } else {
      BOOST_TEST(lock.native_handle() == -1);
    }
    lock.unlock();
    BOOST_TEST(!lock.owns_lock());
  }
  {
    L lock(file.string(), shared);
    L moved(std::move(lock));
    BOOST_TEST(moved.owns_lock());
    BOOST_TEST(moved.options().shared);
  }
}

BOOST_AUTO_TEST_CASE(aliases) {
  const std::filesystem::path file = dreadlocks_test::unique_path("aliases");
  dl::path_lock both(file.c_str());
  dl::lock_options reentrant;
  reentrant.reentrant = true;
  dl::process_level_path_lock process(std::string_view(file.native()),
                                      reentrant);
  dl::thread_level_path_lock thread(file.parent_path() / "other.lock");
  BOOST_TEST(both.owns_lock());
  BOOST_TEST(process.native_handle() == both.native_handle());
  BOOST_TEST(static_cast<bool>(thread));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
