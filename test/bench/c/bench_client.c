/*
 * bench_client: a libgearman client for `npm run bench`; prints one JSON line.
 * Build: gcc -O2 -o bench_client bench_client.c -lgearman   (test/bench/lib.mjs does it)
 * Usage: bench_client -p PORT -m MODE [-n JOBS] [-i IN_FLIGHT] [-s SIZE] [-T SECONDS] [-f NAME] [-w WARMUP]
 *   -w WARMUP   throughput: WARMUP jobs first, reported apart as "warmup"; latency: WARMUP untimed jobs first
 *   throughput  gearman_client_add_task + gearman_client_run_tasks, a sliding window of
 *               IN_FLIGHT tasks (each completion adds the next task from the complete callback)
 *   latency     gearman_client_do, one job at a time; p50 / p99 in microseconds
 *   bg          JOBS x gearman_client_add_task_background, then one gearman_client_run_tasks
 *               (returns when every JOB_CREATED arrived)
 *   big         one gearman_client_do of SIZE bytes; checks the echo is intact
 */
#include <libgearman-1.0/gearman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static gearman_client_st *client;
static const char *fname = "echo";
static char *payload;
static size_t size = 100;
static long total = 20000, issued = 0, done = 0, bad = 0;
static double deadline;

static int add_one(void) {
  gearman_return_t ret;
  gearman_task_st *t = gearman_client_add_task(client, NULL, NULL, fname, NULL, payload, size, &ret);
  if (!t || ret != GEARMAN_SUCCESS) { fprintf(stderr, "add_task: %s\n", gearman_client_error(client)); return -1; }
  issued++;
  return 0;
}

static gearman_return_t on_complete(gearman_task_st *task) {
  done++;
  if (gearman_task_data_size(task) != size || memcmp(gearman_task_data(task), payload, size) != 0) bad++;
  if (issued < total && now() < deadline) add_one();
  return GEARMAN_SUCCESS;
}

static gearman_return_t on_fail(gearman_task_st *task) {
  (void)task;
  bad++;
  done++;
  if (issued < total && now() < deadline) add_one();
  return GEARMAN_SUCCESS;
}

static long created = 0;
static gearman_return_t on_created(gearman_task_st *task) {
  (void)task;
  created++;
  return GEARMAN_SUCCESS;
}

