use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_REUSEPORT INADDR_ANY pack_sockaddr_in);
my ($port, $index) = @ARGV;
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
setsockopt($s, SOL_SOCKET, SO_REUSEPORT, 1) or die "SO_REUSEPORT: $!";
bind($s, pack_sockaddr_in($port, INADDR_ANY)) or die "bind: $!";
listen($s, 1) or die "listen: $!";
my $filter = pack("S C C L", 0x06, 0, 0, $index);   # BPF_RET|BPF_K: always this socket of the group
setsockopt($s, SOL_SOCKET, 51, pack("S x6 P8", 1, $filter)) or die "SO_ATTACH_REUSEPORT_CBPF: $!";
close $s;
print "steered\n";
