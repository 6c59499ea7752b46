#!/usr/bin/env bash
# bench-dicom.sh — the DICOM C-STORE benchmark of issue 5, side by side in one run.
#
# Builds medgate and medgate-sim, then starts on localhost only:
#   - medgate (SQLite, fresh data dir, the simulator registered as device BENCH): it fsyncs,
#     indexes and attaches every instance (the sim reads the worklist for a fresh order each run);
#   - dcmtk storescp (TCP_NODELAY=1, --fork, max PDU 131072 like medgate, bit-preserving, to a
#     temp dir; it neither fsyncs nor indexes);
#   - Orthanc, only if `command -v Orthanc` finds it (TCP_NODELAY=1; never installed by this).
# and sends the same CT series (400 slices 512×512 16-bit, Explicit VR LE) with
# `medgate-sim modality` to each, over 1 and then 4 associations, REPEAT times per cell, and
# prints the median instances/s and MB/s and the ratio medgate/storescp. Then it starts a second,
# fresh medgate and sends ONE multi-frame instance of ~2 GiB (frames generated while sending) and
# reports medgate's peak resident memory (VmHWM) for it.
#
# Environment: REPEAT (3), SLICES (400), BIG_FRAMES (4096 frames of 512×512×2 = 2 GiB; 0 skips
# the RSS part), RUN_TIMEOUT (seconds per simulator run, 900). Everything it starts is stopped and
# its temp dir removed on exit. Takes about 2–4 minutes on a 2-core machine.
set -euo pipefail

REPEAT=${REPEAT:-3}
SLICES=${SLICES:-400}
BIG_FRAMES=${BIG_FRAMES:-4096}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
PASSWORD=bench-password-42

cd "$(dirname "$0")/.."
for tool in go storescp curl timeout; do
	command -v "$tool" >/dev/null || { echo "bench-dicom: $tool not found" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/medgate-bench-dicom.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench-dicom: $*" >&2; }

# free_port prints a loopback TCP port nobody listens on.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "bench-dicom: no free port" >&2
	exit 2
}

wait_port() { # host:port
	for _ in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	log "nothing listens on $1"
	exit 1
}

# jnum FILE KEY prints the first numeric value of "KEY": in a JSON file.
jnum() { grep -o "\"$2\": *[-0-9.e+]*" "$1" | head -1 | sed 's/.*: *//'; }
jstr() { grep -o "\"$2\": *\"[^\"]*\"" "$1" | head -1 | sed 's/.*: *"//; s/"$//'; }

# median of the numbers on stdin, one decimal.
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) printf "%.1f\n", v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2}'; }
r1() { awk -v v="$1" 'BEGIN {printf "%.1f", v}'; }

log "building medgate and medgate-sim"
go build -o "$WORK/medgate" ./cmd/medgate
go build -o "$WORK/medgate-sim" ./cmd/medgate-sim
SIM="$WORK/medgate-sim"

# start_medgate DIR: runs medgate in DIR; sets MG_PID, MG_HTTP, MG_DICOM.
start_medgate() {
	local dir=$1
	mkdir -p "$dir"
	printf 'devices:\n  - name: bench\n    protocol: dicom\n    ae_title: BENCH\n' >"$dir/medgate.yaml"
	(cd "$dir" && MEDGATE_ADMIN_PASSWORD=$PASSWORD exec "$WORK/medgate" -http 127.0.0.1:0 -mllp-port 0 -dicom-port 0 \
		-config medgate.yaml >"$dir/stdout" 2>"$dir/stderr") &
	MG_PID=$!
	PIDS+=("$MG_PID")
	for _ in $(seq 1 600); do
		grep -q "Ctrl+C" "$dir/stdout" 2>/dev/null && break
		kill -0 "$MG_PID" 2>/dev/null || { cat "$dir/stderr" >&2; log "medgate exited"; exit 1; }
		sleep 0.05
	done
	MG_HTTP=$(sed -n 's/.*web\/API: *http:\/\/\([^ ]*\).*/\1/p' "$dir/stdout" | head -1)
	MG_DICOM=$(sed -n 's/.*DICOM: *\([^ ]*\).*/\1/p' "$dir/stdout" | head -1)
	[ -n "$MG_HTTP" ] && [ -n "$MG_DICOM" ] || { cat "$dir/stdout" >&2; log "no addresses in medgate's banner"; exit 1; }
}

