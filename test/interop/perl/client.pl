#!/usr/bin/perl
# Pure-Perl Gearman::Client (2.004) for the SDK's interop tests.
#
# Usage: perl client.pl HOST PORT FN DATA [exceptions]
#   Runs Gearman::Client->do_task(FN, DATA) with on_data, on_warning, on_status, on_exception and
#   on_fail callbacks and a 10 s timeout. With a fifth argument "exceptions" the client is
#   created with exceptions => 1 (OPTION_REQ exceptions). The pure-Perl client submits an empty
#   unique unless one is given.
# Output: one JSON line {"ok": 0|1, "result": TEXT|null, "events": [..]}. Exit status 0 when
# do_task returned a result, 1 otherwise; Gearman::Client dies (exit 255) on packets it cannot
# match, e.g. a WORK_FAIL whose handle ends in NUL.
use strict;
use warnings;
use Gearman::Client;
use JSON::PP;

my ($host, $port, $fn, $data, $flag) = @ARGV;
die "usage: perl client.pl HOST PORT FN DATA [exceptions]\n" unless defined $data;
my $client = Gearman::Client->new(
    job_servers => ["$host:$port"],
    exceptions  => (defined $flag && $flag eq "exceptions") ? 1 : 0,
);
my @events;
my $ref = $client->do_task(
    $fn, $data,
    {
        timeout      => 10,
        on_data      => sub { push @events, "data " . ${ $_[0] } },
        on_warning   => sub { push @events, "warning " . ${ $_[0] } },
        on_status    => sub { push @events, "status $_[0]/$_[1]" },
        on_exception => sub { push @events, "exception $_[0]" },
        on_fail      => sub { push @events, "fail" },
    }
);
print JSON::PP->new->canonical->encode({ ok => $ref ? 1 : 0, result => $ref ? $$ref : undef, events => \@events }), "\n";
exit($ref ? 0 : 1);
