#!/usr/bin/env bash
# scoutfs quorum and scoutfs fence-requests (QUORUM_STATUS, FENCE_REQUESTS,
# FENCE_ANSWER) on 3 quorum members and a plain client of one volume.
#
#  - quorum on each member shows its own slot and rid (statfs's), exactly
#    one leader (the slot the quorum blocks name as server), the others
#    followers of the same term naming that leader's slot and server;
#    votes needed 2, heartbeat timeout 2000 ms; one line per slot, the
#    follower's line of the leader's slot with a message less than the
#    heartbeat timeout ago (heartbeats come every 100 ms).  --json parses
#    and says the same; anyone may read it.
#  - A plain client (no slot) shows "not a member", role none, and the
#    server the members elected.
#  - fence-requests lists nothing on every mount (exit 0; --json []);
#    answering a rid that has no request fails with one clear line
#    (status 1), a rid that is not hex is a usage error (2), and a uid
#    other than 0 may list but not answer.
#  - The leader is killed with no fencing agent running: the new leader's
#    server asks for it to be fenced (quorum_block_leader), the request
#    shows in fence-requests (text and --json) on the new leader only,
#    found through its mount point while the filesystem waits for the
#    answer; answered with --fenced, the request goes, a survivor's write
#    completes and the new leader's quorum shows the old one as an old
#    leader.
. "$(dirname "$0")/../funcs.sh"

command -v python3 >/dev/null || t_fail "python3 missing"

HB=2000
t_cluster 3 "quorum_heartbeat_timeout_ms=$HB,allow_other"
t_watchdog 400
chmod 711 "$T_DIR"	# uid 65534 reaches the mounts and run directories

# q I ARGS...: scoutfs quorum of mount I;  fr I ARGS...: its fence-requests
q() {
	local i=$1
	shift
	t_scoutfs_at "${T_CMNT[i]}" quorum -p "${T_CMNT[i]}" "$@"
}
fr() {
	local i=$1
	shift
	t_scoutfs_at "${T_CMNT[i]}" fence-requests -p "${T_CMNT[i]}" "$@"
}
# val FILE NAME: the value of quorum's NAME line in FILE
val() {
	awk -v n="$2" '$1 == n { $1 = ""; sub(/^ +/, ""); print; f = 1 } END { if (!f) print "missing" }' "$1"
}
same() {	# WHAT WANT GOT
	[ "$2" = "$3" ] || t_fail "$1: want '$2', got '$3'"
}
# jcheck FILE EXPR...: FILE is one JSON value v for which every python EXPR is true
jcheck() {
	python3 - "$@" <<'PY' || t_fail "JSON check of $(basename "$1") failed: $(cat "$1")"
import json, sys
v = json.load(open(sys.argv[1]))
for e in sys.argv[2:]:
    if not eval(e, {"v": v}):
        sys.exit("'%s' is false" % e)
PY
}
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# === quorum on the members ===================================================
# the mounts are live: a leader was elected and the others heard it; a
# follower's role shows once its agent published it
for ((try = 0; try < 100; try++)); do
	read -r srv term _ < <(t_quorum_server "$META" 3)
	leaders=0 followers=0
	for i in 0 1 2; do
		q "$i" >"$T_DIR/q$i" || t_fail "quorum on mount $i: $(cat "$T_DIR/q$i")"
		case $(val "$T_DIR/q$i" role) in
		leader) leaders=$((leaders + 1)) ;;
		follower) [ "$(val "$T_DIR/q$i" leader_slot)" = "$srv" ] && followers=$((followers + 1)) ;;
		esac
	done
	[ "$srv" -ge 0 ] && [ "$leaders" -eq 1 ] && [ "$followers" -eq 2 ] && break
	sleep 0.1
done
[ "$srv" -ge 0 ] || t_fail "no server in the quorum blocks"
[ "$leaders" -eq 1 ] && [ "$followers" -eq 2 ] ||
	t_fail "want one leader and two followers of slot $srv, got $leaders and $followers: $(cat "$T_DIR"/q?)"
