#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/router.h"

static void h1(void) {}
static void h2(void) {}
static void h3(void) {}
static void h4(void) {}

static const route_t routes[] = {
    {"GET", "/v1/users/{id}", h1, 0},
    {"GET", "/v1/users/search", h2, 0},
    {"POST", "/v1/users/self", h3, 0},
    {"DELETE", "/v1/media/{id}/comments/{cid}", h4, 0},
};

static router_t *mk(void)
{
    const char *err = NULL;
    router_t *r = router_new(routes, 4, &err);
    assert_non_null(r);
    return r;
}

static int match(router_t *r, const char *m, const char *path, route_match_t *out)
{
    return router_match(r, m, strlen(m), path, strlen(path), out);
}

static void test_params_and_literals(void **state)
{
    router_t *r = mk();
    route_match_t m;
    assert_int_equal(match(r, "GET", "/v1/users/123", &m), ROUTER_FOUND);
    assert_ptr_equal(m.route->handler, h1);
    assert_int_equal(m.nargs, 1);
    assert_int_equal(m.args[0].len, 3);
    assert_memory_equal(m.args[0].base, "123", 3);
    assert_int_equal(match(r, "GET", "/v1/users/search", &m), ROUTER_FOUND);
    assert_ptr_equal(m.route->handler, h2); /* literal beats {id} */
    assert_int_equal(match(r, "DELETE", "/v1/media/5_6/comments/7", &m), ROUTER_FOUND);
    assert_int_equal(m.nargs, 2);
    assert_memory_equal(m.args[1].base, "7", 1);
    router_free(r);
}

static void test_json_suffix_and_head(void **state)
{
    router_t *r = mk();
    route_match_t m;
    assert_int_equal(match(r, "GET", "/v1/users/self.json", &m), ROUTER_FOUND);
    assert_int_equal(m.args[0].len, 4);
    assert_int_equal(match(r, "HEAD", "/v1/users/1", &m), ROUTER_FOUND);
    router_free(r);
}

static void test_not_found_and_405(void **state)
{
    router_t *r = mk();
    route_match_t m;
    assert_int_equal(match(r, "GET", "/v1/users", &m), ROUTER_NOT_FOUND);
    assert_int_equal(match(r, "GET", "/v1/users/", &m), ROUTER_NOT_FOUND); /* empty param */
    assert_int_equal(match(r, "GET", "/v1/users/1/x", &m), ROUTER_NOT_FOUND);
    assert_int_equal(match(r, "GET", "", &m), ROUTER_NOT_FOUND);
    assert_int_equal(match(r, "GET", "nopath", &m), ROUTER_NOT_FOUND);
    assert_int_equal(match(r, "GET", "/a/b/c/d/e/f/g/h/i/j", &m), ROUTER_NOT_FOUND);
    assert_int_equal(match(r, "DELETE", "/v1/users/1", &m), ROUTER_METHOD_NOT_ALLOWED);
    assert_string_equal(m.allow, "GET");
    assert_int_equal(match(r, "PUT", "/v1/users/self", &m), ROUTER_METHOD_NOT_ALLOWED);
    assert_non_null(strstr(m.allow, "GET"));
    assert_non_null(strstr(m.allow, "POST"));
    router_free(r);
}

static void test_bad_patterns(void **state)
{
    const char *err = NULL;
    route_t bad[] = {{"GET", "no-slash", h1, 0}};
    assert_null(router_new(bad, 1, &err));
    route_t many[] = {{"GET", "/{a}/{b}/{c}/{d}/{e}", h1, 0}};
    assert_null(router_new(many, 1, &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_and_literals),
        cmocka_unit_test(test_json_suffix_and_head),
        cmocka_unit_test(test_not_found_and_405),
        cmocka_unit_test(test_bad_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