MG_TOKEN=""
MG_PATIENT=""
# medgate_order: a fresh CT order scheduled on BENCH, so that the run attaches to it.
medgate_order() {
	if [ -z "$MG_TOKEN" ]; then
		MG_TOKEN=$(curl -sf -H 'Content-Type: application/json' -d "{\"login\":\"admin\",\"password\":\"$PASSWORD\"}" \
			"http://$MG_HTTP/api/v1/login" | grep -o '"token": *"[^"]*"' | sed 's/.*: *"//; s/"$//')
		MG_PATIENT=$(curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $MG_TOKEN" \
			-d '{"family":"Бенчмарков","given":"Тест","patronymic":"Ёжикович","birthDate":"1980-01-01","gender":"male"}' \
			"http://$MG_HTTP/api/v1/patients" | grep -o '"id": *[0-9]*' | head -1 | sed 's/.*: *//')
	fi
	curl -sf -o /dev/null -H 'Content-Type: application/json' -H "Authorization: Bearer $MG_TOKEN" \
		-d "{\"patient\":$MG_PATIENT,\"category\":\"imaging\",\"modality\":\"CT\",\"procedure\":\"КТ бенчмарк\",\"scheduledStationAeTitle\":\"BENCH\"}" \
		"http://$MG_HTTP/api/v1/orders"
}

log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

start_medgate "$WORK/mg"
log "medgate: DICOM $MG_DICOM, HTTP $MG_HTTP"

SCP_PORT=$(free_port)
mkdir -p "$WORK/storescp"
TCP_NODELAY=1 storescp --fork -aet STORESCP -pdu 131072 +xa +B -dhl -od "$WORK/storescp" "$SCP_PORT" \
	>"$WORK/storescp.log" 2>&1 &
PIDS+=("$!")
wait_port "127.0.0.1:$SCP_PORT"
log "storescp: 127.0.0.1:$SCP_PORT"

TARGETS="medgate storescp"
if command -v Orthanc >/dev/null; then
	OR_PORT=$(free_port)
	OR_HTTP=$(free_port)
	mkdir -p "$WORK/orthanc"
	cat >"$WORK/orthanc.json" <<EOF
{ "Name": "bench", "StorageDirectory": "$WORK/orthanc", "IndexDirectory": "$WORK/orthanc",
  "DicomAet": "ORTHANC", "DicomPort": $OR_PORT, "HttpPort": $OR_HTTP, "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false, "DicomCheckCalledAet": false, "DicomAlwaysAllowStore": true,
  "DicomAlwaysAllowEcho": true, "Plugins": [] }
EOF
	TCP_NODELAY=1 Orthanc "$WORK/orthanc.json" >"$WORK/orthanc.log" 2>&1 &
	PIDS+=("$!")
	wait_port "127.0.0.1:$OR_PORT"
	TARGETS="$TARGETS orthanc"
	log "Orthanc: 127.0.0.1:$OR_PORT"
else
	log "Orthanc not installed: skipped"
fi

# run TARGET ASSOCS REP: one simulator run, its JSON report in $WORK/run-TARGET-ASSOCS-REP.json.
run() {
	local target=$1 assocs=$2 rep=$3 out="$WORK/run-$1-$2-$3.json" args
	case $target in
	medgate)
		medgate_order
		args=(-addr "$MG_DICOM" -aec MEDGATE -aet BENCH)
		;;
	storescp) args=(-addr "127.0.0.1:$SCP_PORT" -aec STORESCP -aet BENCH -no-worklist) ;;
	orthanc) args=(-addr "127.0.0.1:$OR_PORT" -aec ORTHANC -aet BENCH -no-worklist) ;;
	esac
	if ! timeout "$RUN_TIMEOUT" "$SIM" modality "${args[@]}" -kind ct -slices "$SLICES" -assocs "$assocs" -json >"$out" 2>"$out.err"; then
		log "$target, $assocs association(s), run $rep FAILED:"
		cat "$out" "$out.err" >&2
		exit 1
	fi
	log "$target, $assocs association(s), run $rep: $(r1 "$(jnum "$out" instances_per_s)") instances/s, $(r1 "$(jnum "$out" mb_per_s)") MB/s, p50 $(jnum "$out" p50_ms) ms, p99 $(jnum "$out" p99_ms) ms"
	[ "$target" = storescp ] && find "$WORK/storescp" -type f -delete # keep the disk small; medgate's stay
	return 0
}

for assocs in 1 4; do
	for rep in $(seq 1 "$REPEAT"); do
		for target in $TARGETS; do # interleaved, so that drift in machine load hits every target alike
			run "$target" "$assocs" "$rep"
		done
	done
