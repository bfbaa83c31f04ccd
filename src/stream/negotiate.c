/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "negotiate.h"
#include "session.h"
#include "token.h"

typedef struct Proto {
        const char *name;
        int version;
        bool spdy, websocket;
        bool portforward;
        bool base64; /* WebSocket text messages: the channel as an ASCII digit, then the data in base64 */
} Proto;

/*
 * v5 adds a close signal only WebSocket can carry. Port-forward over WebSocket is v4.channel.k8s.io with
 * its own channel layout (see portforward.c), as the kubelet serves it.
 */
static const Proto protos[] = {
        {"v5.channel.k8s.io", RC_V5, false, true, false, false},
        {"v4.channel.k8s.io", RC_V4, true, true, false, false},
        {"v3.channel.k8s.io", RC_V3, true, true, false, false},
        {"v2.channel.k8s.io", RC_V2, true, true, false, false},
        {"channel.k8s.io", RC_V1, true, true, false, false},
        {"portforward.k8s.io", 0, true, false, true, false},
        /* The base64 forms the kubelet serves over WebSocket (for clients that cannot send binary). */
        {"v4.base64.channel.k8s.io", RC_V4, false, true, false, true},
        {"base64.channel.k8s.io", RC_V1, false, true, false, true},
};

const char *stream_kind_to_string(StreamKind k) {
        switch (k) {
        case STREAM_EXEC:
                return "exec";
        case STREAM_ATTACH:
                return "attach";
        default:
                return "portforward";
        }
}

bool stream_parse_path(const char *url, StreamKind *ret_kind, const char **ret_token) {
        static const StreamKind kinds[] = {STREAM_EXEC, STREAM_ATTACH, STREAM_PORTFORWARD};
        if (!url || url[0] != '/')
                return false;
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                const char *name = stream_kind_to_string(kinds[i]);
                size_t n = strlen(name);
                if (strncmp(url + 1, name, n) != 0 || url[1 + n] != '/')
                        continue;
                const char *token = url + 2 + n;
                if (strlen(token) != TOKEN_LEN || strchr(token, '/'))
                        return false;
                *ret_kind = kinds[i];
                *ret_token = token;
                return true;
        }
        return false;
}

static const Proto portforward_websocket[] = {
        {"v4.channel.k8s.io", 0, false, true, true, false},
        {"v4.base64.channel.k8s.io", 0, false, true, true, true},
};

static const Proto *lookup(const char *name, size_t n, StreamKind kind, bool websocket) {
        if (kind == STREAM_PORTFORWARD && websocket) {
                for (size_t i = 0; i < ELEMENTSOF(portforward_websocket); i++)
                        if (strlen(portforward_websocket[i].name) == n &&
                            strncmp(name, portforward_websocket[i].name, n) == 0)
                                return &portforward_websocket[i];
                return NULL;
        }
        for (size_t i = 0; i < ELEMENTSOF(protos); i++) {
                const Proto *p = &protos[i];
                if (strlen(p->name) != n || strncmp(p->name, name, n) != 0)
                        continue;
                if ((websocket ? p->websocket : p->spdy) && p->portforward == (kind == STREAM_PORTFORWARD))
                        return p;
        }
        return NULL;
}

static const char *negotiate(StreamKind kind, const char *offered, bool websocket, int *ret_version,
                             bool *ret_base64) {
        for (const char *p = offered; p && *p;) {
                p += strspn(p, " \t,");
                size_t n = strcspn(p, " \t,");
                const Proto *found = n ? lookup(p, n, kind, websocket) : NULL;
                if (found) {
                        *ret_version = found->version;
                        if (ret_base64)
                                *ret_base64 = found->base64;
                        return found->name;
                }
                p += n;
        }
        return NULL;
}

const char *negotiate_spdy(StreamKind kind, const char *offered, int *ret_version) {
        return negotiate(kind, offered, false, ret_version, NULL);
}

const char *negotiate_websocket(StreamKind kind, const char *offered, int *ret_version, bool *ret_base64) {
        /*
         * A client that offers no subprotocol gets what the kubelet serves then: binary channels with
         * channel.k8s.io's semantics (port-forward: its one WebSocket layout), and no protocol header.
         */
        if (!offered || offered[strspn(offered, " \t,")] == '\0') {
                *ret_version = kind == STREAM_PORTFORWARD ? 0 : RC_V1;
                *ret_base64 = false;
                return "";
        }
        return negotiate(kind, offered, true, ret_version, ret_base64);
}
