package percontainer

// A pod's infra process only holds the pod's namespaces open, so drover started under the
// name "pause" (the infra container runs the binary as /pause) does its work in C, in a
// constructor that runs before the Go runtime starts: the Go runtime and every linked
// package's init would cost each pod ~7 ms of CPU and several MB of memory for a process
// that sleeps. runc's nsexec takes over "runc init" the same way.

/*
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void drover_pause_exit(int sig) { _exit(0); }

// As PID 1 of a pod's PID namespace, the pause process inherits orphans: reap them.
static void drover_pause_reap(int sig) {
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
}

__attribute__((constructor)) static void drover_pause(int argc, char **argv) {
	if (argc < 1 || argv == NULL || argv[0] == NULL) {
		return;
	}
	const char *base = strrchr(argv[0], '/');
	base = base != NULL ? base + 1 : argv[0];
	if (strcmp(base, "pause") != 0) {
		return;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = drover_pause_exit;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = drover_pause_reap;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	for (;;) {
		pause();
	}
}
*/
import "C"
