/* Unit tests for sync-client/sync_folder: the state folder and the lock
 * that keeps a second cairn-sync process off a folder. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "sync-client/sync_folder.h"

static void test_lock(void **state)
{
    (void)state;
    char root[] = "/tmp/cairn-folder-XXXXXX", cmd[64];
    assert_non_null(mkdtemp(root));
    int fd = sync_folder_lock(root);
    assert_true(fd >= 0);
    char dir[64];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/.cairn-sync", root);
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    /* a second taker (another open of the lock file) is refused */
    assert_int_equal(sync_folder_lock(root), SYNC_ELOCKED);
    sync_folder_unlock(fd);
    fd = sync_folder_lock(root);
    assert_true(fd >= 0);
    sync_folder_unlock(fd);
    sync_folder_unlock(-1);

    /* another process holds it; killed with -9, the lock is free again */
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int held = sync_folder_lock(root);
        char c = held >= 0 ? 'y' : 'n';
        if (write(pipefd[1], &c, 1) != 1)
            _exit(2);
        pause();
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    assert_int_equal(sync_folder_lock(root), SYNC_ELOCKED);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fd = sync_folder_lock(root);
    assert_true(fd >= 0);
    sync_folder_unlock(fd);
    close(pipefd[0]);
    close(pipefd[1]);

    assert_int_equal(sync_folder_lock("/nonexistent-cairn/x"), -ENOENT);
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
