/*
 * interop_worker: a libgearman 1.1.20 worker for the SDK's interop tests.
 *
 * Build:  gcc -O2 -o test/interop/bin/interop_worker test/interop/interop_worker.c -lgearman
 *         (test/support/build-interop.ts does this when the source is newer than the binary)
 *
 * Usage:  interop_worker [-h HOST] [-p PORT] [-c COUNT] -f NAME[=KIND] [-f NAME[=KIND] ...]
 *
 *   -h HOST   gearmand host (default 127.0.0.1)
 *   -p PORT   gearmand port (default 4730)
 *   -c COUNT  exit after COUNT gearman_worker_work() calls (default: run until killed)
 *   -f NAME[=KIND]
 *             register NAME with gearman_worker_define_function(); KIND picks the behaviour and
 *             defaults to NAME, so `-f split` and `-f t1_split=split` both register a mapper.
 *
 * Kinds:
 *   echo    V2: gearman_job_send_complete(workload).
 *   upper   V2 (a reducer): "fail" -> returns GEARMAN_FAIL; otherwise completes with the
 *           upper-cased workload followed by ".".
 *   split   gearman_function_create_partition(split, cat_aggregator): one gearman_job_send_data()
 *           per space-separated word of the workload; the word "MAPFAIL" makes it return
 *           GEARMAN_FAIL. The aggregator concatenates the reducer results in the order
 *           libgearman hands them over (reverse send order).
 *   ret     V2, the workload is a command naming the return code to exercise:
 *             SUCCESS[:TEXT]  send_complete(TEXT, default "ok"), return GEARMAN_SUCCESS
 *             EMPTY           return GEARMAN_SUCCESS without sending (empty WORK_COMPLETE)
 *             DATA            send_data("d1"), then send_complete("done")
 *             WARN            send_warning("careful"), send_status(1, 2), send_complete("warned")
 *             FAIL            return GEARMAN_FAIL (WORK_FAIL)
 *             ERROR           return GEARMAN_ERROR every time (disconnect, gearmand requeues)
 *             ERROR_ONCE      GEARMAN_ERROR on the first attempt of a job handle, then
 *                             send_complete("attempt=N")
 *             EXCEPTION       gearman_job_send_exception("c exception"), return GEARMAN_SUCCESS
 *
 * Stderr gets one line per gearman_worker_work() call: "work: <gearman_strerror(ret)>".
 * Exit status: 0 after COUNT calls, 1 after 100 consecutive connection errors, 2 on bad usage.
 */
#include <libgearman-1.0/gearman.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Attempts per job handle, for ERROR_ONCE (libgearman reconnects, so the process keeps this). */
#define MAX_SEEN 256
static char seen_handle[MAX_SEEN][GEARMAN_JOB_HANDLE_SIZE];
static int seen_count[MAX_SEEN];
static int seen_used = 0;

static int attempt_of(const char *handle) {
  for (int i = 0; i < seen_used; i++) {
    if (strcmp(seen_handle[i], handle) == 0) return ++seen_count[i];
  }
  int i = seen_used < MAX_SEEN ? seen_used++ : MAX_SEEN - 1;
  snprintf(seen_handle[i], sizeof seen_handle[i], "%s", handle);
  seen_count[i] = 1;
  return 1;
}

static int workload_is(gearman_job_st *job, const char *cmd) {
  size_t n = strlen(cmd);
  return gearman_job_workload_size(job) == n && memcmp(gearman_job_workload(job), cmd, n) == 0;
}

static int workload_starts(gearman_job_st *job, const char *prefix) {
  size_t n = strlen(prefix);
  return gearman_job_workload_size(job) >= n && memcmp(gearman_job_workload(job), prefix, n) == 0;
}

static gearman_return_t send_text(gearman_job_st *job, const char *text) {
  return gearman_job_send_complete(job, text, strlen(text));
}

static gearman_return_t echo_fn(gearman_job_st *job, void *context) {
  (void)context;
  return gearman_job_send_complete(job, gearman_job_workload(job), gearman_job_workload_size(job));
}

static gearman_return_t upper_fn(gearman_job_st *job, void *context) {
  (void)context;
  if (workload_is(job, "fail")) return GEARMAN_FAIL;
  size_t n = gearman_job_workload_size(job);
  const char *in = gearman_job_workload(job);
  char *out = malloc(n + 1);
  if (!out) return GEARMAN_FAIL;
  for (size_t i = 0; i < n; i++) out[i] = (char)toupper((unsigned char)in[i]);
  out[n] = '.';
  gearman_return_t rc = gearman_job_send_complete(job, out, n + 1);
  free(out);
  return gearman_success(rc) ? GEARMAN_SUCCESS : rc;
}

static gearman_return_t split_fn(gearman_job_st *job, void *context) {
  (void)context;
  const char *p = gearman_job_workload(job);
  const char *end = p + gearman_job_workload_size(job);
  while (p < end) {
    while (p < end && *p == ' ') p++;
    const char *word = p;
    while (p < end && *p != ' ') p++;
    if (p == word) break;
    if ((size_t)(p - word) == 7 && memcmp(word, "MAPFAIL", 7) == 0) return GEARMAN_FAIL;
    gearman_return_t rc = gearman_job_send_data(job, word, (size_t)(p - word));
    if (!gearman_success(rc)) return rc;
  }
  return GEARMAN_SUCCESS;
}

