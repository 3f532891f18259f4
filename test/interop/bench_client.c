/*
 * bench_client: the libgearman side of `npm run bench` (the "C libgearman" column).
 *
 * Build:  gcc -O2 -o test/interop/bin/bench_client test/interop/bench_client.c -lgearman
 *         (test/support/build-interop.ts does this when the source is newer than the binary)
 *
 * Usage:  bench_client [-h HOST] [-p PORT] [-f FN] [-n JOBS] [-k INFLIGHT] [-s SIZE] [-l]
 *
 *   -h HOST      gearmand host (default 127.0.0.1)
 *   -p PORT      gearmand port (default 4730)
 *   -f FN        function to call; it must echo its workload (default "bench_echo")
 *   -n JOBS      jobs to run (default 20000)
 *   -k INFLIGHT  throughput mode: jobs in flight at once (default 100)
 *   -s SIZE      workload bytes (default 100)
 *   -l           latency mode: one job in flight (gearman_client_do), timing each one
 *
 * Throughput mode adds INFLIGHT tasks with gearman_client_add_task() and runs them with
 * gearman_client_run_tasks(), batch after batch, on one connection. Every result is checked
 * against the workload.
 *
 * Output: one JSON line on stdout,
 *   {"mode":"throughput","jobs":N,"inflight":K,"size":S,"seconds":T,"jobs_per_s":R}
 *   {"mode":"latency","jobs":N,"size":S,"seconds":T,"p50_us":A,"p99_us":B}
 * Exit status: 0 when every job echoed its workload, 1 otherwise (the failure goes to stderr),
 * 2 on bad usage.
 */
#include <libgearman-1.0/gearman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t expected_size;
static long completed, failed;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static gearman_return_t on_complete(gearman_task_st *task) {
  if (gearman_task_data_size(task) == expected_size) completed++;
  else failed++;
  return GEARMAN_SUCCESS;
}

static gearman_return_t on_fail(gearman_task_st *task) {
  (void)task;
  failed++;
  return GEARMAN_SUCCESS;
}

static int compare_us(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *fn = "bench_echo";
  in_port_t port = 4730;
  long jobs = 20000, inflight = 100, size = 100;
  int latency = 0, opt;
  while ((opt = getopt(argc, argv, "h:p:f:n:k:s:l")) != -1) {
    switch (opt) {
      case 'h': host = optarg; break;
      case 'p': port = (in_port_t)atoi(optarg); break;
      case 'f': fn = optarg; break;
      case 'n': jobs = atol(optarg); break;
      case 'k': inflight = atol(optarg); break;
      case 's': size = atol(optarg); break;
      case 'l': latency = 1; break;
      default:
        fprintf(stderr, "usage: bench_client [-h HOST] [-p PORT] [-f FN] [-n JOBS] [-k INFLIGHT] [-s SIZE] [-l]\n");
        return 2;
    }
  }
  if (jobs < 1 || inflight < 1 || size < 1) {
    fprintf(stderr, "bench_client: -n, -k and -s must be positive\n");
    return 2;
  }
  char *payload = malloc((size_t)size);
  if (!payload) return 1;
  for (long i = 0; i < size; i++) payload[i] = (char)('a' + i % 26);
  expected_size = (size_t)size;

  gearman_client_st *client = gearman_client_create(NULL);
  if (!client || !gearman_success(gearman_client_add_server(client, host, port))) {
    fprintf(stderr, "bench_client: cannot set up the client\n");
    return 1;
  }
  gearman_client_set_timeout(client, 60000);

  if (latency) {
    double *us = malloc(sizeof(double) * (size_t)jobs);
    if (!us) return 1;
    double start = now();
    for (long i = 0; i < jobs; i++) {
      gearman_return_t rc;
      size_t got = 0;
      double t0 = now();
      void *result = gearman_client_do(client, fn, NULL, payload, (size_t)size, &got, &rc);
      us[i] = (now() - t0) * 1e6;
      free(result);
      if (!gearman_success(rc) || got != (size_t)size) {
        fprintf(stderr, "bench_client: job %ld: %s (%zu bytes back)\n", i, gearman_strerror(rc), got);
        return 1;
      }
    }
    double seconds = now() - start;
    qsort(us, (size_t)jobs, sizeof(double), compare_us);
    printf("{\"mode\":\"latency\",\"jobs\":%ld,\"size\":%ld,\"seconds\":%.3f,\"p50_us\":%.0f,\"p99_us\":%.0f}\n",
           jobs, size, seconds, us[(jobs - 1) / 2], us[(long)((double)(jobs - 1) * 0.99)]);
    free(us);
  } else {
    gearman_client_add_options(client, GEARMAN_CLIENT_FREE_TASKS);
    gearman_client_set_complete_fn(client, on_complete);
    gearman_client_set_fail_fn(client, on_fail);
    double start = now();
    for (long done = 0; done < jobs;) {
      long batch = jobs - done < inflight ? jobs - done : inflight;
      for (long i = 0; i < batch; i++) {
        gearman_return_t rc;
        if (!gearman_client_add_task(client, NULL, NULL, fn, NULL, payload, (size_t)size, &rc)) {
          fprintf(stderr, "bench_client: add_task: %s\n", gearman_client_error(client));
          return 1;
        }
      }
      gearman_return_t rc = gearman_client_run_tasks(client);
      if (!gearman_success(rc)) {
        fprintf(stderr, "bench_client: run_tasks: %s\n", gearman_client_error(client));
        return 1;
      }
      done += batch;
    }
    double seconds = now() - start;
    if (failed > 0 || completed != jobs) {
      fprintf(stderr, "bench_client: %ld of %ld jobs failed or echoed the wrong size\n", jobs - completed, jobs);
      return 1;
    }
    printf("{\"mode\":\"throughput\",\"jobs\":%ld,\"inflight\":%ld,\"size\":%ld,\"seconds\":%.3f,\"jobs_per_s\":%.0f}\n",
           jobs, inflight, size, seconds, (double)jobs / seconds);
  }
  gearman_client_free(client);
  free(payload);
  return 0;
}
