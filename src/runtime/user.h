/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

#include "error.h"

typedef struct UserRequest {
        const char *image_user; /* the image config's User: "name", "uid", "name:group", "uid:gid", "" */
        int64_t run_as_user;    /* -1: not set */
        const char *run_as_username;
        int64_t run_as_group; /* -1: not set */
        const int64_t *supplemental;
        size_t n_supplemental;
} UserRequest;

typedef struct ResolvedUser {
        int64_t uid, gid;
        int64_t *groups; /* supplemental: /etc/group memberships of the user, then the CRI's */
        size_t n_groups;
} ResolvedUser;

/*
 * Resolve the user a container runs as against the /etc/passwd and /etc/group of its root
 * filesystem (read through openat2 under `rootfs_fd`, so links in the image cannot reach the host).
 * A name that is not in the image's passwd is -EINVAL naming the field.
 */
int user_resolve(int rootfs_fd, const UserRequest *req, ResolvedUser *ret, Error **reterr);

/* One line of passwd/group parsed: exposed for the unit tests. */
int passwd_find(const char *text, const char *name, int64_t uid, char **ret_name, int64_t *ret_uid,
                int64_t *ret_gid);
int group_find(const char *text, const char *name, int64_t *ret_gid);
/* Groups listing `user` as a member. */
size_t group_memberships(const char *text, const char *user, int64_t **groups, size_t n);
