/* Pointers the kernel rejects with EFAULT (issue 10, defect 10): connect
 * and accept must say EFAULT, as libc does, where the preload used to
 * crash reading them. Prints one line per case: "NAME rc=R errno=E".
 *
 *   fault_efault */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static void report(const char *name, int rc)
{
	printf("%s rc=%d errno=%s\n", name, rc < 0 ? -1 : 0, rc < 0 ? strerrorname_np(errno) : "0");
}

/* An address that was mapped a moment ago and is not any more. */
static void *unmapped(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(p, 4096);
	return p;
}

int main(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	report("connect-low", connect(s, (const struct sockaddr *)8, 16));
	report("connect-unmapped", connect(s, unmapped(), 16));

	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof in;
	bind(l, (struct sockaddr *)&in, len);
	listen(l, 8);
	getsockname(l, (struct sockaddr *)&in, &len);
	struct sockaddr_storage ss;
	for (int i = 0; i < 2; i++) { /* a pending connection for each accept */
		int c = socket(AF_INET, SOCK_STREAM, 0);
		connect(c, (struct sockaddr *)&in, sizeof in);
	}
	report("accept-addrlen", accept(l, (struct sockaddr *)&ss, (socklen_t *)8));
	len = sizeof ss;
	report("accept-addr", accept(l, unmapped(), &len));
	return 0;
}