done

cell() { # TARGET ASSOCS KEY -> median over the repeats
	for rep in $(seq 1 "$REPEAT"); do jnum "$WORK/run-$1-$2-$rep.json" "$3"; done | median
}

echo
echo "DICOM C-STORE, $SLICES-slice CT (512×512×16-bit, Explicit VR LE), medgate-sim modality as the SCU,"
echo "median of $REPEAT runs; load average $LOAD_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end, $(nproc) cores"
echo
printf '| %-9s | %-6s | %12s | %8s | %14s | %14s |\n' target assocs instances/s MB/s "p50 latency ms" "p99 latency ms"
printf '| %-9s | %-6s | %12s | %8s | %14s | %14s |\n' --- ---: ---: ---: ---: ---:
for assocs in 1 4; do
	for target in $TARGETS; do
		printf '| %-9s | %-6s | %12s | %8s | %14s | %14s |\n' "$target" "$assocs" "$(cell "$target" "$assocs" instances_per_s)" \
			"$(cell "$target" "$assocs" mb_per_s)" "$(cell "$target" "$assocs" p50_ms)" "$(cell "$target" "$assocs" p99_ms)"
	done
done
echo
for assocs in 1 4; do
	m=$(cell medgate "$assocs" instances_per_s)
	s=$(cell storescp "$assocs" instances_per_s)
	line="$assocs association(s): medgate/storescp = $(awk -v a="$m" -v b="$s" 'BEGIN {printf "%.2f", a/b}')×"
	if [[ $TARGETS == *orthanc* ]]; then
		o=$(cell orthanc "$assocs" instances_per_s)
		line="$line, medgate/Orthanc = $(awk -v a="$m" -v b="$o" 'BEGIN {printf "%.2f", a/b}')×"
	fi
	echo "$line"
done
st=$(jstr "$WORK/run-medgate-1-1.json" study_instance_uid)
echo "medgate attached the runs to study $st (order on device BENCH)"

if [ "$BIG_FRAMES" -gt 0 ]; then
	echo
	kill "${PIDS[0]}" 2>/dev/null || true # the first medgate is done; free its memory and CPU
	start_medgate "$WORK/mg-rss"
	base=$(awk '/VmHWM/ {print $2}' "/proc/$MG_PID/status")
	peak=$base
	( while kill -0 "$MG_PID" 2>/dev/null; do
		awk '/VmRSS/ {print $2}' "/proc/$MG_PID/status" 2>/dev/null
		sleep 0.2
	done >"$WORK/rss.samples" ) &
	PIDS+=("$!")
	simrss=""
	timecmd=()
	if [ -x /usr/bin/time ]; then timecmd=(/usr/bin/time -f '%M' -o "$WORK/sim.maxrss"); fi
	log "sending one multi-frame instance of $BIG_FRAMES frames 512×512 to medgate"
	if ! timeout "$RUN_TIMEOUT" "${timecmd[@]}" "$SIM" modality -addr "$MG_DICOM" -aet BENCH -no-worklist -kind cbct -multiframe \
		-slices "$BIG_FRAMES" -rows 512 -cols 512 -timeout 30m -json >"$WORK/big.json" 2>"$WORK/big.err"; then
		cat "$WORK/big.json" "$WORK/big.err" >&2
		log "the large instance FAILED"
		exit 1
	fi
	peak=$(awk '/VmHWM/ {print $2}' "/proc/$MG_PID/status")
	[ -f "$WORK/sim.maxrss" ] && simrss=", medgate-sim's own peak RSS $(($(tail -1 "$WORK/sim.maxrss") / 1024)) MiB"
	bytes=$(jnum "$WORK/big.json" bytes)
	echo "Large instance: 1 Enhanced CT, $BIG_FRAMES frames 512×512×16-bit, $(awk -v b="$bytes" 'BEGIN {printf "%.2f GiB", b/2^30}') data set, statuses $(grep -o '"0x[0-9A-F]*": *[0-9]*' "$WORK/big.json" | tr '\n' ' ')"
	echo "  stored in $(jnum "$WORK/big.json" elapsed_s) s ($(r1 "$(jnum "$WORK/big.json" mb_per_s)") MB/s)"
	echo "  medgate VmHWM: $((base / 1024)) MiB after start, $((peak / 1024)) MiB after receiving it (VmRSS samples max $(($(sort -n "$WORK/rss.samples" | tail -1) / 1024)) MiB)$simrss"
fi