same "the leader's role" leader "$(val "$T_DIR/q$srv" role)"
port=$(awk -v s="$srv" '$1 == "slot" && $2 == s { print $3 }' "$T_DIR/q$srv")
for i in 0 1 2; do
	f="$T_DIR/q$i"
	same "mount $i's slot" "$i" "$(val "$f" quorum_slot_nr)"
	same "mount $i's rid" "$(t_scoutfs_at "${T_CMNT[i]}" statfs -s rid -p "${T_CMNT[i]}")" \
		"$(val "$f" rid)"
	same "mount $i's agent" running "$(val "$f" agent)"
	same "mount $i's term" "$term" "$(val "$f" term)"
	same "mount $i's leader slot" "$srv" "$(val "$f" leader_slot)"
	same "mount $i's server" "$port term $term" "$(val "$f" server)"
	same "mount $i's votes needed" 2 "$(val "$f" votes_needed)"
	same "mount $i's heartbeat timeout" "$HB" "$(val "$f" heartbeat_timeout_ms)"
	[ "$(grep -c '^slot ' "$f")" -eq 3 ] || t_fail "mount $i: want 3 slot lines: $(cat "$f")"
	grep -Eq "^slot $i +127\.0\.0\.1:[0-9]+ +this mount$" "$f" ||
		t_fail "mount $i does not show its own slot: $(cat "$f")"
	for s in 0 1 2; do
		[ "$s" -eq "$i" ] && continue
		grep -Eq "^slot $s +127\.0\.0\.1:[0-9]+ +last message ([0-9]+ ms ago|never)$" "$f" ||
			t_fail "mount $i: slot $s's line: $(cat "$f")"
	done
	[ "$i" -eq "$srv" ] && continue
	# a follower hears the leader's heartbeat every 100 ms
	ago=$(awk -v s="$srv" '$1 == "slot" && $2 == s && $5 == "message" && $8 == "ago" { print $6 }' "$f")
	[ -n "$ago" ] && [ "$ago" -lt "$HB" ] ||
		t_fail "mount $i last heard the leader (slot $srv) '$ago' ms ago: $(cat "$f")"
done

# --json parses and agrees with the text
for i in 0 1 2; do
	q "$i" --json >"$T_DIR/q$i.json" || t_fail "quorum --json on mount $i"
	python3 -m json.tool "$T_DIR/q$i.json" >/dev/null || t_fail "quorum --json does not parse: $(cat "$T_DIR/q$i.json")"
	role=$(val "$T_DIR/q$i" role)
	jcheck "$T_DIR/q$i.json" "v['quorum_slot_nr'] == $i" "v['member'] is True" \
		"v['rid'] == 0x$(val "$T_DIR/q$i" rid)" "v['role'] == '$role'" "v['term'] == $term" \
		"v['leader_slot'] == $srv" "v['server'] == {'addr': '$port', 'term': $term}" \
		"v['votes_needed'] == 2" "v['heartbeat_timeout_ms'] == $HB" "v['agent'] == 'running'" \
		"[s['slot'] for s in v['slots']] == [0, 1, 2]" \
		"[s['slot'] for s in v['slots'] if s['this_mount']] == [$i]" \
		"all(s['last_recv_ms_ago'] is None or s['last_recv_ms_ago'] >= 0 for s in v['slots'])" \
		"v['counters']['elected'] == (1 if $i == $srv else 0)"
	[ "$i" -eq "$srv" ] && continue
	jcheck "$T_DIR/q$i.json" "v['slots'][$srv]['last_recv_ms_ago'] < $HB" \
		"v['counters']['recv_heartbeat'] > 0"
done
# anyone may read it
nobody env SCOUTFS_RUN_DIR="$T_DIR/run.mnt0" "$SCOUTFS" quorum -p "${T_CMNT[0]}" >"$T_DIR/qn" ||
	t_fail "quorum as uid 65534: $(cat "$T_DIR/qn")"
same "uid 65534's view of mount 0's slot" 0 "$(val "$T_DIR/qn" quorum_slot_nr)"
q 0 --help | head -1 | grep -q -- '\[--json\]$' || t_fail "quorum --help usage"
t_expect_fail "unexpected argument 'x'" q 0 x

