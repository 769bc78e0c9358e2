// dreadlocks/thread_annotations.hpp
//
// Clang thread-safety annotations (-Wthread-safety), prefixed so that they
// cannot clash with a user's own macros, and empty on other compilers.

#ifndef DREADLOCKS_THREAD_ANNOTATIONS_HPP_
#define DREADLOCKS_THREAD_ANNOTATIONS_HPP_

#if defined(__clang__)
#define DREADLOCKS_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define DREADLOCKS_THREAD_ANNOTATION_(x)
#endif

// Each names the Clang attribute of the same name (capability, scoped_lockable,
// acquire_capability and so on), for the library's own classes.
#define DREADLOCKS_CAPABILITY(x) DREADLOCKS_THREAD_ANNOTATION_(capability(x))
#define DREADLOCKS_SCOPED_CAPABILITY \
  DREADLOCKS_THREAD_ANNOTATION_(scoped_lockable)
#define DREADLOCKS_ACQUIRE(...) \
  DREADLOCKS_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define DREADLOCKS_ACQUIRE_SHARED(...) \
  DREADLOCKS_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define DREADLOCKS_RELEASE(...) \
  DREADLOCKS_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define DREADLOCKS_RELEASE_SHARED(...) \
  DREADLOCKS_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
#define DREADLOCKS_RELEASE_GENERIC(...) \
  DREADLOCKS_THREAD_ANNOTATION_(release_generic_capability(__VA_ARGS__))
#define DREADLOCKS_TRY_ACQUIRE(...) \
  DREADLOCKS_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
#define DREADLOCKS_TRY_ACQUIRE_SHARED(...) \
  DREADLOCKS_THREAD_ANNOTATION_(try_acquire_shared_capability(__VA_ARGS__))

#endif  // DREADLOCKS_THREAD_ANNOTATIONS_HPP_
