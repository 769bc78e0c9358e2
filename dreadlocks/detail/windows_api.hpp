// dreadlocks/detail/windows_api.hpp
//
// <windows.h> as the library includes it: without the rarely used parts
// (WIN32_LEAN_AND_MEAN) and without the min and max macros (NOMINMAX),
// which would break std::min and std::max in every header after it.
// Compiles to nothing but on Windows.

#ifndef DREADLOCKS_DETAIL_WINDOWS_API_HPP_
#define DREADLOCKS_DETAIL_WINDOWS_API_HPP_

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#endif

#endif  // DREADLOCKS_DETAIL_WINDOWS_API_HPP_
