/*
 * The benchmark's native reader: one process that connects many reader
 * clients to a chat server, logs them in, and counts and times every
 * benchmark message they receive, at the cost of a C program (nonblocking
 * sockets, epoll, one 64 KiB read per readable socket) instead of a Deno
 * runtime's ~31 us per read with 10,000 sockets. bench/native_reader.ts
 * compiles it, drives it over stdin/stdout and merges its figures with the
 * Deno senders'.
 *
 * Driver -> reader, one command a line (strings in hex, "-" for empty):
 *   target HOST PORT
 *   clients N FIRST CONCURRENCY JOIN_DEADLINE_MS LOGIN_TIMEOUT_MS SENDERS
 *   nick PREFIX TOKEN      nick of client i is PREFIX(FIRST+i); TOKEN in the
 *                          login strings is replaced by it
 *   send BYTES             sent once, right after connecting
 *   expect BYTES           (repeated) must each appear in a received line, in
 *                          order; the client is ready after the last
 *   reply PREFIX ANSWER    a line starting with PREFIX is answered with
 *                          ANSWER + the rest of the line + "\r\n" (IRC PING)
 *   closing PREFIX         a line starting with PREFIX: the server is closing
 *   start                  connect everyone
 *   clock                  answers "clock US" (CLOCK_MONOTONIC, us) at once
 *   offset US              driver clock minus this clock, in us
 *   window-end US          deliveries arriving after it (driver clock) are drain
 *   sent N                 messages sent so far by all senders
 *   behind N               answers {"type":"behind",...}: live readers with
 *                          fewer than N messages
 *   report N               answers {"type":"report",...} with N messages sent
 *                          in all, closes every socket and exits
 * Reader -> driver: "clock US", and JSON lines: {"type":"joined",...} once
 * every client is in or failed (or the join deadline passed), "behind",
 * "report". stdin's end, or the hard deadline (argv[1] seconds), exits.
 *
 * Build: cc -O2 -std=gnu11 -o reader reader.c
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define READ_BYTES (64 * 1024)
#define MAX_CARRY (1 << 20)
#define MAX_EXPECT 16
#define MAX_RULES 8
#define MAX_REASONS 32

/* ---- histogram: the same buckets as bench/stats.ts ---- */
#define SUB_BUCKETS 64
#define LINEAR_LIMIT 128
#define MAX_SHIFT 24
#define BUCKETS (LINEAR_LIMIT + MAX_SHIFT * SUB_BUCKETS)
#define MAX_VALUE 2147483647LL

static double hist_counts[BUCKETS];
static double hist_count, hist_sum;
static int64_t hist_max, hist_min = -1;

static int bucket_of(int64_t v) {
  if (v < LINEAR_LIMIT) return (int)v;
  int shift = 31 - __builtin_clz((uint32_t)v) - 6;
  return LINEAR_LIMIT + (shift - 1) * SUB_BUCKETS +
         (int)((v >> shift) - SUB_BUCKETS);
}

static void hist_record(int64_t v) {
  if (v < 0) v = 0;
  if (v > MAX_VALUE) v = MAX_VALUE;
  hist_counts[bucket_of(v)]++;
  hist_count++;
  hist_sum += (double)v;
  if (v > hist_max) hist_max = v;
  if (hist_min < 0 || v < hist_min) hist_min = v;
}

/* ---- small byte strings ---- */
typedef struct {
  char *p;
  size_t n;
} bytes_t;

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bytes_t unhex(const char *s) {
  bytes_t b = {0, 0};
  if (s == NULL || strcmp(s, "-") == 0) {
    b.p = calloc(1, 1);
    return b;
  }
  size_t len = strlen(s) / 2;
  b.p = calloc(len + 1, 1);
  for (size_t i = 0; i < len; i++) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0) break;
    b.p[b.n++] = (char)(hi * 16 + lo);
  }
  return b;
}

