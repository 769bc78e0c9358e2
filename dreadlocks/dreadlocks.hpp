// dreadlocks/dreadlocks.hpp
//
// The umbrella header: everything a user of dreadlocks needs.

#ifndef DREADLOCKS_DREADLOCKS_HPP_
#define DREADLOCKS_DREADLOCKS_HPP_

#include "dreadlocks/basic_multi_path_lock.hpp"
#include "dreadlocks/basic_path_lock.hpp"
#include "dreadlocks/basic_path_mutex.hpp"
#include "dreadlocks/errors.hpp"
#include "dreadlocks/idle_lock_files.hpp"
#include "dreadlocks/key_form.hpp"
#include "dreadlocks/lock_level.hpp"
#include "dreadlocks/lock_key.hpp"
#include "dreadlocks/lock_options.hpp"
#include "dreadlocks/lock_request.hpp"
#include "dreadlocks/platform.hpp"
#include "dreadlocks/process_policies.hpp"
#include "dreadlocks/reentrancy_policies.hpp"
#include "dreadlocks/thread_annotations.hpp"
#include "dreadlocks/thread_policies.hpp"
#include "dreadlocks/version.hpp"

#endif  // DREADLOCKS_DREADLOCKS_HPP_
