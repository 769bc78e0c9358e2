// tools/dreadlock/exit_codes.cpp

#include "tools/dreadlock/exit_codes.hpp"

#include <cerrno>

#if defined(_WIN32)
#include <windows.h>
#endif

namespace dreadlock_cli {

int exit_code_for_lock_error(const std::error_code& error) noexcept {
  if (error.category() != std::generic_category() &&
      error.category() != std::system_category()) {
    return os_error_exit;
  }
#if defined(_WIN32)
  // The library's Windows errors are GetLastError() values.
  if (error.category() == std::system_category()) {
    switch (error.value()) {
      case ERROR_WRITE_PROTECT:
      case ERROR_DISK_FULL:
      case ERROR_HANDLE_DISK_FULL:
        return cannot_create_exit;
      case ERROR_NOT_ENOUGH_MEMORY:
      case ERROR_OUTOFMEMORY:
      case ERROR_TOO_MANY_OPEN_FILES:
      case ERROR_LOCK_VIOLATION:
        return os_error_exit;
      default:
        return cannot_open_exit;
    }
  }
#endif
  switch (error.value()) {
    case EROFS:
    case ENOSPC:
#if defined(EDQUOT)
    case EDQUOT:
#endif
      return cannot_create_exit;
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case ENOLCK:
    case EIO:
    case EDEADLK:
      return os_error_exit;
    default:
      return cannot_open_exit;
  }
}

}  // namespace dreadlock_cli
