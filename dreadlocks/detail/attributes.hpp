// dreadlocks/detail/attributes.hpp
//
// Compiler attributes the library's internals use, each behind a macro that
// expands to nothing (or to the plain keyword) where it is not understood.

#ifndef DREADLOCKS_DETAIL_ATTRIBUTES_HPP_
#define DREADLOCKS_DETAIL_ATTRIBUTES_HPP_

// constinit where the language has it (C++20): the compiler then proves
// the constant initialization that the fork safety rests on. Not on
// Windows, which has no fork(), and where mingw-w64's std::mutex has no
// constant initializer (winpthreads).
#if defined(__cpp_constinit) && __cpp_constinit >= 201907L && !defined(_WIN32)
#define DREADLOCKS_CONSTINIT constinit
#else
#define DREADLOCKS_CONSTINIT
#endif

// For the small steps of a lock cycle that live in their own files for the
// reader's sake but belong in their caller's body: one call each would add
// a tenth to an uncontended cycle (docs/performance.md).
#if defined(__GNUC__) || defined(__clang__)
#define DREADLOCKS_INLINE_STEP [[gnu::always_inline]] inline
#else
#define DREADLOCKS_INLINE_STEP inline
#endif

#endif  // DREADLOCKS_DETAIL_ATTRIBUTES_HPP_
