# Perl's sysread + print through PerlIO on an IO::Socket::INET handle (issue 11).
# usage: perl perl-loop.pl FILE PORT
use strict; use IO::Socket::INET;
my ($path, $port) = @ARGV;
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp') or die "connect: $!";
open(my $in, '<:raw', $path) or die "open: $!";
binmode $s;
my $buf;
while (my $n = sysread($in, $buf, 8192)) { print $s $buf or die "print: $!"; }
close $s;
