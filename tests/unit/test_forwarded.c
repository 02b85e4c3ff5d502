/* The client's address behind trusted proxies (X-Forwarded-For). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/forwarded.h"

static ip_addr_t ip(const char *s)
{
    ip_addr_t a;
    assert_true(ip_addr_parse(s, strlen(s), &a));
    return a;
}

static void assert_ip(ip_addr_t got, const char *want)
{
    ip_addr_t w = ip(want);
    assert_int_equal(got.len, w.len);
    assert_memory_equal(got.b, w.b, w.len);
}

static ip_addr_t client(const proxy_list_t *l, const char *peer, const char *xff)
{
    ip_addr_t p = ip(peer);
    return forwarded_client(l, &p, xff, xff ? strlen(xff) : 0);
}

static void test_parse(void **state)
{
    proxy_list_t l;
    char err[128];
    assert_int_equal(proxy_list_parse("off", &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(proxy_list_parse("127.0.0.1, ::1,10.1.2.3", &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(proxy_list_parse("127.0.0.1,nginx", &l, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'nginx'"));
    assert_int_equal(proxy_list_parse("10.0.0.0/8", &l, err, sizeof(err)), -1);
    assert_int_equal(proxy_list_parse("", &l, err, sizeof(err)), -1);
    ip_addr_t a;
    assert_false(ip_addr_parse("1.2.3", 5, &a));
    assert_ip(ip("::ffff:10.0.0.1"), "10.0.0.1"); /* mapped IPv4 is IPv4 */
}

static void test_client(void **state)
{
    proxy_list_t l;
    char err[128];
    assert_int_equal(proxy_list_parse("127.0.0.1,10.0.0.2", &l, err, sizeof(err)), 0);
    /* no proxy in between, or a peer that is not trusted: the peer, whatever the header says */
    assert_ip(client(&l, "203.0.113.5", "198.51.100.1"), "203.0.113.5");
    assert_ip(client(&l, "127.0.0.1", NULL), "127.0.0.1");
    /* through nginx: the address nginx appended */
    assert_ip(client(&l, "127.0.0.1", "198.51.100.1"), "198.51.100.1");
    /* a client's own claim to the left is not believed */
    assert_ip(client(&l, "127.0.0.1", "1.1.1.1, 198.51.100.1"), "198.51.100.1");
    /* two trusted hops */
    assert_ip(client(&l, "127.0.0.1", "1.1.1.1,198.51.100.1, 10.0.0.2"), "198.51.100.1");
    /* garbage where the client should be: the last trusted hop */
    assert_ip(client(&l, "127.0.0.1", "198.51.100.1, junk"), "127.0.0.1");
    assert_ip(client(&l, "127.0.0.1", ""), "127.0.0.1");
    assert_ip(client(&l, "127.0.0.1", ","), "127.0.0.1");
    /* every hop trusted: the leftmost */
    assert_ip(client(&l, "127.0.0.1", "10.0.0.2"), "10.0.0.2");
    assert_ip(client(&l, "127.0.0.1", "2001:db8::7"), "2001:db8::7");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
