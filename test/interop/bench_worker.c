/*
 * bench_worker: the libgearman echo worker of `npm run bench` (the "C libgearman" column).
 *
 * Build:  gcc -O2 -pthread -o test/interop/bin/bench_worker test/interop/bench_worker.c -lgearman
 *         (test/support/build-interop.ts does this when the source is newer than the binary)
 *
 * Usage:  bench_worker [-h HOST] [-p PORT] [-f FN] [-c CONNECTIONS]
 *
 *   -h HOST         gearmand host (default 127.0.0.1)
 *   -p PORT         gearmand port (default 4730)
 *   -f FN           function name (default "bench_echo")
 *   -c CONNECTIONS  worker connections, one thread and one gearman_worker_st each (default 4)
 *
 * Each thread defines FN with gearman_worker_define_function() (a V2 function that completes
 * with its workload) and loops on gearman_worker_work() until the process is killed (SIGTERM).
 * Registration is lazy in libgearman, so wait until gearmand's admin `status` shows
 * CONNECTIONS workers for FN before timing anything. Errors go to stderr; the thread backs off
 * 10 ms after a failed work() call and goes on.
 */
#include <libgearman-1.0/gearman.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *host = "127.0.0.1", *fn = "bench_echo";
static in_port_t port = 4730;

static gearman_return_t echo(gearman_job_st *job, void *context) {
  (void)context;
  return gearman_job_send_complete(job, gearman_job_workload(job), gearman_job_workload_size(job));
}

static void *serve(void *arg) {
  (void)arg;
  gearman_worker_st *worker = gearman_worker_create(NULL);
  if (!worker || !gearman_success(gearman_worker_add_server(worker, host, port)) ||
      !gearman_success(gearman_worker_define_function(worker, fn, strlen(fn), gearman_function_create(echo), 0, NULL))) {
    fprintf(stderr, "bench_worker: cannot set up a worker\n");
    exit(1);
  }
  for (;;) {
    gearman_return_t rc = gearman_worker_work(worker);
    if (!gearman_success(rc)) {
      fprintf(stderr, "bench_worker: %s\n", gearman_worker_error(worker));
      usleep(10000);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  int connections = 4, opt;
  while ((opt = getopt(argc, argv, "h:p:f:c:")) != -1) {
    switch (opt) {
      case 'h': host = optarg; break;
      case 'p': port = (in_port_t)atoi(optarg); break;
      case 'f': fn = optarg; break;
      case 'c': connections = atoi(optarg); break;
      default:
        fprintf(stderr, "usage: bench_worker [-h HOST] [-p PORT] [-f FN] [-c CONNECTIONS]\n");
        return 2;
    }
  }
  if (connections < 1) {
    fprintf(stderr, "bench_worker: -c must be positive\n");
    return 2;
  }
  pthread_t *threads = calloc((size_t)connections, sizeof(pthread_t));
  if (!threads) return 1;
  for (int i = 0; i < connections; i++) {
    if (pthread_create(&threads[i], NULL, serve, NULL) != 0) {
      fprintf(stderr, "bench_worker: pthread_create failed\n");
      return 1;
    }
  }
  for (int i = 0; i < connections; i++) pthread_join(threads[i], NULL);
  return 0;
}
