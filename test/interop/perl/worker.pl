#!/usr/bin/perl
# Pure-Perl Gearman::Worker (2.004) for the SDK's interop tests. It grabs with plain GRAB_JOB, so
# it gets JOB_ASSIGN without a unique.
#
# Usage: perl worker.pl HOST PORT FN
#   Registers FN and works until killed. The workload is a command:
#     FAIL   returns undef                    -> WORK_FAIL
#     DIE    dies with "perl boom"             -> WORK_EXCEPTION(Storable::nfreeze(\$@)), then WORK_FAIL
#     DATA   $worker->send_work_data("d1"), returns "done"
#     anything else: returns the workload upper-cased
use strict;
use warnings;
use Gearman::Worker;

my ($host, $port, $fn) = @ARGV;
die "usage: perl worker.pl HOST PORT FN\n" unless defined $fn;
my $worker = Gearman::Worker->new(job_servers => ["$host:$port"]);
$worker->register_function(
    $fn => sub {
        my $job = shift;
        my $arg = $job->arg;
        return undef if $arg eq "FAIL";
        die "perl boom\n" if $arg eq "DIE";
        if ($arg eq "DATA") {
            $worker->send_work_data($job, "d1");
            return "done";
        }
        return uc $arg;
    }
);
$worker->work;
