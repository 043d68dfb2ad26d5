#!/usr/bin/env bash
# A single-node SLURM on localhost, for trying profiles/slurm and for CI. Debian 12, as root, no
# systemd needed: the daemons are started directly and stopped by their own pid files.
#
#   scripts/local-slurm.sh up      # install slurmctld/slurmd/slurm-client/munge if missing, start them
#   scripts/local-slurm.sh down    # stop ONLY what `up` started (by pid), remove its fake GPU devices
#   scripts/local-slurm.sh status  # sinfo + squeue
#
# The node offers this machine's cores and memory (from `slurmd -C`) and two FAKE GPUs (gres
# `gpu:fake:2`, character devices /dev/fakegpu0-1): jobs asking for GPUs get scheduled and SLURM sets
# CUDA_VISIBLE_DEVICES, but there is no CUDA, so emcom falls back to CPU/gloo. EnforcePartLimits=ALL
# makes an impossible request fail at `sbatch` instead of pending forever. No accounting database:
# use `slurm-status-command: squeue` (profiles/slurm does) and keep MinJobAge high (3600 s here: the CI DAG's first jobs are checked after it ends).
# State, logs and pid files live in $EMCOM_SLURM_DIR (default /tmp/emcom-slurm). The config goes to
# /etc/slurm/slurm.conf, which this script writes only if it is absent or was written by this script.
set -euo pipefail

STATE=${EMCOM_SLURM_DIR:-/tmp/emcom-slurm}
CONF_DIR=/etc/slurm
MARK="# written by emcom scripts/local-slurm.sh"
FAKE_GPUS=(/dev/fakegpu0 /dev/fakegpu1)

log() { echo "local-slurm: $*" >&2; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds
    local seconds=$1 what=$2
    shift 2
    for _ in $(seq $((seconds * 4))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.25
    done
    log "gave up waiting for $what after ${seconds} s"
    return 1
}

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
    local missing=()
    for cmd in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
        command -v "${cmd%%:*}" >/dev/null 2>&1 || missing+=("${cmd#*:}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]} (apt-get)"
        # The packages' postinst scripts try to start services; without systemd that is refused, harmlessly.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$STATE/apt.log" 2>&1 \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$STATE/apt.log" 2>&1; } \
            || { log "apt-get install failed, see $STATE/apt.log"; exit 1; }
    fi
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        log "munged already answers: using it"
        return
    fi
    if [ ! -s /etc/munge/munge.key ]; then
        install -d -o munge -g munge -m 700 /etc/munge
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    fi
    install -d -o munge -g munge -m 755 /run/munge
    install -d -o munge -g munge -m 700 "$STATE/munge"
    su -s /bin/sh munge -c "munged --pid-file=$STATE/munge/munged.pid --log-file=$STATE/munge/munged.log"
    cp "$STATE/munge/munged.pid" "$STATE/munged.pid"
    wait_for 10 "munge" sh -c 'munge -n | unmunge'
}

make_fake_gpus() {
    # slurmd ignores a GPU whose File= is not a character device; these are /dev/null and /dev/zero.
    local minor=3
    for dev in "${FAKE_GPUS[@]}"; do
        if [ ! -e "$dev" ]; then
            mknod "$dev" c 1 "$minor"
            echo "$dev" >>"$STATE/created-devices"
        fi
        minor=5
    done
}

write_config() {
    if [ -e "$CONF_DIR/slurm.conf" ] && ! grep -qF "$MARK" "$CONF_DIR/slurm.conf"; then
        log "$CONF_DIR/slurm.conf exists and was not written by this script: not touching it"
        exit 1
    fi
    local host node
    host=$(hostname -s)
    # "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105"
    node=$(slurmd -C | head -1 | sed -e 's/ Boards=[0-9]*//' -e 's/SocketsPerBoard=/Sockets=/')
    install -d "$CONF_DIR" "$STATE/ctld" "$STATE/d"
    cat >"$CONF_DIR/slurm.conf" <<EOF
$MARK (state in $STATE)
ClusterName=emcom
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
# No cgroups in a container: track processes by /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue and scontrol for an hour (the snakemake plugin polls squeue;
# the CI tests read the first training jobs after the whole DAG).
MinJobAge=3600
# An impossible request (more CPUs, GPUs, memory or nodes than exist) fails at submission.
EnforcePartLimits=ALL
ReturnToService=2
GresTypes=gpu
$node Gres=gpu:fake:${#FAKE_GPUS[@]} State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    cat >"$CONF_DIR/gres.conf" <<EOF
$MARK
AutoDetect=off
Name=gpu Type=fake File=/dev/fakegpu[0-$((${#FAKE_GPUS[@]} - 1))]
EOF
}

node_idle() { sinfo -h -N -o '%T' | grep -qx idle; }

up() {
    mkdir -p "$STATE"
    if alive "$STATE/slurmctld.pid" && alive "$STATE/slurmd.pid"; then
        log "already up (pids in $STATE)"
        return
    fi
    local start=$SECONDS
    install_packages
    start_munge
    make_fake_gpus
    write_config
    slurmctld -c      # -c: ignore saved state from an earlier run
    wait_for 30 "slurmctld" scontrol ping
    slurmd
    if ! wait_for 30 "an idle node" node_idle; then
        scontrol update nodename="$(hostname -s)" state=resume || true
        wait_for 15 "an idle node" node_idle || { sinfo -N -l >&2; exit 1; }
    fi
    log "up in $((SECONDS - start)) s: $(sinfo -h -N -o '%N %T cpus=%c mem=%m gres=%G')"
}

stop_pid() {  # stop_pid NAME PIDFILE
    local name=$1 pidfile=$2
    if alive "$pidfile"; then
        local pid
        pid=$(cat "$pidfile")
        kill "$pid"
        for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        if kill -0 "$pid" 2>/dev/null; then log "$name (pid $pid) still running, sending KILL"; kill -9 "$pid"; fi
        log "stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
}

down() {
    stop_pid slurmd "$STATE/slurmd.pid"
    stop_pid slurmctld "$STATE/slurmctld.pid"
    stop_pid munged "$STATE/munged.pid"   # only present when `up` started munged
    if [ -f "$STATE/created-devices" ]; then
        xargs -r rm -f <"$STATE/created-devices"
        rm -f "$STATE/created-devices"
    fi
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) sinfo -N -l; squeue ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
