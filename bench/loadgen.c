/*
 * loadgen: a closed-loop load generator for the NUT network protocol, used by bench/run.py.
 *
 * N connections to host:port each send one request line, wait for the whole reply (one line, or up to
 * a line starting with "END LIST" for LIST requests), record the latency, and send the next, until the
 * duration has passed.  Written in C so that the generator, not the client, is never the bottleneck
 * when comparing two servers.  Prints one line of JSON.
 *
 * usage: loadgen HOST PORT CLIENTS SECONDS 'REQUEST LINE'
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXLAT 4000000

struct conn {
	int fd;
	double sent;
	char buf[65536];
	size_t len;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* the reply is complete: one line for GET, or through the "END LIST" line for LIST (or an ERR line) */
static int complete(struct conn *c, int is_list)
{
	if (c->len == 0 || c->buf[c->len - 1] != '\n')
		return 0;
	if (!is_list)
		return 1;
	if (c->len >= 4 && strncmp(c->buf, "ERR ", 4) == 0)
		return 1;
	/* find the start of the last line */
	size_t i = c->len - 1;
	while (i > 0 && c->buf[i - 1] != '\n')
		i--;
	return strncmp(c->buf + i, "END LIST", 8) == 0;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s HOST PORT CLIENTS SECONDS 'REQUEST'\n", argv[0]);
		return 2;
	}
	const char *host = argv[1];
	int port = atoi(argv[2]), n = atoi(argv[3]);
	double seconds = atof(argv[4]);
	char req[1024];
	snprintf(req, sizeof(req), "%s\n", argv[5]);
	size_t reqlen = strlen(req);
	int is_list = strncmp(argv[5], "LIST", 4) == 0;

	struct rlimit rl = { n + 64, n + 64 };
	setrlimit(RLIMIT_NOFILE, &rl);

	struct conn *conns = calloc(n, sizeof(*conns));
	double *lat = malloc(sizeof(double) * MAXLAT);
	long nlat = 0, errors = 0, done = 0;
	int ep = epoll_create1(0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, host, &sa.sin_addr);

	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			fprintf(stderr, "connect %d: %s\n", i, strerror(errno));
			return 1;
		}
		fcntl(fd, F_SETFL, O_NONBLOCK);
		conns[i].fd = fd;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}

	double start = now(), end = start + seconds;
	for (int i = 0; i < n; i++) {
		conns[i].sent = now();
		if (write(conns[i].fd, req, reqlen) != (ssize_t)reqlen)
			errors++;
	}

	struct epoll_event evs[256];
	while (now() < end) {
		int k = epoll_wait(ep, evs, 256, 100);
		for (int j = 0; j < k; j++) {
			struct conn *c = evs[j].data.ptr;
			ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1);
			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				errors++;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				continue;
			}
			c->len += r;
			if (!complete(c, is_list))
				continue;
			double t = now();
			if (nlat < MAXLAT)
				lat[nlat++] = t - c->sent;
			done++;
			if (strncmp(c->buf, "ERR", 3) == 0)
				errors++;
			c->len = 0;
			if (t < end) {
				c->sent = t;
				if (write(c->fd, req, reqlen) != (ssize_t)reqlen)
					errors++;
			}
		}
	}
	double elapsed = now() - start;
	qsort(lat, nlat, sizeof(double), cmp);
	double p50 = nlat ? lat[nlat / 2] : 0, p99 = nlat ? lat[(long)(nlat * 0.99)] : 0;
	printf("{\"clients\": %d, \"requests\": %ld, \"errors\": %ld, \"seconds\": %.3f, "
	       "\"rps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
	       n, done, errors, elapsed, done / elapsed, p50 * 1e3, p99 * 1e3);
	return 0;
}
