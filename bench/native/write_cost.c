/*
 * What one socket write costs on this machine, with no server around it:
 * the floor under any fan-out that writes once per member.
 *
 *   write_cost pair CLIENTS BYTES ROUNDS   a C writer (this process) and a C
 *                                          reader (a child) over loopback
 *   write_cost read CLIENTS PORT BYTES     only the reader: connects CLIENTS
 *                                          sockets to 127.0.0.1:PORT and reads
 *                                          until BYTES in all have arrived
 *
 * The writer writes BYTES to each of CLIENTS sockets in turn, ROUNDS times,
 * 50 ms apart, and prints one JSON line: CPU (user and system) per write and
 * each round's wall time. The reader, one epoll loop, prints its CPU per read
 * as a JSON line on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void cpu_s(double *user, double *sys) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  *user = r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6;
  *sys = r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

static void raise_fd_limit(void) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

static int read_all(int clients, int port, long want) {
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  int ep = epoll_create1(0);
  for (int i = 0; i < clients; i++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (void *)&a, sizeof a) < 0) {
      perror("connect");
      return 1;
    }
    fcntl(s, F_SETFL, O_NONBLOCK);
    struct epoll_event e = {.events = EPOLLIN, .data.fd = s};
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &e);
  }
  static char buf[65536];
  struct epoll_event ev[1024];
  long total = 0, reads = 0;
  double u0, s0, u1, s1;
  cpu_s(&u0, &s0);
  while (total < want) {
    int k = epoll_wait(ep, ev, 1024, 10000);
    if (k <= 0) break;
    for (int j = 0; j < k; j++) {
      ssize_t r;
      while ((r = read(ev[j].data.fd, buf, sizeof buf)) > 0) {
        total += r;
        reads++;
      }
    }
  }
  cpu_s(&u1, &s1);
  fprintf(stderr,
          "{\"reads\":%ld,\"bytes\":%ld,\"readerCpuUsPerRead\":%.3f}\n",
          reads, total, reads ? (u1 - u0 + s1 - s0) * 1e6 / reads : 0.0);
  return total < want;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "read") == 0) {
    raise_fd_limit();
    return read_all(atoi(argv[2]), atoi(argv[3]), atol(argv[4]));
  }
  if (argc != 5 || strcmp(argv[1], "pair") != 0) {
    fprintf(stderr, "usage: write_cost pair CLIENTS BYTES ROUNDS | "
                    "read CLIENTS PORT BYTES\n");
    return 2;
  }
  raise_fd_limit();
  int clients = atoi(argv[2]), size = atoi(argv[3]), rounds = atoi(argv[4]);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (bind(l, (void *)&a, sizeof a) < 0 || listen(l, 4096) < 0 ||
      getsockname(l, (void *)&a, &al) < 0) {
    perror("listen");
    return 1;
  }
  pid_t child = fork();
  if (child == 0) {
    close(l);
    _exit(read_all(clients, ntohs(a.sin_port), (long)clients * size * rounds));
  }
  int *fd = malloc(sizeof(int) * clients);
  for (int i = 0; i < clients; i++) fd[i] = accept(l, 0, 0);
  char *bytes = malloc(size);
  memset(bytes, 'x', size);
  double *round_ms = malloc(sizeof(double) * rounds);
  double u0, s0, u1, s1;
  cpu_s(&u0, &s0);
  for (int r = 0; r < rounds; r++) {
    double t = now_s();
    for (int i = 0; i < clients; i++) {
      if (write(fd[i], bytes, size) != size) perror("write");
    }
    round_ms[r] = (now_s() - t) * 1e3;
    usleep(50000);
  }
  cpu_s(&u1, &s1);
  int status = 0;
  waitpid(child, &status, 0);
  long writes = (long)clients * rounds;
  printf("{\"writer\":\"c\",\"writes\":%ld,\"userUsPerWrite\":%.3f,"
         "\"systemUsPerWrite\":%.3f,\"roundMs\":[",
         writes, (u1 - u0) * 1e6 / writes, (s1 - s0) * 1e6 / writes);
  for (int r = 0; r < rounds; r++) printf("%s%.2f", r ? "," : "", round_ms[r]);
  printf("]}\n");
  return status != 0;
}
