/*
 * interop_client: a libgearman 1.1.20 client for the SDK's interop tests.
 *
 * Build:  gcc -O2 -o test/interop/bin/interop_client test/interop/interop_client.c -lgearman
 *         (test/support/build-interop.ts does this when the source is newer than the binary)
 *
 * Usage:  interop_client [-h HOST] [-p PORT] [-e] [-t MS] [-u UNIQUE] MODE ARGS...
 *
 *   -h HOST    gearmand host (default 127.0.0.1)
 *   -p PORT    gearmand port (default 4730)
 *   -e         set GEARMAN_CLIENT_EXCEPTION (sends OPTION_REQ "exceptions")
 *   -t MS      gearman_client_set_timeout(MS) (default 10000; -1 waits forever)
 *   -u UNIQUE  unique id (default NULL: libgearman generates a UUID)
 *
 * Modes:
 *   do FN DATA                    gearman_client_do()
 *   task FN DATA                  gearman_client_add_task() + gearman_client_run_tasks(), with every
 *                                 callback set; prints one line per event as it arrives
 *   reduce MAPPER REDUCER DATA    gearman_execute_by_partition(MAPPER, REDUCER), i.e. a
 *                                 SUBMIT_REDUCE_JOB, waiting for the task to finish
 *   background FN DATA            gearman_client_do_background(); the result is the job handle
 *
 * Output (stdout), one item per line; TEXT is escaped: printable ASCII as is, "\\" for a
 * backslash, "\xHH" for any other byte:
 *   created HANDLE | data TEXT | warning TEXT | status N/D | complete TEXT | fail | exception TEXT
 *                                 (task mode only, in arrival order)
 *   ret GEARMAN_...               the return code (gearman_strerror)
 *   result TEXT                   do/reduce: the result libgearman accumulated (every WORK_DATA
 *                                 plus WORK_COMPLETE); background: the job handle; none in task mode
 * Exit status: 0 on GEARMAN_SUCCESS, 1 on any other return code, 2 on bad usage.
 */
#include <libgearman-1.0/gearman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put_text(const char *label, const void *data, size_t size) {
  const unsigned char *p = data;
  fputs(label, stdout);
  fputc(' ', stdout);
  for (size_t i = 0; i < size; i++) {
    if (p[i] == '\\') fputs("\\\\", stdout);
    else if (p[i] >= 0x20 && p[i] < 0x7f) fputc(p[i], stdout);
    else fprintf(stdout, "\\x%02x", p[i]);
  }
  fputc('\n', stdout);
  fflush(stdout);
}

static gearman_return_t on_created(gearman_task_st *t) {
  printf("created %s\n", gearman_task_job_handle(t));
  fflush(stdout);
  return GEARMAN_SUCCESS;
}

static gearman_return_t on_data(gearman_task_st *t) {
  put_text("data", gearman_task_data(t), gearman_task_data_size(t));
  return GEARMAN_SUCCESS;
}

static gearman_return_t on_warning(gearman_task_st *t) {
  put_text("warning", gearman_task_data(t), gearman_task_data_size(t));
  return GEARMAN_SUCCESS;
}

static gearman_return_t on_status(gearman_task_st *t) {
  printf("status %u/%u\n", gearman_task_numerator(t), gearman_task_denominator(t));
  fflush(stdout);
  return GEARMAN_SUCCESS;
}

static gearman_return_t on_complete(gearman_task_st *t) {
  put_text("complete", gearman_task_data(t), gearman_task_data_size(t));
  return GEARMAN_SUCCESS;
}

static gearman_return_t on_exception(gearman_task_st *t) {
  put_text("exception", gearman_task_data(t), gearman_task_data_size(t));
  return GEARMAN_SUCCESS;
}

static gearman_return_t on_fail(gearman_task_st *t) {
  (void)t;
  puts("fail");
  fflush(stdout);
  return GEARMAN_SUCCESS;
}

static void put_result(gearman_result_st *r) {
  if (r) put_text("result", gearman_result_value(r), gearman_result_size(r));
  else put_text("result", "", 0);
}

