package TinyLog;
# sbx-log 0.3.1: timestamped log lines on stdout.
use strict;
use warnings;
use POSIX qw(strftime);

our $VERSION = '0.3.1';

sub info {
    my (@words) = @_;
    print strftime('%Y-%m-%dT%H:%M:%S', gmtime), " ", join(' ', @words), "\n";
}

1;
