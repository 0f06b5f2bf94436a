/* Unit tests for common/bufpool: recycling, the idle cap, alignment and
 * use from many threads at once. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/bufpool.h"

static void test_recycles(void **state)
{
    (void)state;
    struct bufpool *p = bufpool_new(1 << 20, 2);
    assert_non_null(p);
    assert_int_equal(bufpool_size(p), 1 << 20);
    void *a = bufpool_get(p), *b = bufpool_get(p);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_int_equal((uintptr_t)a % 64, 0);
    memset(a, 1, 1 << 20); /* the whole size is usable */
    bufpool_put(p, a);
    /* an idle buffer comes back before anything new is allocated */
    assert_ptr_equal(bufpool_get(p), a);
    bufpool_put(p, a);
    bufpool_put(p, b);
    bufpool_put(p, NULL);
    void *c = bufpool_get(p), *d = bufpool_get(p);
    assert_true((c == a && d == b) || (c == b && d == a));
    bufpool_put(p, c);
    bufpool_put(p, d);
    bufpool_free(p);
    bufpool_free(NULL);
}

static void test_idle_cap(void **state)
{
    (void)state;
    /* keep 1: of three returned buffers only one stays (ASan/valgrind
     * report a leak if the other two were not freed) */
    struct bufpool *p = bufpool_new(4096, 1);
    void *x[3];
    for (int i = 0; i < 3; i++)
        assert_non_null(x[i] = bufpool_get(p));
    for (int i = 0; i < 3; i++)
        bufpool_put(p, x[i]);
    void *y = bufpool_get(p);
    assert_ptr_equal(y, x[0]);
    bufpool_put(p, y);
    bufpool_free(p);

    /* keep 0: a pass-through allocator */
    p = bufpool_new(4096, 0);
    y = bufpool_get(p);
    assert_non_null(y);
    bufpool_put(p, y);
    bufpool_free(p);
}

#define THREADS 8
#define ROUNDS 2000

static void *churn(void *arg)
{
    struct bufpool *p = arg;
    uintptr_t me = (uintptr_t)pthread_self();
    for (int i = 0; i < ROUNDS; i++) {
        volatile uintptr_t *b = bufpool_get(p);
        if (!b)
            return (void *)1;
        b[0] = me; /* nobody else may hold this buffer now */
        b[1] = (uintptr_t)i;
        if (i % 16 == 0)
            sched_yield(); /* let the others run while we hold it */
        if (b[0] != me || b[1] != (uintptr_t)i)
            return (void *)1;
        bufpool_put(p, (void *)b);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct bufpool *p = bufpool_new(256, 3);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, p), 0);
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
    bufpool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recycles),
        cmocka_unit_test(test_idle_cap),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
