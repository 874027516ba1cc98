#!/usr/bin/env bash
# Clients that connect nonblockingly and wait for the outcome themselves,
# started before their server, under the built-in default with no policy
# file: nc -z with and without -w (poll), perl IO::Socket::INET with a
# Timeout (select), python3 socket.create_connection(timeout=5) (poll),
# asyncio.open_connection (epoll) and ssh -o ConnectTimeout=5 (poll). Each
# fails without backstop; under it (nonblocking = async) the connect stays
# "in progress" for the program while backstop retries, and succeeds.
. "$BS_TOP/tests/integration/lib.sh"
. "$BS_TOP/tests/integration/late.sh"

# late_tcp NAME CMD...: CMD (whose last argument is the port, spelled
# PORT) against a late_listener; expects exit 0.
late_tcp() {
	local name=$1
	shift
	late_listener "$name"
	local args=("${@/#PORT/$PORT}")
	late_fails_without "$name" "${args[@]}"
	late_client "$name" "${args[@]}"
	late_listen "$name"
	late_finish "$name"
}

late_tcp nc nc -z 127.0.0.1 PORT
late_tcp nc_w nc -z -w 5 127.0.0.1 PORT

body='print "ok\n" if (join "", <$s>) =~ /\r\n\r\nok\n$/;'
late_tcp perl_timeout perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(
	PeerAddr => "127.0.0.1", PeerPort => $ARGV[0], Proto => "tcp", Timeout => 5)
	or die "connect: $@\n";
print $s "GET / HTTP/1.0\r\n\r\n";'"$body" PORT
assert_eq "$(cat "$BS_TMP/perl_timeout.out")" ok "perl with Timeout: response"

late_tcp create_connection python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
reply = b"".join(iter(lambda: s.recv(4096), b""))
print(reply.split(b"\r\n\r\n")[1].decode(), end="")' PORT
assert_eq "$(cat "$BS_TMP/create_connection.out")" ok "create_connection: response"

late_tcp asyncio python3 -c 'import asyncio, sys
async def main():
    r, w = await asyncio.open_connection("127.0.0.1", int(sys.argv[1]))
    w.write(b"GET / HTTP/1.0\r\n\r\n")
    print((await r.read()).split(b"\r\n\r\n")[1].decode(), end="")
asyncio.run(main())' PORT
assert_eq "$(cat "$BS_TMP/asyncio.out")" ok "asyncio: response"

# ssh: a real sshd on loopback, started late, with a generated host key
# and a key for public-key authentication; ssh's exit status is that of
# the remote command.
if [ "$(id -u)" -eq 0 ]; then
	mkdir -p "$BS_TMP/ssh"
	chmod 700 "$BS_TMP/ssh"
	ssh-keygen -q -t ed25519 -N '' -f "$BS_TMP/ssh/host" </dev/null
	ssh-keygen -q -t ed25519 -N '' -f "$BS_TMP/ssh/id" </dev/null
	cp "$BS_TMP/ssh/id.pub" "$BS_TMP/ssh/authorized_keys"
	SSH_PORT=$(free_port)
	cat >"$BS_TMP/ssh/sshd_config" <<CONF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $BS_TMP/ssh/host
AuthorizedKeysFile $BS_TMP/ssh/authorized_keys
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
CONF
	mkdir -p /run/sshd # the privilege separation directory sshd insists on
	# ssh leaks a string of its own at exit, allocated in libc's vasprintf:
	# the fast unwinder stops there (libc keeps no frame pointer), so the
	# leak would not show ssh's frames and lsan.supp's /usr/bin/* would
	# not match. The slow unwinder, for ssh only, does show them.
	asan_env fast_unwind_on_malloc=0
	ssh_cmd=("${ASAN_ENV[@]}" ssh -F none -o ConnectTimeout=5 -o BatchMode=yes -o StrictHostKeyChecking=no
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i "$BS_TMP/ssh/id"
		-p "$SSH_PORT" root@127.0.0.1 echo remote-ok)
	late_fails_without ssh "${ssh_cmd[@]}"
	late_client ssh "${ssh_cmd[@]}"
	/usr/sbin/sshd -D -e -f "$BS_TMP/ssh/sshd_config" 2>"$BS_TMP/sshd.err" &
	late_finish ssh
	assert_eq "$(cat "$BS_TMP/ssh.out")" remote-ok "ssh: remote command ran"
else
	note "ssh: skipped (sshd needs root for its privilege separation)"
fi