/* `text` with every `token` replaced by `nick`, into a new buffer. */
static bytes_t substitute(bytes_t text, bytes_t token, const char *nick) {
  size_t nick_len = strlen(nick);
  bytes_t out;
  out.p = malloc(text.n * (nick_len + 1) + 1);
  out.n = 0;
  for (size_t i = 0; i < text.n;) {
    if (token.n > 0 && i + token.n <= text.n &&
        memcmp(text.p + i, token.p, token.n) == 0) {
      memcpy(out.p + out.n, nick, nick_len);
      out.n += nick_len;
      i += token.n;
    } else {
      out.p[out.n++] = text.p[i++];
    }
  }
  return out;
}

/* ---- reasons counted by name ---- */
typedef struct {
  char name[128];
  long count;
} reason_t;

static void count_reason(reason_t *list, int *n, const char *name) {
  for (int i = 0; i < *n; i++) {
    if (strcmp(list[i].name, name) == 0) {
      list[i].count++;
      return;
    }
  }
  /* The last slot takes every reason that finds no room of its own. */
  int i = *n < MAX_REASONS - 1 ? (*n)++ : MAX_REASONS - 1;
  if (i == MAX_REASONS - 1) {
    if (*n < MAX_REASONS) (*n)++;
    snprintf(list[i].name, sizeof list[i].name, "other");
  } else {
    snprintf(list[i].name, sizeof list[i].name, "%s", name);
  }
  list[i].count++;
}

/* ---- the plan ---- */
static char host[256] = "127.0.0.1";
static int port;
static long n_clients, first_index, concurrency = 256, senders;
static long join_deadline_ms = 60000, login_timeout_ms = 30000;
static bytes_t nick_prefix, nick_token, login_send;
static bytes_t expects[MAX_EXPECT];
static int n_expects;
static bytes_t reply_prefix[MAX_RULES], reply_answer[MAX_RULES];
static int n_replies;
static bytes_t closing_prefix[MAX_RULES];
static int n_closing;

/* ---- clients ---- */
enum state { NEW, CONNECTING, LOGIN, READY, CLOSED };

typedef struct {
  int fd;
  enum state state;
  unsigned char expect_at;
  unsigned char was_ready;
  int64_t login_started_us;
  long received;
  long notices;
  long expected_at_end;
  char *carry;
  size_t carry_n;
  char *out; /* unsent login bytes or PONGs */
  size_t out_n;
  char *closing_reason;
  bytes_t login;     /* this client's login send */
  bytes_t *expect;   /* this client's expect strings */
} client_t;

static client_t *clients;
static int32_t *last_seq; /* n_clients x senders */
static int epfd;
static long next_to_start, in_flight, ready_count, failed_count, live_count;
static int joined_reported;
static int64_t started_us, joined_us;
static double offset_us;
static double window_end_us = 1e300;
static long sent_total;
static long deliveries, window_deliveries, garbled, out_of_order;
static long long bytes_read;
static reason_t failures[MAX_REASONS], disconnects[MAX_REASONS];
static int n_failures, n_disconnects;
static char readbuf[READ_BYTES];

static int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void out_line(const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
  fwrite(buf, 1, (size_t)n, stdout);
  fflush(stdout);
}

/* Writes a string as a JSON string (ASCII-escaped). */
static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20 || c >= 0x7f) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static void json_reasons(FILE *f, reason_t *list, int n) {
  fputc('{', f);
  for (int i = 0; i < n; i++) {
    if (i) fputc(',', f);
    json_string(f, list[i].name);
    fprintf(f, ":%ld", list[i].count);
  }
  fputc('}', f);
}

static void nick_of(long i, char *buf, size_t size) {
  snprintf(buf, size, "%.*s%ld", (int)nick_prefix.n, nick_prefix.p,
           first_index + i);
}