# === a plain client ==========================================================
C="$T_DIR/client"
t_mount_client "$C" "quorum_heartbeat_timeout_ms=$HB"
t_mount_wait "$C" 60
t_scoutfs_at "$C" quorum -p "$C" >"$T_DIR/qc" || t_fail "quorum on the client: $(cat "$T_DIR/qc")"
same "the client's slot" "not a member" "$(val "$T_DIR/qc" quorum_slot_nr)"
same "the client's agent" "not a member" "$(val "$T_DIR/qc" agent)"
same "the client's role" none "$(val "$T_DIR/qc" role)"
same "the client's server" "$port term $term" "$(val "$T_DIR/qc" server)"
[ "$(grep -c '^slot .* last message never$' "$T_DIR/qc")" -eq 3 ] ||
	t_fail "the client heard from a slot: $(cat "$T_DIR/qc")"
t_scoutfs_at "$C" quorum -p "$C" --json >"$T_DIR/qc.json" || t_fail "quorum --json on the client"
jcheck "$T_DIR/qc.json" "v['quorum_slot_nr'] is None" "v['member'] is False" "v['role'] == 'none'" \
	"v['server'] == {'addr': '$port', 'term': $term}" "len(v['slots']) == 3"
t_scoutfs_at "$C" fence-requests -p "$C" >"$T_DIR/frc" || t_fail "fence-requests on the client"
[ ! -s "$T_DIR/frc" ] || t_fail "the client lists fence requests: $(cat "$T_DIR/frc")"
t_umount "$C"

# === no fence requests =======================================================
for i in 0 1 2; do
	fr "$i" >"$T_DIR/fr$i" 2>&1 || t_fail "fence-requests on mount $i: $(cat "$T_DIR/fr$i")"
	[ ! -s "$T_DIR/fr$i" ] || t_fail "mount $i lists fence requests: $(cat "$T_DIR/fr$i")"
	same "fence-requests --json on mount $i" "[]" "$(fr "$i" --json)"
done
t_expect_fail "no pending fence request for rid 0123456789abcdef on this mount" \
	fr "$srv" --fenced 0123456789abcdef
fr "$srv" --error 0x42 >"$T_DIR/out" 2>"$T_DIR/err"
same "status of answering an unknown rid" 1 "$?"
grep -q "no pending fence request for rid 0000000000000042" "$T_DIR/err" ||
	t_fail "--error of an unknown rid said: $(cat "$T_DIR/err")"
fr "$srv" --fenced xyz 2>"$T_DIR/err"
same "status of a rid that is not hex" 2 "$?"
grep -q "'xyz' is not a rid" "$T_DIR/err" || t_fail "a bad rid said: $(cat "$T_DIR/err")"
t_expect_fail "one --fenced or --error" fr "$srv" --fenced 1 --error 2
fr "$srv" --help | head -1 | grep -q -- '\[--json\]$' || t_fail "fence-requests --help usage"
# anyone may list; answering needs root
same "fence-requests as uid 65534" "" \
	"$(nobody env SCOUTFS_RUN_DIR="$T_DIR/run.mnt$srv" "$SCOUTFS" fence-requests -p "${T_CMNT[$srv]}")"
t_expect_fail "Operation not permitted \(answering a fence request needs root\)" \
	nobody env SCOUTFS_RUN_DIR="$T_DIR/run.mnt$srv" "$SCOUTFS" fence-requests \
	-p "${T_CMNT[$srv]}" --fenced 0123456789abcdef

# === a real request: the leader is killed, nobody fences it ===================
old_rid=$(val "$T_DIR/q$srv" rid)
a=$(((srv + 1) % 3))
b=$(((srv + 2) % 3))
echo before >"${T_CMNT[$a]}/f" || t_fail "write before the kill"
t_fsync "${T_CMNT[$a]}/f" "${T_CMNT[$a]}"
t_kill_mount "${T_CMNT[$srv]}"

# elected: it writes FENCE only once the old leader is fenced, which nobody does yet
for ((try = 0; try < 300; try++)); do
	read -r nsrv nterm < <(t_quorum_elected "$META" 3)
	[ "$nsrv" -ge 0 ] && [ "$nsrv" -ne "$srv" ] && break
	sleep 0.1
