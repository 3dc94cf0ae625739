#!/bin/bash
# Kernel+user profile of one server under wrk, with nothing but perf record
# on the server's CPU (no pprof in the server: its profile writer moves the
# Go scheduler between threads and shows their io_uring task work as futex
# time that a timed window does not have).
#
# usage: SRV=<examples/http binary> perfonly.sh BACKEND CONNS PIPELINE OUT [ENV=V...]
# then:  python3 perfdiff.py OUT_std OUT_uring 30
set -e
be=$1; c=$2; pipe=$3; out=$4; shift 4
port=$((18000 + RANDOM % 1000))
env "$@" UNET_BACKEND=$be GOMAXPROCS=1 taskset -c 0 "$SRV" -addr 127.0.0.1:$port >/dev/null 2>&1 & pid=$!
sleep 0.5
script=""
if [ "$pipe" -gt 1 ]; then
	cat > /tmp/perfonly-pipe.lua <<LUA
init = function(args)
  local r = {}
  for i = 1, $pipe do r[i] = wrk.format(nil, "/") end
  req = table.concat(r)
end
request = function() return req end
LUA
	script="-s /tmp/perfonly-pipe.lua"
fi
taskset -c 1 wrk -t1 -c$c -d10s $script http://127.0.0.1:$port/ > /tmp/perfonly-wrk.out & w=$!
sleep 3
perf record -q -e cpu-clock -g -C 0 -o $out.perf -- sleep 4 2>/dev/null
wait $w; kill $pid
awk '/Requests\/sec/{print $2}' /tmp/perfonly-wrk.out > $out.rps; cat $out.rps
