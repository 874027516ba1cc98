#!/usr/bin/env bash
# Blocking clients started before their server, under the built-in default
# with no policy file: wget, python3 urllib with no timeout and perl
# IO::Socket::INET with no Timeout connect with a plain blocking connect(),
# so backstop's retries inside that call carry them over the gap. Each
# fails without backstop. (The old default, 5 attempts, gave up after about
# 0.75 s on average: these programs failed under it too.)
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/late.sh"
LATE_MODE=blocking

if runs_under_sanitizer wget; then
	late_listener wget
	late_fails_without wget wget -q -O - --tries=1 "http://127.0.0.1:$PORT/"
	late_client wget wget -q -O - --tries=1 "http://127.0.0.1:$PORT/"
	late_listen wget
	late_finish wget
	assert_eq "$(cat "$BS_TMP/wget.out")" ok "wget: response body"
fi

urllib='import sys, urllib.request
print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/").read().decode(), end="")'
late_listener urllib
late_fails_without urllib python3 -c "$urllib" "$PORT"
late_client urllib python3 -c "$urllib" "$PORT"
late_listen urllib
late_finish urllib
assert_eq "$(cat "$BS_TMP/urllib.out")" ok "urllib: response body"

# No Timeout: IO::Socket::INET makes a blocking connect.
perl='use IO::Socket::INET;
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0], Proto => "tcp")
	or die "connect: $@\n";
print $s "GET / HTTP/1.0\r\n\r\n";
my @reply = <$s>;
print $reply[-1];'
late_listener perl
late_fails_without perl perl -e "$perl" "$PORT"
late_client perl perl -e "$perl" "$PORT"
late_listen perl
late_finish perl
assert_eq "$(cat "$BS_TMP/perl.out")" ok "perl: response body"