done
[ "$nsrv" -ge 0 ] && [ "$nsrv" -ne "$srv" ] || t_fail "no new leader after killing slot $srv"
[ "$nterm" -gt "$term" ] || t_fail "the new leader's term $nterm is not above $term"
nf=$(((nsrv + 1) % 3))
[ "$nf" -eq "$srv" ] && nf=$(((nsrv + 2) % 3))

# the new leader asks for the old one to be fenced, and waits
for ((try = 0; try < 300; try++)); do
	fr "$nsrv" >"$T_DIR/frn" || t_fail "fence-requests on the new leader: $(cat "$T_DIR/frn")"
	grep -q "^rid $old_rid " "$T_DIR/frn" && break
	sleep 0.1
done
grep -Eq "^rid $old_rid addr 127\.0\.0\.1 reason quorum_block_leader elapsed_secs [0-9]+ state pending$" \
	"$T_DIR/frn" || t_fail "no pending request for the old leader $old_rid: $(cat "$T_DIR/frn")"
[ "$(wc -l <"$T_DIR/frn")" -eq 1 ] || t_fail "want one fence request: $(cat "$T_DIR/frn")"
fr "$nsrv" --json >"$T_DIR/frn.json" || t_fail "fence-requests --json on the new leader"
jcheck "$T_DIR/frn.json" "len(v) == 1" "v[0]['rid'] == 0x$old_rid" "v[0]['addr'] == '127.0.0.1'" \
	"v[0]['reason'] == 'quorum_block_leader'" "v[0]['state'] == 'pending'" \
	"v[0]['elapsed_secs'] == v[0]['elapsed_ms'] // 1000"
fr "$nf" >"$T_DIR/frf" || t_fail "fence-requests on the surviving follower"
[ ! -s "$T_DIR/frf" ] || t_fail "the surviving follower lists requests: $(cat "$T_DIR/frf")"

# nothing is committed until it is fenced: answer it, then a survivor's write completes
fr "$nsrv" --fenced "$old_rid" --json >"$T_DIR/answer.json" || t_fail "--fenced $old_rid"
jcheck "$T_DIR/answer.json" "v == {'rid': 0x$old_rid, 'answer': 'fenced'}"
timeout 60 sh -c "echo x > '${T_CMNT[$a]}/f'" || t_fail "a survivor's write did not complete after the fence answer"
t_fsync "${T_CMNT[$a]}/f"
same "the other survivor reads the write" x "$(cat "${T_CMNT[$b]}/f")"
for ((try = 0; try < 100; try++)); do
	fr "$nsrv" >"$T_DIR/frn" || t_fail "fence-requests on the new leader after the answer"
	[ -s "$T_DIR/frn" ] || break
	sleep 0.1
done
[ ! -s "$T_DIR/frn" ] || t_fail "the answered request stays: $(cat "$T_DIR/frn")"
log="$T_DIR/scoutfsd.mnt$nsrv.log"
grep -q "ctl: pid [0-9]* (uid 0) answered the fence request of rid $old_rid: fenced" "$log" ||
	t_fail "the new leader did not log the answer: $(grep fence "$log" | tail -3)"
grep -q "fence: rid $old_rid (quorum_block_leader) fenced after" "$log" ||
	t_fail "the request was not taken as fenced: $(grep fence "$log" | tail -3)"

# the new leader's quorum: leader of the new term, the old leader found
q "$nsrv" >"$T_DIR/qn$nsrv" || t_fail "quorum on the new leader"
same "the new leader's role" leader "$(val "$T_DIR/qn$nsrv" role)"
same "the new leader's term" "$nterm" "$(val "$T_DIR/qn$nsrv" term)"
grep -Eq "^old_leader +slot $srv rid $old_rid term $term$" "$T_DIR/qn$nsrv" ||
	t_fail "the new leader does not show the old one: $(cat "$T_DIR/qn$nsrv")"
q "$nf" >"$T_DIR/qn$nf" || t_fail "quorum on the surviving follower"
same "the surviving follower's leader" "$nsrv" "$(val "$T_DIR/qn$nf" leader_slot)"
same "the surviving follower's term" "$nterm" "$(val "$T_DIR/qn$nf" term)"

t_cluster_umount
echo "slot $srv led term $term; killed, slot $nsrv leads term $nterm after its fence request was answered"