/* Stops client `c`: `reason` is why (NULL: closed by us, not counted). */
static void stop_client(client_t *c, const char *reason) {
  if (c->state == CLOSED) return;
  enum state was = c->state;
  if (c->fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
  }
  c->state = CLOSED;
  c->expected_at_end = sent_total;
  free(c->carry);
  c->carry = NULL;
  c->carry_n = 0;
  free(c->out);
  c->out = NULL;
  c->out_n = 0;
  if (was == READY) {
    live_count--;
    if (reason != NULL) {
      count_reason(disconnects, &n_disconnects,
                   c->closing_reason ? c->closing_reason : reason);
    }
  } else if (was == CONNECTING || was == LOGIN || was == NEW) {
    in_flight -= (was != NEW);
    failed_count++;
    if (reason != NULL) {
      char why[200];
      snprintf(why, sizeof why, "closed during login: %s",
               c->closing_reason ? c->closing_reason : reason);
      count_reason(failures, &n_failures,
                   strncmp(reason, "login", 5) == 0 ||
                           strncmp(reason, "setup", 5) == 0 ||
                           strncmp(reason, "connect", 7) == 0
                       ? reason
                       : why);
    }
  }
}

static void want_write(client_t *c, int on) {
  struct epoll_event ev;
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
  ev.data.u64 = (uint64_t)(c - clients);
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends what is queued, then `p[0..n)`; queues what the socket refuses. */
static void send_bytes(client_t *c, const char *p, size_t n) {
  if (c->state == CLOSED) return;
  if (c->out_n > 0) {
    c->out = realloc(c->out, c->out_n + n);
    memcpy(c->out + c->out_n, p, n);
    c->out_n += n;
    return;
  }
  while (n > 0) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      char why[160];
      snprintf(why, sizeof why, "write: %s", strerror(errno));
      stop_client(c, why);
      return;
    }
    p += w;
    n -= (size_t)w;
  }
  if (n > 0) {
    c->out = malloc(n);
    memcpy(c->out, p, n);
    c->out_n = n;
    want_write(c, 1);
  }
}

static void flush_out(client_t *c) {
  while (c->out_n > 0) {
    ssize_t w = send(c->fd, c->out, c->out_n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      char why[160];
      snprintf(why, sizeof why, "write: %s", strerror(errno));
      stop_client(c, why);
      return;
    }
    memmove(c->out, c->out + w, c->out_n - (size_t)w);
    c->out_n -= (size_t)w;
  }
  free(c->out);
  c->out = NULL;
  want_write(c, 0);
}

static void became_ready(client_t *c) {
  c->state = READY;
  c->was_ready = 1;
  in_flight--;
  ready_count++;
  live_count++;
}

/* ---- parsing ---- */

/* Digits at p (not past end) into *value; returns the end of them or NULL. */
static const char *digits(const char *p, const char *end, int64_t *value) {
  const char *start = p;
  int64_t v = 0;
  while (p < end && *p >= '0' && *p <= '9') {
    v = v * 10 + (*p - '0');
    p++;
  }
  if (p == start) return NULL;
  *value = v;
  return p;
}

/* The header whose "^" is at p, as bench/protocol.ts parseHeader. */
static int parse_header(const char *p, const char *end, int64_t *sender,
                        int64_t *seq, int64_t *sent_us) {
  if (p + 1 >= end || p[1] != 'b') return 0;
  const char *q = digits(p + 2, end, sender);
  if (!q || q >= end || *q != ',') return 0;
  q = digits(q + 1, end, seq);
  if (!q || q >= end || *q != ',') return 0;
  q = digits(q + 1, end, sent_us);
  if (!q || q >= end || *q != ';') return 0;
  return 1;
}

static int starts_with(const char *p, size_t n, bytes_t prefix) {
  return n >= prefix.n && memcmp(p, prefix.p, prefix.n) == 0;
}

