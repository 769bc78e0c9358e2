// dreadlocks/version.hpp
//
// The library's version, for programs that report it.

#ifndef DREADLOCKS_VERSION_HPP_
#define DREADLOCKS_VERSION_HPP_

// The parts of the version, as integers.
#define DREADLOCKS_VERSION_MAJOR 0
#define DREADLOCKS_VERSION_MINOR 1
#define DREADLOCKS_VERSION_PATCH 0
// "MAJOR.MINOR.PATCH"
#define DREADLOCKS_VERSION_STRING "0.1.0"

#endif  // DREADLOCKS_VERSION_HPP_
