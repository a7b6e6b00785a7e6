#!/usr/bin/perl
# A tiny HTTP server (perl-base + the fetched modules in /app/lib): GET / answers "hello from docker-no-secrets".
use strict;
use warnings;
use lib "/app/lib";
use IO::Socket::INET;
use Greeting;

my $port = $ENV{PORT} || 8080;
my $body = Greeting::hello("docker-no-secrets");

$| = 1;
$SIG{PIPE} = 'IGNORE';
$SIG{TERM} = sub { print "SIGTERM: shutting down\n"; exit 0 };

my $server = IO::Socket::INET->new(
    LocalAddr => '0.0.0.0',
    LocalPort => $port,
    Proto     => 'tcp',
    Listen    => 16,
    ReuseAddr => 1,
) or die "cannot listen on 0.0.0.0:$port: $!\n";
print "listening on 0.0.0.0:$port as uid $<\n";

while (1) {
    my $client = $server->accept or next;
    eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm 5;
        my $request = <$client> // '';
        while (defined(my $line = <$client>)) { last if $line =~ /^\r?\n\z/ }
        my ($method, $path) = split ' ', $request;
        my ($status, $text) = defined $path && $path eq '/' ? ('200 OK', $body) : ('404 Not Found', "not found\n");
        print $client "HTTP/1.0 $status\r\nContent-Type: text/plain\r\nContent-Length: ", length($text),
            "\r\nConnection: close\r\n\r\n", $text;
        alarm 0;
        print "$method $path -> $status\n" if defined $path;
    };
    alarm 0;
    close $client;
}