static void control_line(client_t *c, const char *p, size_t n) {
  c->notices++;
  if (c->state == LOGIN && c->expect_at < n_expects) {
    bytes_t want = c->expect[c->expect_at];
    if (want.n == 0 || memmem(p, n, want.p, want.n) != NULL) {
      c->expect_at++;
      if (c->expect_at == n_expects) became_ready(c);
    }
  }
  size_t len = n;
  while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n')) len--;
  for (int i = 0; i < n_replies; i++) {
    if (starts_with(p, len, reply_prefix[i])) {
      size_t rest = len - reply_prefix[i].n;
      size_t total = reply_answer[i].n + rest + 2;
      char *msg = malloc(total);
      memcpy(msg, reply_answer[i].p, reply_answer[i].n);
      memcpy(msg + reply_answer[i].n, p + reply_prefix[i].n, rest);
      memcpy(msg + total - 2, "\r\n", 2);
      send_bytes(c, msg, total);
      free(msg);
      return;
    }
  }
  for (int i = 0; i < n_closing; i++) {
    if (starts_with(p, len, closing_prefix[i])) {
      /* Trimmed as the Deno client's decode().trim() does. */
      size_t start = 0;
      while (start < len && (p[start] == ' ' || p[start] == '\t')) start++;
      while (len > start && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
      size_t keep = len - start > 120 ? 120 : len - start;
      free(c->closing_reason);
      c->closing_reason = strndup(p + start, keep);
      return;
    }
  }
}

/* One whole line p[0..n) received at at_us (driver clock). */
static void handle_line(client_t *c, long index, const char *p, size_t n,
                        double at_us) {
  const char *end = p + n;
  const char *mark = memchr(p, '^', n);
  int found = 0;
  while (mark != NULL) {
    int64_t sender, seq, sent_us;
    if (parse_header(mark, end, &sender, &seq, &sent_us)) {
      found = 1;
      hist_record((int64_t)(at_us - (double)sent_us));
      deliveries++;
      if (at_us <= window_end_us) window_deliveries++;
      c->received++;
      if (sender >= 0 && sender < senders) {
        int32_t *last = &last_seq[index * senders + sender];
        if (seq <= *last) out_of_order++;
        *last = (int32_t)seq;
      }
    } else if (mark + 1 < end && mark[1] == 'b') {
      found = 1;
      garbled++;
    }
    mark = memchr(mark + 1, '^', (size_t)(end - mark - 1));
  }
  if (!found) control_line(c, p, n);
}

static void handle_read(client_t *c, long index) {
  ssize_t got = read(c->fd, readbuf, sizeof readbuf);
  if (got < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    char why[160];
    snprintf(why, sizeof why, "read: %s", strerror(errno));
    stop_client(c, why);
    return;
  }
  if (got == 0) {
    stop_client(c, "closed by server");
    return;
  }
  bytes_read += got;
  double at_us = (double)mono_us() + offset_us;
  const char *p = readbuf, *end = readbuf + got;
  if (c->carry_n > 0) {
    const char *nl = memchr(p, '\n', (size_t)got);
    size_t take = nl ? (size_t)(nl - p) : (size_t)got;
    if (c->carry_n + take > MAX_CARRY) {
      free(c->carry);
      c->carry = NULL;
      c->carry_n = 0;
    } else {
      c->carry = realloc(c->carry, c->carry_n + take);
      memcpy(c->carry + c->carry_n, p, take);
      c->carry_n += take;
    }
    if (nl == NULL) return;
    if (c->carry != NULL) {
      char *line = c->carry;
      size_t n = c->carry_n;
      c->carry = NULL;
      c->carry_n = 0;
      handle_line(c, index, line, n, at_us);
      free(line);
    }
    p = nl + 1;
  }
  while (p < end && c->state != CLOSED) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL) {
      c->carry_n = (size_t)(end - p);
      c->carry = malloc(c->carry_n);
      memcpy(c->carry, p, c->carry_n);
      break;
    }
    handle_line(c, index, p, (size_t)(nl - p), at_us);
    p = nl + 1;
  }
}

/* ---- connecting ---- */
static struct sockaddr_storage addr;
static socklen_t addr_len;

static int resolve(void) {
  struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
  memset(&addr, 0, sizeof addr);
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    addr_len = sizeof *v4;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    addr_len = sizeof *v6;
    return 0;
  }
  return -1;
}

