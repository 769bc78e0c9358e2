// tools/dreadlock/help.hpp
//
// The texts of -h/--help and -V/--version.

#ifndef DREADLOCKS_TOOLS_DREADLOCK_HELP_HPP_
#define DREADLOCKS_TOOLS_DREADLOCK_HELP_HPP_

#include <string_view>

#include "dreadlocks/version.hpp"

namespace dreadlock_cli {

// The tool's version, printed by -V: the library's.
inline constexpr std::string_view version = DREADLOCKS_VERSION_STRING;

// Returns the --help text (ends with a newline).
std::string_view help_text() noexcept;

}  // namespace dreadlock_cli

#endif  // DREADLOCKS_TOOLS_DREADLOCK_HELP_HPP_
