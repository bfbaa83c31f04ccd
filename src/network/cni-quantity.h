/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

/*
 * A Kubernetes quantity as the traffic-shaping annotations write it ("10M", "1.5G", "512Ki", "100000"):
 * decimal (k, M, G, T, P, E) or binary (Ki ... Ei) suffixes. 0 with the value rounded down, or -EINVAL
 * (negative, malformed, or over 2^63).
 */
int cni_quantity_parse(const char *s, uint64_t *ret);
