/* A server that starts listening only when told, for "the server comes
 * up while the client is already retrying".
 *
 *   conn_late_server -r READY -c CONTROL [-u PATH] [-n ACCEPTS] [-l LISTENING]
 *
 * TCP (default): binds 127.0.0.1:0 at once (so connects are refused, not
 * sent elsewhere) and writes the port to the READY fifo. Unix (-u): writes
 * "ready" and creates nothing yet. Then it obeys lines read from the
 * CONTROL fifo: "bind" (unix: create the socket file, still refusing),
 * "listen" (accept ACCEPTS connections, default 1, answer each with a
 * tiny HTTP response, close it). Prints "accepted N" when done. With -l,
 * writes "listening" to the LISTENING fifo once listen() returned: a test
 * whose client must find the server up awaits that line first. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void tell(const char *fifo, const char *text)
{
	FILE *f = fopen(fifo, "w");
	if (f == NULL || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0)
		die(fifo);
}

static void serve(int fd, int accepts, const char *listening)
{
	static const char reply[] =
		"HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
	if (listen(fd, 64) != 0)
		die("listen");
	if (listening != NULL)
		tell(listening, "listening");
	int n = 0;
	for (; n < accepts; n++) {
		int c = accept(fd, NULL, NULL);
		if (c < 0)
			die("accept");
		char buf[4096];
		struct timeval tv = { 0, 200000 }; /* do not hang on silent clients */
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		if (recv(c, buf, sizeof buf, 0) > 0 && send(c, reply, sizeof reply - 1, 0) < 0)
			perror("send");
		close(c);
	}
	printf("accepted %d\n", n);
}

int main(int argc, char **argv)
{
	const char *ready = NULL, *control = NULL, *path = NULL, *listening = NULL;
	int accepts = 1, opt;
	while ((opt = getopt(argc, argv, "r:c:u:n:l:")) != -1) {
		switch (opt) {
		case 'r': ready = optarg; break;
		case 'c': control = optarg; break;
		case 'u': path = optarg; break;
		case 'n': accepts = atoi(optarg); break;
		case 'l': listening = optarg; break;
		default: return 2;
		}
	}
	if (ready == NULL || control == NULL) {
		fprintf(stderr, "usage: conn_late_server -r READY -c CONTROL [-u PATH] [-n N] [-l LISTENING]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int fd = socket(path ? AF_UNIX : AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	if (path) {
		snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
		tell(ready, "ready");
	} else {
		struct sockaddr_in in = { .sin_family = AF_INET };
		in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof in;
		if (bind(fd, (struct sockaddr *)&in, len) != 0 ||
		    getsockname(fd, (struct sockaddr *)&in, &len) != 0)
			die("bind");
		char port[16];
		snprintf(port, sizeof port, "%u", ntohs(in.sin_port));
		tell(ready, port);
	}
	FILE *ctl = fopen(control, "r");
	if (ctl == NULL)
		die(control);
	char line[64];
	while (fgets(line, sizeof line, ctl) != NULL) {
		if (strcmp(line, "bind\n") == 0 && path &&
		    bind(fd, (struct sockaddr *)&un, sizeof un) != 0)
			die("bind");
		if (strcmp(line, "listen\n") == 0) {
			serve(fd, accepts, listening);
			return 0;
		}
	}
	fprintf(stderr, "conn_late_server: control closed before listen\n");
	return 1;
}
