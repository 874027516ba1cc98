/* Random state across fork and threads: connects (to a refusing DEST) once
 * before fork to seed this thread's generator, then once in the parent,
 * once in the child, and once in each of two new threads of the parent.
 * Every stream must be its own: the test compares the delays they logged.
 *
 *   conn_fork IPV4:PORT */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_in dest;

static void *connect_once(void *arg)
{
	(void)arg;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dest, sizeof dest) == 0)
		exit(2); /* the destination must refuse */
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	char host[64];
	const char *colon = argc == 2 ? strrchr(argv[1], ':') : NULL;
	if (colon == NULL || (size_t)(colon - argv[1]) >= sizeof host) {
		fprintf(stderr, "usage: conn_fork IPV4:PORT\n");
		return 2;
	}
	memcpy(host, argv[1], (size_t)(colon - argv[1]));
	host[colon - argv[1]] = '\0';
	dest.sin_family = AF_INET;
	dest.sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &dest.sin_addr) != 1)
		return 2;

	connect_once(NULL);
	pid_t child = fork();
	if (child < 0)
		return 2;
	connect_once(NULL);
	if (child == 0)
		return 0;
	int status;
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1;
	for (int i = 0; i < 2; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, connect_once, NULL) != 0 || pthread_join(t, NULL) != 0)
			return 2;
	}
	return 0;
}