static gearman_return_t cat_aggregator(gearman_aggregator_st *agg, gearman_task_st *first, gearman_result_st *out) {
  (void)agg;
  size_t cap = 256, len = 0;
  char *buf = malloc(cap);
  if (!buf) return GEARMAN_MEMORY_ALLOCATION_FAILURE;
  for (gearman_task_st *t = first; t; t = gearman_next(t)) {
    gearman_result_st *r = gearman_task_result(t);
    if (!r) continue;
    size_t n = gearman_result_size(r);
    while (len + n > cap) {
      cap *= 2;
      char *grown = realloc(buf, cap);
      if (!grown) {
        free(buf);
        return GEARMAN_MEMORY_ALLOCATION_FAILURE;
      }
      buf = grown;
    }
    memcpy(buf + len, gearman_result_value(r), n);
    len += n;
  }
  gearman_result_store_value(out, buf, len);
  free(buf);
  return GEARMAN_SUCCESS;
}

static gearman_return_t ret_fn(gearman_job_st *job, void *context) {
  (void)context;
  if (workload_is(job, "EMPTY")) return GEARMAN_SUCCESS;
  if (workload_is(job, "SUCCESS")) {
    send_text(job, "ok");
    return GEARMAN_SUCCESS;
  }
  if (workload_starts(job, "SUCCESS:")) {
    gearman_job_send_complete(job, (const char *)gearman_job_workload(job) + 8, gearman_job_workload_size(job) - 8);
    return GEARMAN_SUCCESS;
  }
  if (workload_is(job, "DATA")) {
    gearman_job_send_data(job, "d1", 2);
    send_text(job, "done");
    return GEARMAN_SUCCESS;
  }
  if (workload_is(job, "WARN")) {
    gearman_job_send_warning(job, "careful", 7);
    gearman_job_send_status(job, 1, 2);
    send_text(job, "warned");
    return GEARMAN_SUCCESS;
  }
  if (workload_is(job, "FAIL")) return GEARMAN_FAIL;
  if (workload_is(job, "ERROR")) return GEARMAN_ERROR;
  if (workload_is(job, "ERROR_ONCE")) {
    int n = attempt_of(gearman_job_handle(job));
    if (n == 1) return GEARMAN_ERROR;
    char text[32];
    snprintf(text, sizeof text, "attempt=%d", n);
    send_text(job, text);
    return GEARMAN_SUCCESS;
  }
  if (workload_is(job, "EXCEPTION")) {
    gearman_job_send_exception(job, "c exception", 11);
    return GEARMAN_SUCCESS;
  }
  send_text(job, "unknown command");
  return GEARMAN_FAIL;
}

static int define(gearman_worker_st *worker, const char *spec) {
  char name[GEARMAN_FUNCTION_MAX_SIZE];
  snprintf(name, sizeof name, "%s", spec);
  char *eq = strchr(name, '=');
  const char *kind = name;
  if (eq) {
    *eq = '\0';
    kind = eq + 1;
  }
  gearman_return_t rc;
  size_t len = strlen(name);
  if (strcmp(kind, "echo") == 0) rc = gearman_worker_define_function(worker, name, len, gearman_function_create(echo_fn), 0, NULL);
  else if (strcmp(kind, "upper") == 0) rc = gearman_worker_define_function(worker, name, len, gearman_function_create(upper_fn), 0, NULL);
  else if (strcmp(kind, "split") == 0) rc = gearman_worker_define_function(worker, name, len, gearman_function_create_partition(split_fn, cat_aggregator), 0, NULL);
  else if (strcmp(kind, "ret") == 0) rc = gearman_worker_define_function(worker, name, len, gearman_function_create(ret_fn), 0, NULL);
  else {
    fprintf(stderr, "interop_worker: unknown kind %s (echo, upper, split, ret)\n", kind);
    return 0;
  }
  if (!gearman_success(rc)) {
    fprintf(stderr, "interop_worker: define %s: %s\n", name, gearman_worker_error(worker));
    return 0;
  }
  return 1;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  in_port_t port = 4730;
  long count = -1;
  int functions = 0;
  gearman_worker_st *worker = gearman_worker_create(NULL);
  if (!worker) {
    fprintf(stderr, "interop_worker: gearman_worker_create failed\n");
    return 1;
  }
  int opt;
  while ((opt = getopt(argc, argv, "h:p:c:f:")) != -1) {
    switch (opt) {
      case 'h': host = optarg; break;
      case 'p': port = (in_port_t)atoi(optarg); break;
      case 'c': count = atol(optarg); break;
      case 'f':
        if (!define(worker, optarg)) return 2;
        functions++;
        break;
      default:
        fprintf(stderr, "usage: interop_worker [-h HOST] [-p PORT] [-c COUNT] -f NAME[=KIND]...\n");
        return 2;
    }
  }
  if (functions == 0) {
    fprintf(stderr, "usage: interop_worker [-h HOST] [-p PORT] [-c COUNT] -f NAME[=KIND]...\n");
    return 2;
  }
  if (!gearman_success(gearman_worker_add_server(worker, host, port))) {
    fprintf(stderr, "interop_worker: add_server: %s\n", gearman_worker_error(worker));
    return 1;
  }
  int failures = 0;
  for (long i = 0; count < 0 || i < count; i++) {
    gearman_return_t rc = gearman_worker_work(worker);
    fprintf(stderr, "work: %s\n", gearman_strerror(rc));
    if (rc == GEARMAN_SUCCESS || rc == GEARMAN_WORK_FAIL) {
      failures = 0;
    } else if (++failures >= 100) {
      fprintf(stderr, "interop_worker: giving up: %s\n", gearman_worker_error(worker));
      return 1;
    } else {
      usleep(20000);
    }
  }
  gearman_worker_free(worker);
  return 0;
}
