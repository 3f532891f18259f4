/*
 * bench_worker: a libgearman worker for `npm run bench`: T threads, one gearman_worker_st (one
 * connection) each, gearman_worker_define_function(echo) + gearman_worker_work() until killed.
 * Build: gcc -O2 -pthread -o bench_worker bench_worker.c -lgearman   (test/bench/lib.mjs does it)
 * Usage: bench_worker -p PORT [-h HOST] [-t THREADS] [-f NAME]
 */
#include <libgearman-1.0/gearman.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *host = "127.0.0.1";
static in_port_t port = 4730;
static const char *fname = "echo";

static gearman_return_t echo_fn(gearman_job_st *job, void *context) {
  (void)context;
  return gearman_job_send_complete(job, gearman_job_workload(job), gearman_job_workload_size(job));
}

static void *run(void *arg) {
  (void)arg;
  gearman_worker_st *w = gearman_worker_create(NULL);
  if (!w) { fprintf(stderr, "gearman_worker_create failed\n"); exit(1); }
  if (gearman_worker_add_server(w, host, port) != GEARMAN_SUCCESS) { fprintf(stderr, "add_server: %s\n", gearman_worker_error(w)); exit(1); }
  gearman_function_t fn = gearman_function_create(echo_fn);
  if (gearman_worker_define_function(w, fname, strlen(fname), fn, 0, NULL) != GEARMAN_SUCCESS) {
    fprintf(stderr, "define_function: %s\n", gearman_worker_error(w)); exit(1);
  }
  for (;;) {
    gearman_return_t ret = gearman_worker_work(w);
    if (ret != GEARMAN_SUCCESS && ret != GEARMAN_IO_WAIT && ret != GEARMAN_NO_JOBS) {
      fprintf(stderr, "work: %s\n", gearman_strerror(ret));
      usleep(10000);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  int threads = 4, c;
  while ((c = getopt(argc, argv, "h:p:t:f:")) != -1) {
    switch (c) {
      case 'h': host = optarg; break;
      case 'p': port = (in_port_t)atoi(optarg); break;
      case 't': threads = atoi(optarg); break;
      case 'f': fname = optarg; break;
      default: fprintf(stderr, "usage: bench_worker -p PORT [-h HOST] [-t THREADS] [-f NAME]\n"); return 2;
    }
  }
  pthread_t tid[64];
  if (threads < 1 || threads > 64) return 2;
  for (int i = 0; i < threads; i++) pthread_create(&tid[i], NULL, run, NULL);
  printf("READY\n");
  fflush(stdout);
  for (int i = 0; i < threads; i++) pthread_join(tid[i], NULL);
  return 0;
}
