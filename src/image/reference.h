/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "error.h"

/*
 * An image reference in the docker grammar: [domain/]path[:tag][@digest].
 * Short names ("busybox", "library/busybox:1") have no domain until they are qualified.
 */
typedef struct ImageRef {
        char *domain; /* "docker.io", "localhost:5000", "[::1]:5000"; NULL for a short name */
        char *path;   /* "library/busybox"; for a short name as written ("busybox") */
        char *tag;    /* NULL when none was given */
        char *digest; /* "sha256:..."; NULL when none was given */
} ImageRef;

/*
 * Parse a reference. A leading "docker://" transport is accepted and dropped. The first path
 * component is the domain when it contains '.' or ':' or is "localhost"; "index.docker.io" is
 * written "docker.io". Errors (-EINVAL, message names what is wrong): empty, upper case in the path,
 * bad characters, a tag over 128 characters, a name over 255, a malformed or unknown-algorithm digest.
 * Does not block.
 */
int image_ref_parse(const char *s, ImageRef **ret, Error **reterr);

/*
 * Qualify a short name with a registry domain; on docker.io a one-component path gets "library/".
 * A reference without tag and digest gets the tag "latest". Works on qualified references too (only
 * the default tag is added then). Caller frees.
 */
ImageRef *image_ref_qualify(const ImageRef *ref, const char *domain);

/* Parse, then qualify short names with docker.io: "busybox" -> docker.io/library/busybox:latest. */
int image_ref_normalize(const char *s, ImageRef **ret, Error **reterr);

/* "domain/path[:tag][@digest]" (short names without domain). Caller frees. */
char *image_ref_to_string(const ImageRef *r);

/* "domain/path", without tag or digest. Caller frees. */
char *image_ref_name(const ImageRef *r);

ImageRef *image_ref_copy(const ImageRef *r);
ImageRef *image_ref_free(ImageRef *r);
void image_ref_freep(ImageRef **r);
#define _cleanup_image_ref_ _cleanup_(image_ref_freep)
