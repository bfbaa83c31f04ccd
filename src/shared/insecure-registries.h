/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

/*
 * crio.conf's insecure_registries, with CRI-O's (Docker's) meaning: an entry is a registry as
 * references name it ("host" or "host:port", matched exactly, case aside) or a CIDR ("10.0.0.0/8",
 * "fd00::/8") that an IP-literal registry falls in; names are not resolved for CIDRs. Shared by the
 * config check and the image service.
 */
bool insecure_registry_entry_valid(const char *entry);
bool insecure_registry_listed(char *const *entries, const char *domain);
