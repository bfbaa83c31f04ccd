/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "daemon.h"

typedef struct RegistriesWatch RegistriesWatch;

/*
 * auto_reload_registries: watch registries.conf (through its directory) and its drop-in directory,
 * and reload them into the image service once a change has settled. A directory that cannot be
 * watched only warns. NULL with reterr set when the watcher cannot start at all.
 */
RegistriesWatch *registries_watch_start(Daemon *d, Error **reterr);
/* Stop the watcher and free it; NULL is fine. Returns NULL. */
RegistriesWatch *registries_watch_stop(RegistriesWatch *w);
