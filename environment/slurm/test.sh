#!/usr/bin/env bash
# npm run test:slurm — environment/slurm/grid.sbatch on a real single-node SLURM cluster started here.
# As root on Debian: installs slurmctld, slurmd and munge if missing, starts munged, slurmctld and slurmd on a
# scratch folder (this host is controller and node), submits the loss table's smoke grid (2 variants x 3 seeds
# = 6 runs) as a 2-task array into a scratch runs folder, requeues task 1 after its first run while it runs, and
# checks: both tasks completed, task 1 ran twice, every run of the grid exists exactly once and nothing else
# (no temp or checkpoint folders), runs finished before the requeue were not redone, no run was trained by two
# tasks, and two runs' metrics.json equal those of the same configs run locally. Stops every daemon it started.
# MEDREL_SLURM_KEEP=1 keeps the scratch folder (configuration, daemon and job logs) for a look afterwards;
# MEDREL_SLURM_RESULT=<file.json> writes the outcome and timings there.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TABLE=loss PRESET=smoke SEEDS=3 TASKS=2
passed=0 failed=0
ok() { echo "ok   - $*"; passed=$((passed + 1)); }
bad() { echo "FAIL - $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
say() { echo "[test:slurm] $*"; }
# wait_for SECONDS COMMAND...: poll until COMMAND succeeds; false on timeout
wait_for() { local end=$((SECONDS + $1)); shift; until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done; }

write_result() {
  python3 - "$1" <<PY
import json, sys
json.dump({"what": "npm run test:slurm (loss table, smoke preset, $SEEDS seeds, $TASKS-task array, one requeue)",
           "date": "$(date -u +%F)", "slurm": "$(slurmctld -V 2>/dev/null)", "cpus": "$(nproc)",
           "passed": $passed, "failed": $failed, "install_seconds": ${install_s:-0},
           "array_seconds": ${array_s:-null}, "wall_seconds": $SECONDS,
           "load_average_at_end": "$(cut -d' ' -f1-3 /proc/loadavg)"}, open(sys.argv[1], "w"), indent=1)
PY
}

if [ "$(id -u)" != 0 ]; then
  echo "test:slurm needs root: it installs and starts munged, slurmctld and slurmd"
  echo "0 passed, 1 failed"
  exit 1
fi

# --- install --------------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
  say "installing slurmctld, slurmd, munge (apt)"
  install_t0=$SECONDS
  # keep the packages' own services from starting (this test starts its own daemons, and stops them again)
  policy=/usr/sbin/policy-rc.d
  [ -e $policy ] || { printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy && made_policy=1; }
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
  rc=$?
  [ -z "${made_policy:-}" ] || rm -f $policy
  install_s=$((SECONDS - install_t0))
  [ $rc = 0 ] || { echo "apt-get install failed"; echo "0 passed, 1 failed"; exit 1; }
fi
say "$(slurmctld -V), $(munged -V 2>&1 | head -1)"

# --- scratch cluster ------------------------------------------------------------------------------
W=$(mktemp -d /tmp/medrel-slurm.XXXXXX)
chmod 755 "$W" # munged wants every folder above its socket searchable by all
mkdir -p "$W"/{etc,munge-key,munge-run,state,spool,log,logs,runs,before,local}
chmod 700 "$W/munge-key"
chmod 755 "$W/munge-run"
# every process started here (daemons, slurmstepd, the job's processes) carries this marker: the final check
# finds leftovers by it
MARK="MEDREL_SLURM_TEST=$W"
export SLURM_CONF="$W/etc/slurm.conf"
pids=()

cleanup() {
  local rc=$?
  trap '' INT TERM HUP PIPE # finish cleaning up whatever happens to the terminal or the pipe we print to
  if [ -n "${jobid:-}" ] && [ -n "${ctld_pid:-}" ]; then
    scancel "$jobid" 2>/dev/null
    wait_for 60 idle_queue || bad "jobs still queued 60 s after scancel"
  fi
  if [ "$failed" -gt 0 ] || [ $rc -ne 0 ]; then
    for f in "$W"/log/*.log "$W"/logs/*.out; do [ -f "$f" ] && { echo "--- $f (tail)"; tail -n 25 "$f"; }; done
  fi
  # stop in reverse order: slurmd, slurmctld, munged
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null; wait "${pids[i]}" 2>/dev/null; done
  local left=()
  for e in /proc/[0-9]*/environ; do
    { tr '\0' '\n' <"$e" | grep -qxF "$MARK"; } 2>/dev/null && left+=("$(basename "$(dirname "$e")")")
  done
  if [ ${#left[@]} -gt 0 ]; then
    bad "processes left running after cleanup: ${left[*]} ($(ps -o comm= -p "$(IFS=,; echo "${left[*]}")" | tr '\n' ' ')); killing them"
    kill -9 "${left[@]}" 2>/dev/null
  else
    ok "nothing left running (daemons, slurmstepd and job processes all gone)"
  fi
  if [ "${MEDREL_SLURM_KEEP:-0}" = 1 ]; then say "kept $W"; else rm -rf "$W"; fi
  echo "$passed passed, $failed failed"
  [ -z "${MEDREL_SLURM_RESULT:-}" ] || write_result "$MEDREL_SLURM_RESULT"
  # an explicit status: a bare `exit` inside an EXIT trap keeps the status from before the trap (POSIX), so failed
  # checks would not fail the test
  if [ "$failed" -eq 0 ] && [ $rc -eq 0 ]; then exit 0; fi
  exit 1
}
trap cleanup EXIT
# signals that would end the shell without its EXIT trap (e.g. `npm run test:slurm | head` closing the pipe)
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
host=$(hostname -s)
node_line=$(slurmd -C | head -n 1) # NodeName=<host> CPUs=... RealMemory=...: this machine as it is
cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node_line")
[ "${cpus:-0}" -ge "$TASKS" ] || say "only ${cpus:-?} CPUs: the $TASKS tasks will run one after the other"
dd if=/dev/urandom of="$W/munge-key/munge.key" bs=1024 count=1 status=none
chmod 400 "$W/munge-key/munge.key"
: >"$W/etc/plugstack.conf"
cat >"$SLURM_CONF" <<EOF
# a one-node cluster for npm run test:slurm: no cgroups (proctrack/linuxproc, task/none), no accounting
ClusterName=medreltest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$W/munge-run/munge.socket
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/state/slurmctld.pid
SlurmdPidFile=$W/spool/slurmd.pid
SlurmctldLogFile=$W/log/slurmctld.log
SlurmdLogFile=$W/log/slurmd.log
PlugStackConfig=$W/etc/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
KillWait=5
MinJobAge=600
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=medreltest Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

env "$MARK" munged -F --socket="$W/munge-run/munge.socket" --key-file="$W/munge-key/munge.key" \
  --pid-file="$W/munge-run/munged.pid" --seed-file="$W/munge-key/munged.seed" --log-file="$W/log/munged.log" \
  >"$W/log/munged.out" 2>&1 &
pids+=($!)
wait_for 20 test -S "$W/munge-run/munge.socket" || { bad "munged did not start"; exit 1; }
env "$MARK" slurmctld -D -i >"$W/log/slurmctld.out" 2>&1 &
ctld_pid=$!
pids+=("$ctld_pid")
env "$MARK" slurmd -D >"$W/log/slurmd.out" 2>&1 &
pids+=($!)
node_idle() { [ "$(sinfo -h -N -o %T 2>/dev/null)" = idle ]; }
if wait_for 60 node_idle; then ok "munged, slurmctld and slurmd started; sinfo shows $host idle"; else bad "node not idle within 60 s: $(sinfo -h -N -o '%T %E' 2>&1)"; exit 1; fi

# --- the array ------------------------------------------------------------------------------------
idle_queue() { [ -z "$(squeue -h 2>/dev/null)" ]; }
t0=$SECONDS
jobid=$(env "$MARK" sbatch --parsable --array=0-$((TASKS - 1)) --cpus-per-task=1 --mem=2G --time=00:15:00 \
  --chdir="$ROOT" --output="$W/logs/%x-%A_%a.out" \
  --export="ALL,MEDREL_TABLE=$TABLE,MEDREL_PRESET=$PRESET,MEDREL_SEEDS=$SEEDS,MEDREL_RUNS_DIR=$W/runs" \
  environment/slurm/grid.sbatch) || { bad "sbatch failed"; exit 1; }
say "submitted array job $jobid ($TABLE table, $PRESET preset, $SEEDS seeds, $TASKS tasks)"
log1="$W/logs/medrel-grid-${jobid}_1.out"
first_run_done() { grep -q '^\[medrel\] 1/' "$log1" 2>/dev/null; }
if wait_for 240 first_run_done && [ "$(squeue -h -j "${jobid}_1" -o %T)" = RUNNING ]; then
  # what exists now must not be trained again
  # committed run folders only (named as their hash): a run being written sits in a temp folder beside them, whose
  # run.json is gone (renamed into place) by the time the check compares
  for d in "$W"/runs/*/run.json; do
    h=$(basename "$(dirname "$d")")
    [[ $h =~ ^[0-9a-f]{12}$ ]] && [ -f "$d" ] && cp "$d" "$W/before/$h.json"
  done
  if scontrol requeue "${jobid}_1"; then
    ok "task 1 requeued while running, after its first run ($(ls "$W/before" | wc -l) runs complete then)"
    # slurmctld holds a requeued job back (Reason=BeginTime, about 2 min); release it sooner, but not within the
    # second of the kill: slurmd refuses a launch whose credential is that old ("already killed, do not launch")
    requeued() { [ "$(squeue -h -j "${jobid}_1" -o %T)" = PENDING ]; }
    if wait_for 60 requeued; then sleep 2; scontrol update JobId="${jobid}_1" StartTime=now; else bad "task 1 not pending again within 60 s"; fi
  else
    bad "scontrol requeue ${jobid}_1 failed"
  fi
else
  bad "task 1 did not finish a run while running within 240 s"
fi
if wait_for 420 idle_queue; then array_s=$((SECONDS - t0)); ok "array finished in $array_s s"; else bad "array not finished within 420 s"; exit 1; fi

# --- checks ---------------------------------------------------------------------------------------
job_field() { scontrol -o show job "${jobid}_$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
for t in $(seq 0 $((TASKS - 1))); do
  check "task $t completed with exit code 0:0" test "$(job_field "$t" JobState) $(job_field "$t" ExitCode)" = "COMPLETED 0:0"
done
check "task 1 was restarted once (Restarts=1), task 0 never" test "$(job_field 1 Restarts) $(job_field 0 Restarts)" = "1 0"

npx tsx environment/slurm/grid-hashes.ts "$TABLE" "$PRESET" "$SEEDS" "$TASKS" >"$W/expected.txt" || bad "grid-hashes.ts failed"
folders=$(cut -d' ' -f1 "$W/expected.txt" | sort)
expected=$(grep -v '^teacher-' <<<"$folders")
teachers=$(grep '^teacher-' <<<"$folders")
check "the grid has $((2 * SEEDS)) distinct runs and $((2 * SEEDS)) n-gram teachers" test "$(wc -l <<<"$expected") $(wc -l <<<"$teachers")" = "$((2 * SEEDS)) $((2 * SEEDS))"
check "runs folder holds exactly the grid's runs and teachers (no temp, checkpoint or stray folders)" test "$(ls "$W/runs" | sort)" = "$folders"
complete() { for h in $expected; do for f in config.json metrics.json history.json run.json; do [ -f "$W/runs/$h/$f" ] || return 1; done; done; }
check "every run folder is complete" complete
fitted() { for h in $teachers; do [ -f "$W/runs/$h/teacher.json" ] || return 1; done; }
check "every teacher folder is complete" fitted
not_redone() { for f in "$W"/before/*.json; do cmp -s "$f" "$W/runs/$(basename "$f" .json)/run.json" || return 1; done; }
check "runs complete before the requeue were not trained again (run.json unchanged)" not_redone
# task 1's log: one header per attempt; the first attempt stopped short of its shard
shard2=$(grep -v '^teacher-' "$W/expected.txt" | grep -c ' 2$')
attempts=$(awk '/^\[grid\] job /{a++} /^\[medrel\] [0-9]+\//{n[a]++} END{printf "%d %d %d", a, n[1], n[2]}' "$log1")
read -r n_attempts first second <<<"$attempts"
interrupted_midway() { [ "$n_attempts" = 2 ] && [ "$first" -ge 1 ] && [ "$first" -lt "$shard2" ] && [ "$second" = "$shard2" ]; }
check "task 1 ran twice: attempt 1 finished $first of its $shard2 runs, attempt 2 all $shard2" interrupted_midway
once() {
  local h n
  for h in $expected; do
    n=$(grep -l "^\[medrel\] [0-9]*/[0-9]* $h " "$W"/logs/*.out | wc -l)
    [ "$n" = 1 ] || { echo "  $h reported by $n tasks"; return 1; }
  done
}
check "each run was done by one task only" once

# two configs again, locally (one process each): the run task 1 was in when requeued, and one of task 0's
interrupted=$(awk -v k="$((first + 1))" '/^\[grid\] job /{a++} a==2 && /^\[medrel\] [0-9]+\//{if (++i == k) print $3}' "$log1")
other=$(awk '$2 == 1 && $1 !~ /^teacher-/ {print $1; exit}' "$W/expected.txt")
same_run() { cmp -s "$W/runs/$1/config.json" "$2/config.json" && cmp -s "$W/runs/$1/metrics.json" "$2/metrics.json"; }
for h in $interrupted $other; do
  out="$W/local/$h"
  MEDREL_BLAS_THREADS=1 npm run --silent experiment -- --preset "$PRESET" --config "$W/runs/$h/config.json" --out "$out" >"$W/log/local-$h.log" 2>&1 ||
    bad "local run of $h failed (see $W/log/local-$h.log)"
  check "run $h: config.json and metrics.json of a local run of its config equal the cluster's" same_run "$h" "$out"
done
