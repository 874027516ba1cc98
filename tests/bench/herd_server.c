/* The server of the herd and proxy benchmarks: a small request/response
 * server (read one line, write it back, close) with a small backlog and a
 * bounded accept rate, that starts listening only after a delay, and that
 * records when things arrive.
 *
 *   bench_herd_server [--open-after-ms MS] [--backlog N] [--accept-gap-us US]
 *                     [--expect N] [--sniff] [--out FILE] PORT
 *
 * It binds 127.0.0.1:PORT at once (0: the kernel picks; "bound PORT" is
 * printed on stdout), listens after MS milliseconds (until then connects
 * are refused), then serves one connection at a time, at most one accept
 * per US microseconds, and exits after N connections (0: never).
 *
 * What "arrival" means: accept() only sees connections that got through.
 * A refused attempt (port closed) or a SYN dropped on a full backlog never
 * reaches accept, yet it is exactly the load a herd puts on a server. With
 * --sniff (root, best in a private network namespace) a packet socket on
 * lo timestamps every inbound SYN to PORT, retransmissions included: every
 * connection attempt, whatever became of it. --out FILE gets one line per
 * event, "syn EPOCH_US", "listen EPOCH_US", "accept EPOCH_US". */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct options {
	long open_after_ms, backlog, accept_gap_us, expect;
	int sniff;
	const char *out;
	long port;
};

static FILE *out;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static uint16_t sniff_port; /* network order */

static void die(const char *what)
{
	fprintf(stderr, "bench_herd_server: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void record(const char *what, const struct timespec *t)
{
	if (!out)
		return;
	pthread_mutex_lock(&out_lock);
	fprintf(out, "%s %lld\n", what, (long long)t->tv_sec * 1000000 + t->tv_nsec / 1000);
	pthread_mutex_unlock(&out_lock);
}

static void record_now(const char *what)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	record(what, &t);
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int sniffer_socket(void)
{
	int fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
	if (fd < 0)
		die("packet socket (--sniff needs root)");
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
				  .sll_ifindex = (int)if_nametoindex("lo") };
	if (bind(fd, (struct sockaddr *)&ll, sizeof ll) < 0)
		die("bind packet socket to lo");
	return fd;
}

/* Every SYN (without ACK) to our port, once: lo shows each packet as it
 * leaves and as it arrives; only the arrival (PACKET_HOST) counts. The
 * kernel's receive timestamp is used, not the time this thread woke. */
static void *sniff(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char pkt[128];
	for (;;) {
		struct sockaddr_ll from;
		socklen_t len = sizeof from;
		ssize_t n = recvfrom(fd, pkt, sizeof pkt, MSG_TRUNC, (struct sockaddr *)&from, &len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("sniff");
		}
		if (from.sll_pkttype != PACKET_HOST || n < (ssize_t)sizeof(struct iphdr))
			continue;
		const struct iphdr *ip = (const struct iphdr *)pkt;
		size_t off = (size_t)ip->ihl * 4;
		if (ip->protocol != IPPROTO_TCP || off + sizeof(struct tcphdr) > sizeof pkt)
			continue;
		const struct tcphdr *tcp = (const struct tcphdr *)(pkt + off);
		if (tcp->dest != sniff_port || !tcp->syn || tcp->ack)
			continue;
		struct timespec t;
		if (ioctl(fd, SIOCGSTAMPNS, &t) < 0)
			clock_gettime(CLOCK_REALTIME, &t);
		record("syn", &t);
	}
	return NULL;
}

/* One request: a line in, the same line out. */
static void serve(int fd)
{
	char buf[512];
	size_t got = 0;
	while (got < sizeof buf) {
		ssize_t r = read(fd, buf + got, sizeof buf - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(buf, '\n', got))
			break;
	}
	if (got > 0 && write(fd, buf, got) < 0)
		perror("bench_herd_server: write");
	close(fd);
}

static long number(const char *text)
{
	char *end;
	long v = strtol(text, &end, 10);
	if (*text == '\0' || *end || v < 0) {
		fprintf(stderr, "bench_herd_server: not a number: %s\n", text);
		exit(2);
	}
	return v;
}

static struct options parse(int argc, char **argv)
{
	struct options o = { .backlog = 8 };
	int i = 1;
	for (; i < argc - 1 && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--sniff") == 0)
			o.sniff = 1;
		else if (strcmp(argv[i], "--open-after-ms") == 0)
			o.open_after_ms = number(argv[++i]);
		else if (strcmp(argv[i], "--backlog") == 0)
			o.backlog = number(argv[++i]);
		else if (strcmp(argv[i], "--accept-gap-us") == 0)
			o.accept_gap_us = number(argv[++i]);
		else if (strcmp(argv[i], "--expect") == 0)
			o.expect = number(argv[++i]);
		else if (strcmp(argv[i], "--out") == 0)
			o.out = argv[++i];
		else
			break;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: bench_herd_server [--open-after-ms MS] [--backlog N] "
				"[--accept-gap-us US] [--expect N] [--sniff] [--out FILE] PORT\n");
		exit(2);
	}
	o.port = number(argv[i]);
	return o;
}

int main(int argc, char **argv)
{
	struct options o = parse(argc, argv);
	if (o.out && !(out = fopen(o.out, "w")))
		die(o.out);
	if (out) /* a run that is killed keeps what it recorded */
		setvbuf(out, NULL, _IOLBF, 0);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o.port),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof addr;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len) < 0)
		die("bind");
	sniff_port = addr.sin_port;
	if (o.sniff) {
		pthread_t t;
		int fd = sniffer_socket();
		if (pthread_create(&t, NULL, sniff, (void *)(intptr_t)fd) != 0)
			die("pthread_create");
	}
	printf("bound %u\n", ntohs(addr.sin_port));
	fflush(stdout);
	sleep_us(o.open_after_ms * 1000);
	if (listen(lfd, (int)o.backlog) < 0)
		die("listen");
	record_now("listen");
	for (long served = 0; o.expect == 0 || served < o.expect; served++) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		record_now("accept");
		serve(fd);
		if (o.accept_gap_us)
			sleep_us(o.accept_gap_us);
	}
	/* The last SYNs are already recorded: a SYN precedes its accept. */
	pthread_mutex_lock(&out_lock);
	if (out)
		fclose(out);
	return 0;
}