static void begin_login(client_t *c) {
  c->state = LOGIN;
  want_write(c, 0);
  if (c->login.n > 0) send_bytes(c, c->login.p, c->login.n);
  if (c->state == LOGIN && n_expects == 0) became_ready(c);
}

static void start_one(long i) {
  client_t *c = &clients[i];
  char nick[128];
  nick_of(i, nick, sizeof nick);
  c->login = substitute(login_send, nick_token, nick);
  c->expect = calloc((size_t)n_expects + 1, sizeof(bytes_t));
  for (int k = 0; k < n_expects; k++) {
    c->expect[k] = substitute(expects[k], nick_token, nick);
  }
  c->login_started_us = mono_us();
  in_flight++;
  c->state = CONNECTING;
  c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 0);
  if (c->fd < 0) {
    char why[160];
    snprintf(why, sizeof why, "connect: %s", strerror(errno));
    stop_client(c, why);
    return;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct epoll_event ev;
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u64 = (uint64_t)i;
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
  if (connect(c->fd, (struct sockaddr *)&addr, addr_len) == 0) {
    begin_login(c);
  } else if (errno != EINPROGRESS) {
    char why[160];
    snprintf(why, sizeof why, "connect: %s", strerror(errno));
    stop_client(c, why);
  }
}

static void report_joined(void) {
  joined_reported = 1;
  joined_us = mono_us();
  FILE *f = stdout;
  fprintf(f, "{\"type\":\"joined\",\"joined\":%ld,\"failed\":%ld,"
             "\"seconds\":%.6f,\"failures\":",
          ready_count, failed_count, (joined_us - started_us) / 1e6);
  json_reasons(f, failures, n_failures);
  fputs("}\n", f);
  fflush(f);
}

/* Starts clients up to the concurrency, fails late ones; reports once done. */
static void pace_logins(int64_t now) {
  if (started_us == 0 || joined_reported) return;
  int64_t deadline = started_us + join_deadline_ms * 1000;
  if (now > deadline) {
    for (long i = 0; i < n_clients; i++) {
      client_t *c = &clients[i];
      if (c->state == NEW) {
        c->state = CLOSED;
        failed_count++;
        count_reason(failures, &n_failures, "setup deadline passed");
      } else if (c->state == CONNECTING || c->state == LOGIN) {
        stop_client(c, "login not confirmed by the join deadline");
      }
    }
    next_to_start = n_clients;
  }
  for (long i = 0; i < n_clients; i++) {
    client_t *c = &clients[i];
    if ((c->state == CONNECTING || c->state == LOGIN) &&
        now - c->login_started_us > login_timeout_ms * 1000) {
      char why[120];
      snprintf(why, sizeof why, "login not confirmed within %ld ms",
               login_timeout_ms);
      stop_client(c, why);
    }
  }
  while (next_to_start < n_clients && in_flight < concurrency) {
    start_one(next_to_start++);
  }
  if (next_to_start >= n_clients && in_flight == 0) report_joined();
}

/* ---- the report ---- */
static double cpu_seconds(struct timeval tv) {
  return tv.tv_sec + tv.tv_usec / 1e6;
}

/* This process's peak RSS in KiB (VmHWM; getrusage's carries the parent's
 * peak over exec). */
static long peak_rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL) return -1;
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmHWM:", 6) == 0) kib = atol(line + 6);
  }
  fclose(f);
  return kib;
}

