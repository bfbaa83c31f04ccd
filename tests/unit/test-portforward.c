/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "portforward.h"

static void test_port_numbers(void **state) {
        assert_int_equal(portforward_parse_port("80"), 80);
        assert_int_equal(portforward_parse_port("65535"), 65535);
        assert_int_equal(portforward_parse_port("1"), 1);
        assert_int_equal(portforward_parse_port("0"), -EINVAL);
        assert_int_equal(portforward_parse_port("65536"), -EINVAL);
        assert_int_equal(portforward_parse_port("123456"), -EINVAL);
        assert_int_equal(portforward_parse_port("-1"), -EINVAL);
        assert_int_equal(portforward_parse_port("8o"), -EINVAL);
        assert_int_equal(portforward_parse_port(" 80"), -EINVAL);
        assert_int_equal(portforward_parse_port(""), -EINVAL);
        assert_int_equal(portforward_parse_port(NULL), -EINVAL);
}

/* A listener on 127.0.0.1 in the test's own namespace: "" means no namespace change. */
static void test_connect_in_own_namespace(void **state) {
        int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(l, 1), 0);
        socklen_t len = sizeof(a);
        getsockname(l, (struct sockaddr *)&a, &len);
        uint16_t port = ntohs(a.sin_port);
        int fd = -1;
        assert_int_equal(portforward_connect("", port, &fd), 0);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "x", 1), 1);
        int c = accept(l, NULL, NULL);
        char b;
        assert_int_equal(read(c, &b, 1), 1);
        assert_int_equal(b, 'x');
        close(c);
        close(fd);
        close(l);
        /* Nobody listens any more. */
        assert_int_equal(portforward_connect(NULL, port, &fd), -ECONNREFUSED);
        assert_int_equal(portforward_connect("/nonexistent/netns", port, &fd), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_port_numbers),
                cmocka_unit_test(test_connect_in_own_namespace),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