static int usage(void) {
  fprintf(stderr,
          "usage: interop_client [-h HOST] [-p PORT] [-e] [-t MS] [-u UNIQUE] do|task|background FN DATA\n"
          "       interop_client [-h HOST] [-p PORT] [-e] [-t MS] [-u UNIQUE] reduce MAPPER REDUCER DATA\n");
  return 2;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  in_port_t port = 4730;
  const char *unique = NULL;
  int exceptions = 0;
  int timeout = 10000;
  int opt;
  while ((opt = getopt(argc, argv, "h:p:et:u:")) != -1) {
    switch (opt) {
      case 'h': host = optarg; break;
      case 'p': port = (in_port_t)atoi(optarg); break;
      case 'e': exceptions = 1; break;
      case 't': timeout = atoi(optarg); break;
      case 'u': unique = optarg; break;
      default: return usage();
    }
  }
  if (argc - optind < 3) return usage();
  const char *mode = argv[optind];

  gearman_client_st *client = gearman_client_create(NULL);
  if (!client) {
    fprintf(stderr, "interop_client: gearman_client_create failed\n");
    return 1;
  }
  gearman_client_set_timeout(client, timeout);
  if (!gearman_success(gearman_client_add_server(client, host, port))) {
    fprintf(stderr, "interop_client: add_server: %s\n", gearman_client_error(client));
    return 1;
  }
  /* After add_server: libgearman 1.1.20 only queues OPTION_REQ for servers it already knows. */
  if (exceptions) gearman_client_add_options(client, GEARMAN_CLIENT_EXCEPTION);

  gearman_return_t rc;
  if (strcmp(mode, "do") == 0) {
    const char *fn = argv[optind + 1], *data = argv[optind + 2];
    size_t size = 0;
    void *result = gearman_client_do(client, fn, unique, data, strlen(data), &size, &rc);
    printf("ret %s\n", gearman_strerror(rc));
    put_text("result", result ? result : "", result ? size : 0);
    free(result);
  } else if (strcmp(mode, "background") == 0) {
    const char *fn = argv[optind + 1], *data = argv[optind + 2];
    char handle[GEARMAN_JOB_HANDLE_SIZE] = "";
    rc = gearman_client_do_background(client, fn, unique, data, strlen(data), handle);
    printf("ret %s\n", gearman_strerror(rc));
    put_text("result", handle, strlen(handle));
  } else if (strcmp(mode, "task") == 0) {
    const char *fn = argv[optind + 1], *data = argv[optind + 2];
    gearman_client_set_created_fn(client, on_created);
    gearman_client_set_data_fn(client, on_data);
    gearman_client_set_warning_fn(client, on_warning);
    gearman_client_set_status_fn(client, on_status);
    gearman_client_set_complete_fn(client, on_complete);
    gearman_client_set_exception_fn(client, on_exception);
    gearman_client_set_fail_fn(client, on_fail);
    gearman_task_st *task = gearman_client_add_task(client, NULL, NULL, fn, unique, data, strlen(data), &rc);
    if (task && gearman_success(rc)) {
      rc = gearman_client_run_tasks(client);
      if (gearman_success(rc)) rc = gearman_task_return(task);
    }
    printf("ret %s\n", gearman_strerror(rc));
  } else if (strcmp(mode, "reduce") == 0) {
    if (argc - optind < 4) return usage();
    const char *mapper = argv[optind + 1], *reducer = argv[optind + 2], *data = argv[optind + 3];
    gearman_argument_t workload = gearman_argument_make(NULL, 0, data, strlen(data));
    gearman_task_st *task = gearman_execute_by_partition(client, mapper, strlen(mapper), reducer, strlen(reducer),
                                                         unique, unique ? strlen(unique) : 0, NULL, &workload, NULL);
    if (task) {
      rc = gearman_task_return(task);
      printf("ret %s\n", gearman_strerror(rc));
      put_result(gearman_task_result(task));
    } else {
      rc = gearman_client_error_code(client);
      if (gearman_success(rc)) rc = GEARMAN_UNKNOWN_STATE;
      printf("ret %s\n", gearman_strerror(rc));
      put_text("result", "", 0);
    }
  } else {
    return usage();
  }
  if (!gearman_success(rc)) fprintf(stderr, "interop_client: %s\n", gearman_client_error(client));
  gearman_client_free(client);
  return gearman_success(rc) ? 0 : 1;
}