static void report(long sent) {
  long long expected = 0, received_capped = 0;
  double min_ratio = -1;
  long notices_total = 0, notices_max = 0, readers = 0;
  for (long i = 0; i < n_clients; i++) {
    client_t *c = &clients[i];
    if (!c->was_ready) continue;
    readers++;
    long want = c->state == CLOSED ? c->expected_at_end : sent;
    expected += want;
    received_capped += c->received < want ? c->received : want;
    if (want > 0) {
      double r = (double)c->received / (double)want;
      if (min_ratio < 0 || r < min_ratio) min_ratio = r;
    }
    notices_total += c->notices;
    if (c->notices > notices_max) notices_max = c->notices;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  FILE *f = stdout;
  fprintf(f,
          "{\"type\":\"report\",\"readers\":%ld,\"live\":%ld,"
          "\"deliveries\":%ld,\"windowDeliveries\":%ld,\"expected\":%lld,"
          "\"receivedCapped\":%lld,\"minRatio\":",
          readers, live_count, deliveries, window_deliveries, expected,
          received_capped);
  if (min_ratio < 0) fputs("null", f);
  else fprintf(f, "%.9g", min_ratio);
  fprintf(f,
          ",\"garbled\":%ld,\"outOfOrder\":%ld,\"noticeLinesTotal\":%ld,"
          "\"noticeLinesMax\":%ld,\"bytesRead\":%lld,\"cpuUserS\":%.6f,"
          "\"cpuSystemS\":%.6f,\"maxRssKiB\":%ld,\"disconnectReasons\":",
          garbled, out_of_order, notices_total, notices_max, bytes_read,
          cpu_seconds(ru.ru_utime), cpu_seconds(ru.ru_stime), peak_rss_kib());
  json_reasons(f, disconnects, n_disconnects);
  fprintf(f,
          ",\"latency\":{\"count\":%.0f,\"sum\":%.0f,\"max\":%" PRId64
          ",\"min\":%" PRId64 ",\"buckets\":[",
          hist_count, hist_sum, hist_max, hist_min < 0 ? 0 : hist_min);
  int first = 1;
  for (int i = 0; i < BUCKETS; i++) {
    if (hist_counts[i] == 0) continue;
    fprintf(f, "%s[%d,%.0f]", first ? "" : ",", i, hist_counts[i]);
    first = 0;
  }
  fputs("]}}\n", f);
  fflush(f);
}

static void close_all(void) {
  for (long i = 0; i < n_clients; i++) {
    if (clients[i].fd >= 0) close(clients[i].fd);
  }
}

/* ---- commands ---- */
static char cmdbuf[1 << 16];
static size_t cmd_n;

static void allocate(void) {
  clients = calloc((size_t)n_clients + 1, sizeof(client_t));
  for (long i = 0; i < n_clients; i++) clients[i].fd = -1;
  last_seq = calloc((size_t)(n_clients * (senders > 0 ? senders : 1)) + 1,
                    sizeof(int32_t));
}

/* Handles one command; returns 1 when the reader should exit. */
static int command(char *line) {
  char *words[8] = {0};
  int n = 0;
  for (char *save = NULL, *w = strtok_r(line, " ", &save); w && n < 8;
       w = strtok_r(NULL, " ", &save)) {
    words[n++] = w;
  }
  if (n == 0) return 0;
  const char *cmd = words[0];
  if (strcmp(cmd, "clock") == 0) {
    out_line("clock %" PRId64 "\n", mono_us());
  } else if (strcmp(cmd, "offset") == 0 && n >= 2) {
    offset_us = strtod(words[1], NULL);
  } else if (strcmp(cmd, "target") == 0 && n >= 3) {
    snprintf(host, sizeof host, "%s", words[1]);
    port = atoi(words[2]);
  } else if (strcmp(cmd, "clients") == 0 && n >= 7) {
    n_clients = atol(words[1]);
    first_index = atol(words[2]);
    concurrency = atol(words[3]);
    if (concurrency < 1) concurrency = 1;
    join_deadline_ms = atol(words[4]);
    login_timeout_ms = atol(words[5]);
    senders = atol(words[6]);
  } else if (strcmp(cmd, "nick") == 0 && n >= 3) {
    nick_prefix = unhex(words[1]);
    nick_token = unhex(words[2]);
  } else if (strcmp(cmd, "send") == 0 && n >= 2) {
    login_send = unhex(words[1]);
  } else if (strcmp(cmd, "expect") == 0 && n >= 2 && n_expects < MAX_EXPECT) {
    expects[n_expects++] = unhex(words[1]);
  } else if (strcmp(cmd, "reply") == 0 && n >= 3 && n_replies < MAX_RULES) {
    reply_prefix[n_replies] = unhex(words[1]);
    reply_answer[n_replies++] = unhex(words[2]);
  } else if (strcmp(cmd, "closing") == 0 && n >= 2 && n_closing < MAX_RULES) {
    closing_prefix[n_closing++] = unhex(words[1]);
  } else if (strcmp(cmd, "start") == 0) {
    if (started_us != 0) return 0;
    if (resolve() != 0) {
      fprintf(stderr, "reader: not an address: %s\n", host);
      return 1;
    }
    allocate();
    started_us = mono_us();
    pace_logins(started_us);
  } else if (strcmp(cmd, "window-end") == 0 && n >= 2) {
    window_end_us = strtod(words[1], NULL);
  } else if (strcmp(cmd, "sent") == 0 && n >= 2) {
    sent_total = atol(words[1]);
  } else if (strcmp(cmd, "behind") == 0 && n >= 2) {
    long want = atol(words[1]);
    sent_total = want > sent_total ? want : sent_total;
    long behind = 0;
    for (long i = 0; i < n_clients; i++) {
      if (clients[i].state == READY && clients[i].received < want) behind++;
    }
    out_line("{\"type\":\"behind\",\"behind\":%ld,\"live\":%ld}\n", behind,
             live_count);
  } else if (strcmp(cmd, "report") == 0 && n >= 2) {
    long sent = atol(words[1]);
    if (sent > sent_total) sent_total = sent;
    report(sent);
    return 1;
  } else {
    fprintf(stderr, "reader: unknown command: %s\n", cmd);
  }
  return 0;
}

/* Reads what stdin has; returns 1 at its end or on "report". */
static int read_commands(void) {
  for (;;) {
    ssize_t got = read(0, cmdbuf + cmd_n, sizeof cmdbuf - cmd_n - 1);
    if (got < 0) return errno == EAGAIN || errno == EINTR ? 0 : 1;
    if (got == 0) return 1;
    cmd_n += (size_t)got;
    char *start = cmdbuf, *nl;
    while ((nl = memchr(start, '\n', cmd_n - (size_t)(start - cmdbuf)))) {
      *nl = 0;
      if (command(start)) return 1;
      start = nl + 1;
    }
    cmd_n -= (size_t)(start - cmdbuf);
    memmove(cmdbuf, start, cmd_n);
    if (cmd_n >= sizeof cmdbuf - 1) cmd_n = 0; /* a line too long: dropped */
  }
}

int main(int argc, char **argv) {
  double hard_s = argc > 1 ? strtod(argv[1], NULL) : 900;
  int64_t hard_deadline = mono_us() + (int64_t)(hard_s * 1e6);
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev;
  ev.events = EPOLLIN;
  ev.data.u64 = UINT64_MAX;
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
  struct epoll_event events[1024];
  int done = 0;
  while (!done) {
    int64_t now = mono_us();
    if (now > hard_deadline) {
      fprintf(stderr, "reader: hard deadline of %.0f s passed\n", hard_s);
      break;
    }
    int timeout = started_us != 0 && !joined_reported ? 5 : 50;
    int got = epoll_wait(epfd, events, 1024, timeout);
    if (got < 0 && errno != EINTR) break;
    for (int k = 0; k < got && !done; k++) {
      uint64_t id = events[k].data.u64;
      if (id == UINT64_MAX) {
        if (read_commands()) done = 1;
        continue;
      }
      client_t *c = &clients[id];
      if (c->state == CLOSED) continue;
      uint32_t e = events[k].events;
      if (c->state == CONNECTING) {
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0) {
            char why[160];
            snprintf(why, sizeof why, "connect: %s", strerror(err));
            stop_client(c, why);
          } else {
            begin_login(c);
          }
        }
        continue;
      }
      if ((e & EPOLLOUT) && c->out_n > 0) flush_out(c);
      if (c->state != CLOSED && (e & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
        handle_read(c, (long)id);
      }
    }
    if (!joined_reported) pace_logins(mono_us());
  }
  if (clients) close_all();
  return 0;
}
