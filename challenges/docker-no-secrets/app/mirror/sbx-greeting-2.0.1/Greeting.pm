package Greeting;
# sbx-greeting 2.0.1, from the company's private package mirror.
use strict;
use warnings;

our $VERSION = '2.0.1';

sub hello {
    my ($name) = @_;
    return "hello from $name\n";
}

1;
