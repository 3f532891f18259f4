<?php
// PHP GearmanWorker (pecl gearman 2.x on libgearman 1.1.20) for the SDK's interop tests.
//
// Usage: php worker.php HOST PORT FN [COUNT]
//   Registers FN with GearmanWorker::addFunction and serves COUNT jobs (default: until killed).
//   The workload is a command:
//     FAIL       $job->setReturn(GEARMAN_WORK_FAIL)       -> WORK_FAIL
//     DATA       $job->sendData("d1"), returns "done"
//     WARN       $job->sendWarning("careful"), $job->sendStatus(1, 2), returns "warned"
//     EXCEPTION  $job->sendException("php exception")    -> WORK_EXCEPTION
//     UNIQUE     returns $job->unique()
//     anything else: returns the workload upper-cased
// Stderr gets one line per GearmanWorker::work() call.

[$host, $port, $fn] = array_slice($argv, 1, 3);
$count = isset($argv[4]) ? (int)$argv[4] : -1;

$worker = new GearmanWorker();
$worker->addServer($host, (int)$port);
$worker->addFunction($fn, function (GearmanJob $job) {
  switch ($job->workload()) {
    case "FAIL":
      $job->setReturn(GEARMAN_WORK_FAIL);
      return null;
    case "DATA":
      $job->sendData("d1");
      return "done";
    case "WARN":
      $job->sendWarning("careful");
      $job->sendStatus(1, 2);
      return "warned";
    case "EXCEPTION":
      $job->sendException("php exception");
      return null;
    case "UNIQUE":
      return $job->unique();
    default:
      return strtoupper($job->workload());
  }
});

while ($count-- !== 0) {
  $ok = $worker->work();
  fwrite(STDERR, "work: " . $worker->returnCode() . "\n");
  if (!$ok && $worker->returnCode() !== GEARMAN_WORK_FAIL) usleep(20000);
}
