/*
 * Podvisor's pod infra process. It keeps a pod's namespaces alive while no container runs and,
 * as PID 1 of the pod's PID namespace, collects the exit status of every orphan reparented to it.
 *
 *   pause                  run as the infra process in the current namespaces
 *   pause -p POD [NAME]    make a new PID namespace, start the infra process as its PID 1 (after
 *                          setting the UTS hostname to NAME, if given), print that process's pid
 *                          as the caller sees it, and exit: nothing stays between caller and infra
 *                          process. POD is only carried in the arguments, which the infra process
 *                          keeps, so that it can be found by its pod even if its pid was never
 *                          recorded (the daemon died while starting it).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int serve(void) {
    sigset_t all;
    int sig;
    /* Everything stays blocked and is taken synchronously, so no signal can end us by surprise. */
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        if (sigwait(&all, &sig) != 0) continue;
        if (sig == SIGTERM || sig == SIGINT) return 0;
        if (sig == SIGCHLD) while (waitpid(-1, NULL, WNOHANG) > 0) {}
    }
}

static int launch(const char *hostname) {
    if (hostname != NULL && sethostname(hostname, strlen(hostname)) != 0) { perror("pause: sethostname"); return 1; }
    if (unshare(CLONE_NEWPID) != 0) { perror("pause: unshare"); return 1; }
    pid_t child = fork();
    if (child < 0) { perror("pause: fork"); return 1; }
    if (child > 0) { printf("%d\n", (int)child); return 0; }
    /* Detach from the caller's session and output, which it waits on to read our pid. */
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) { dup2(null, 0); dup2(null, 1); dup2(null, 2); if (null > 2) close(null); }
    return serve();
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "-p") == 0) return launch(argc >= 4 ? argv[3] : NULL);
    return serve();
}
