<?php
// PHP GearmanClient (pecl gearman 2.x on libgearman 1.1.20) for the SDK's interop tests.
//
// Usage: php client.php HOST PORT MODE FN DATA [UNIQUE]
//   MODE do    GearmanClient::doNormal(FN, DATA, UNIQUE)
//   MODE task  GearmanClient::addTask + runTasks with every callback set; events are recorded
//              in arrival order
// Output: one JSON line {"ret": NAME, "code": N, "result": TEXT, "events": [..], "error": TEXT}
// where NAME is SUCCESS, WORK_FAIL, WORK_EXCEPTION, TIMEOUT, ... (the GEARMAN_ constant without
// its prefix). The client times out after 10 s. Exit status 0 on SUCCESS, 1 otherwise.

[$host, $port, $mode, $fn, $data] = array_slice($argv, 1, 5);
$unique = $argv[6] ?? null;

function ret_name(int $code): string {
  foreach (["SUCCESS", "WORK_FAIL", "WORK_EXCEPTION", "WORK_DATA", "WORK_WARNING", "WORK_STATUS", "TIMEOUT"] as $n) {
    if (constant("GEARMAN_$n") === $code) return $n;
  }
  return "CODE_$code";
}

$client = new GearmanClient();
$client->addServer($host, (int)$port);
$client->setTimeout(10000);
$events = [];
$result = "";

if ($mode === "do") {
  $result = $client->doNormal($fn, $data, $unique);
  $code = $client->returnCode();
} else {
  $client->setCreatedCallback(function ($t) use (&$events) { $events[] = "created"; });
  $client->setDataCallback(function ($t) use (&$events) { $events[] = "data " . $t->data(); });
  $client->setWarningCallback(function ($t) use (&$events) { $events[] = "warning " . $t->data(); });
  $client->setStatusCallback(function ($t) use (&$events) { $events[] = "status " . $t->taskNumerator() . "/" . $t->taskDenominator(); });
  $client->setCompleteCallback(function ($t) use (&$events, &$result) { $events[] = "complete " . $t->data(); $result = $t->data(); });
  $client->setExceptionCallback(function ($t) use (&$events) { $events[] = "exception " . $t->data(); });
  $client->setFailCallback(function ($t) use (&$events) { $events[] = "fail"; });
  $client->addTask($fn, $data, null, $unique);
  $ok = $client->runTasks();
  $code = $client->returnCode();
  // runTasks reports SUCCESS once every task ended, however it ended: take the outcome from the events.
  if ($ok && $code === GEARMAN_SUCCESS && in_array("fail", $events, true)) $code = GEARMAN_WORK_FAIL;
  if ($ok && $code === GEARMAN_SUCCESS && preg_grep("/^exception /", $events)) $code = GEARMAN_WORK_EXCEPTION;
}

echo json_encode(["ret" => ret_name($code), "code" => $code, "result" => (string)$result, "events" => $events, "error" => $client->error()]), "\n";
exit($code === GEARMAN_SUCCESS ? 0 : 1);
