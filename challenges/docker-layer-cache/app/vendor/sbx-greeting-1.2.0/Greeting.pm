package Greeting;
# sbx-greeting 1.2.0: the one line the app answers with.
use strict;
use warnings;

our $VERSION = '1.2.0';

sub hello {
    my ($name) = @_;
    return "hello from $name\n";
}

1;
