/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "error.h"
#include "reference.h"

/*
 * containers-policy.json(5): which images may be pulled. We evaluate "insecureAcceptAnything" and
 * "reject"; "signedBy" and "sigstoreSigned" are recognised but not verified yet, so an image they
 * cover is refused with "not supported" rather than let through.
 */
typedef struct Policy Policy;

/* Parse a policy file. -ENOENT when missing; -EINVAL for malformed JSON or unknown requirement types. */
int policy_load(const char *path, Policy **ret, Error **reterr);
Policy *policy_free(Policy *p);
void policy_freep(Policy **p);

/*
 * May `ref` (qualified) be pulled over `transport` ("docker")? The most specific scope wins:
 * repo:tag or repo@digest, then repo, then each parent namespace, then the host, then wildcard
 * "*.domain" scopes, then the transport's "" default, then the global default. Every requirement of
 * the chosen list must pass. 0 when accepted, -EACCES ("rejected by policy ..."), -EOPNOTSUPP for
 * signature requirements. Does not block.
 */
int policy_check(const Policy *p, const char *transport, const ImageRef *ref, Error **reterr);