static double cpu_self(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *mode = "throughput";
  in_port_t port = 4730;
  long inflight = 100, warmup = 0;
  double seconds = 60;
  int c;
  while ((c = getopt(argc, argv, "h:p:m:n:i:s:T:f:w:")) != -1) {
    switch (c) {
      case 'h': host = optarg; break;
      case 'p': port = (in_port_t)atoi(optarg); break;
      case 'm': mode = optarg; break;
      case 'n': total = atol(optarg); break;
      case 'i': inflight = atol(optarg); break;
      case 's': size = (size_t)atol(optarg); break;
      case 'T': seconds = atof(optarg); break;
      case 'f': fname = optarg; break;
      case 'w': warmup = atol(optarg); break;
      default: return 2;
    }
  }
  payload = malloc(size ? size : 1);
  for (size_t i = 0; i < size; i++) payload[i] = (char)('a' + (i * 7 + i / 251) % 26);
  client = gearman_client_create(NULL);
  if (gearman_client_add_server(client, host, port) != GEARMAN_SUCCESS) { fprintf(stderr, "add_server failed\n"); return 1; }
  gearman_client_add_options(client, GEARMAN_CLIENT_FREE_TASKS);
  gearman_client_set_timeout(client, (int)(seconds * 1000));
  double t0 = now();
  deadline = t0 + seconds;

  if (strcmp(mode, "throughput") == 0) {
    gearman_client_set_complete_fn(client, on_complete);
    gearman_client_set_fail_fn(client, on_fail);
    char cold[256] = "null";
    if (warmup > 0) {
      /* The same sliding window for WARMUP jobs, measured apart; then the counters start again. */
      long want = total;
      total = warmup;
      double c0 = cpu_self(), w0 = now();
      for (long i = 0; i < inflight && i < total; i++) if (add_one()) return 1;
      gearman_return_t wret = gearman_client_run_tasks(client);
      double wel = now() - w0;
      snprintf(cold, sizeof cold, "{\"jobs\":%ld,\"seconds\":%.6f,\"rate\":%.1f,\"clientCpu\":%.3f,\"ok\":%s}", done, wel, done / wel,
               cpu_self() - c0, wret == GEARMAN_SUCCESS ? "true" : "false");
      total = want;
      issued = done = bad = 0;
    }
    double c0 = cpu_self(), m0 = now();
    for (long i = 0; i < inflight && i < total; i++) if (add_one()) return 1;
    gearman_return_t ret = gearman_client_run_tasks(client);
    double el = now() - m0;
    printf("{\"mode\":\"throughput\",\"jobs\":%ld,\"requested\":%ld,\"bounded\":%s,\"bad\":%ld,\"seconds\":%.6f,\"rate\":%.1f,\"clientCpu\":%.3f,\"ok\":%s,\"ret\":\"%s\",\"warmup\":%s}\n",
           done, total, done < total ? "true" : "false", bad, el, done / el, cpu_self() - c0, ret == GEARMAN_SUCCESS ? "true" : "false", gearman_strerror(ret), cold);
  } else if (strcmp(mode, "latency") == 0) {
    double *lat = malloc(sizeof(double) * (size_t)total);
    long n = 0;
    for (long i = 0; i < warmup && now() < deadline; i++) {
      size_t rsize;
      gearman_return_t ret;
      free(gearman_client_do(client, fname, NULL, payload, size, &rsize, &ret));
    }
    for (long i = 0; i < total && now() < deadline; i++) {
      size_t rsize;
      gearman_return_t ret;
      double s = now();
      void *r = gearman_client_do(client, fname, NULL, payload, size, &rsize, &ret);
      lat[n++] = (now() - s) * 1e6;
      if (ret != GEARMAN_SUCCESS || rsize != size) bad++;
      free(r);
    }
    qsort(lat, (size_t)n, sizeof(double), cmp);
    printf("{\"mode\":\"latency\",\"jobs\":%ld,\"requested\":%ld,\"bad\":%ld,\"p50\":%.1f,\"p99\":%.1f}\n", n, total, bad,
           n ? lat[n / 2] : 0.0, n ? lat[(long)(n * 0.99)] : 0.0);
  } else if (strcmp(mode, "bg") == 0) {
    gearman_client_set_created_fn(client, on_created);
    for (long i = 0; i < total; i++) {
      gearman_return_t ret;
      if (!gearman_client_add_task_background(client, NULL, NULL, fname, NULL, payload, size, &ret)) return 1;
    }
    gearman_return_t ret = gearman_client_run_tasks(client);
    double el = now() - t0;
    printf("{\"mode\":\"bg\",\"jobs\":%ld,\"requested\":%ld,\"bounded\":%s,\"seconds\":%.6f,\"rate\":%.1f,\"ok\":%s,\"ret\":\"%s\"}\n",
           created, total, created < total ? "true" : "false", el, created / el, ret == GEARMAN_SUCCESS && created == total ? "true" : "false", gearman_strerror(ret));
  } else if (strcmp(mode, "big") == 0) {
    size_t rsize = 0;
    gearman_return_t ret;
    void *r = gearman_client_do(client, fname, NULL, payload, size, &rsize, &ret);
    double el = now() - t0;
    int intact = ret == GEARMAN_SUCCESS && r && rsize == size && memcmp(r, payload, size) == 0;
    printf("{\"mode\":\"big\",\"seconds\":%.6f,\"intact\":%s,\"bytes\":%zu,\"ret\":\"%s\"}\n", el, intact ? "true" : "false",
           rsize, gearman_strerror(ret));
    free(r);
  } else {
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
  }
  gearman_client_free(client);
  return 0;
}
