# Sourced by the bench scripts (run.sh, cost.sh, k6.sh, broadcast.sh, memory.sh), after they
# set `root` (the repository): the release builds, the binaries, the four echo servers that
# the comparisons run, and the port helpers.

# Builds wslens, and with `peers` the peer servers (bench/ is its own workspace), in release.
build() {
  cargo build --release -p wslens-server --quiet --target-dir "$root/target"
  if [ "${1:-}" = peers ]; then
    (cd "$root/bench" && cargo build --release --quiet --target-dir "$root/bench/target")
  fi
}
wslens="$root/target/release/wslens"
peers="$root/bench/target/release"

# The echo servers compared, each on one thread: name|path|command (the port is appended).
# shellcheck disable=SC2034  # used by the scripts that source this file
echo_servers=(
  "wslens|/echo|$wslens serve --threads 1 --ping-interval 0 --port"
  "tokio-tungstenite|/|$peers/echo_tungstenite"
  "fastwebsockets|/|$peers/echo_fastwebsockets"
  "tokio-websockets|/|$peers/echo_tokio_websockets"
)

# The floor (bench/peers/src/bin/echo_floor.rs): a bare edge-triggered epoll echo with no
# validation, the kernel's own cost per echo; run.sh and cost.sh report ratios to it.
# shellcheck disable=SC2034
floor_server="floor|/|$peers/echo_floor"

# A TCP port that is free on 127.0.0.1 right now.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits until something accepts connections on 127.0.0.1:$1, trying every 50 ms up to $2
# times (default 100: 5 s; a server under valgrind needs longer).
wait_port() {
  for _ in $(seq "${2:-100}"); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
