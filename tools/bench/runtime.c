// SPDX-License-Identifier: GPL-2.0
/*
 * runtime CMD [ARGS...]: run CMD once with its standard output on /dev/null
 * and print "MS MAXRSS_KIB": wall-clock milliseconds from spawning it to
 * reaping it, and its peak resident set size.  Exits 1 when CMD fails (its
 * standard error passes through).  Used by tools/bench/wg-tool.sh.
 *
 * Small and in C on purpose: the child is created with vfork(), so the
 * peak RSS that the kernel reports for it is the tool's own, not a copy of
 * a large parent's (which a fork() from Python would add).
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	int status, devnull;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CMD [ARGS...]\n", argv[0]);
		return 2;
	}
	devnull = open("/dev/null", O_WRONLY);
	if (devnull < 0) {
		perror("/dev/null");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = vfork();
	if (pid < 0) {
		perror("vfork");
		return 2;
	}
	if (!pid) {
		dup2(devnull, 1);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("wait4");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return 1;
	printf("%.3f %ld\n", (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6, ru.ru_maxrss);
	return 0;
}
