#!/usr/bin/env bash
# A one-node SLURM cluster on localhost, for the tests marked `slurm` and for trying `hydra/launcher=slurm`.
#
#   scripts/slurm/cluster.sh install   # apt packages; quick when they are installed
#   scripts/slurm/cluster.sh start     # install, write the configs, start the daemons, wait until the node is
#                                      # idle; quick when the cluster is already up
#   scripts/slurm/cluster.sh status    # sinfo and exit 0 when the cluster answers, exit 1 otherwise
#   scripts/slurm/cluster.sh stop      # cancel the cluster's jobs, stop the daemons (the state stays)
#   scripts/slurm/cluster.sh clean     # stop, then delete the state directory
#
# Run as root: it installs Debian packages and starts the daemons directly, as root (no systemd needed).
# Every generated file (slurm.conf, slurmdbd.conf, munge key and socket, the accounting database, spool,
# logs, pid files) lives in one directory outside the repository, $RGP_SLURM_STATE (default
# /var/lib/rgp-bench-slurm); `clean`, or stopping and deleting it, removes the cluster.
#
# The cluster: one node `localhost` (this machine's CPUs and memory, from `slurmd -C`) in one partition `debug`
# (the default), no GPUs. Accounting goes through slurmdbd to a private MariaDB (127.0.0.1:$RGP_SLURM_DB_PORT),
# so that `sacct`, which submitit polls for job states, works; if that part cannot start, the cluster
# starts without accounting and says so (jobs still run; submitit then warns on every poll).
# SLURM's commands find the config through /etc/slurm/slurm.conf, which `start` links to the generated one
# unless another cluster's config is there (then export SLURM_CONF, as `start` says).
set -euo pipefail

STATE=${RGP_SLURM_STATE:-/var/lib/rgp-bench-slurm}
ACCOUNTING=${RGP_SLURM_ACCOUNTING:-slurmdbd}  # or none: no slurmdbd, no database (sacct then fails)
DB_PORT=${RGP_SLURM_DB_PORT:-16033}
START_TIMEOUT=${RGP_SLURM_START_TIMEOUT:-90}
CONF=$STATE/etc/slurm.conf
DBD_CONF=$STATE/etc/slurmdbd.conf
MUNGE_SOCKET=$STATE/munge/munge.socket.2
DB_DIR=$STATE/mysql
DB_SOCKET=$DB_DIR/mysqld.sock
DB_PASS=rgp-bench-slurm  # a throwaway database on 127.0.0.1 that holds job records only
SYSTEM_CONF=/etc/slurm/slurm.conf
CLUSTER=rgpbench
PACKAGES=(slurm-wlm slurm-client munge)
case $ACCOUNTING in
    slurmdbd) PACKAGES+=(slurmdbd mariadb-server-core mariadb-client-core) ;;
    none) ;;
    *) echo "slurm-cluster: error: RGP_SLURM_ACCOUNTING must be slurmdbd or none, not '$ACCOUNTING'" >&2; exit 2 ;;
esac
APT_LOG=/tmp/rgp-bench-slurm-apt.log

say() { echo "slurm-cluster: $*"; }
die() { echo "slurm-cluster: error: $*" >&2; exit 1; }

need_root() {
    [[ $(id -u) -eq 0 ]] || die "run as root (it installs packages and starts the SLURM daemons)"
}

installed() {
    local p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || return 1
    done
}

cmd_install() {
    if installed; then
        say "packages installed (${PACKAGES[*]})"
        return 0
    fi
    need_root
    command -v apt-get >/dev/null || die "apt-get not found: this script needs a Debian or Ubuntu machine"
    say "installing ${PACKAGES[*]} with apt-get (log: $APT_LOG)"
    if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${PACKAGES[@]}"; } >"$APT_LOG" 2>&1; then
        tail -20 "$APT_LOG" >&2
        die "apt-get install failed (log: $APT_LOG)"
    fi
    installed || die "packages still missing after apt-get install (log: $APT_LOG)"
}

pidfile() { echo "$STATE/run/$1.pid"; }  # pidfile DAEMON

pid_alive() {  # pid_alive DAEMON: its pid file names a running process of that name (a stale pid is not ours)
    local file pid
    file=$(pidfile "$1")
    [[ -s $file ]] || return 1
    pid=$(cat "$file")
    [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]]
}

stop_daemon() {  # stop_daemon DAEMON: SIGTERM, SIGKILL after 15 s
    local name=$1 file pid
    file=$(pidfile "$name")
    if ! pid_alive "$name"; then
        rm -f "$file"
        return 0
    fi
    pid=$(cat "$file")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name (pid $pid) ignored SIGTERM; killing it"
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
    say "stopped $name (pid $pid)"
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...: poll COMMAND every 0.5 s
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || { say "timed out waiting for $what"; return 1; }
        sleep 0.5
    done
}

node_line() {  # this machine as a NodeName line, from slurmd -C (else nproc and /proc/meminfo)
    local hw cpus mem
    if hw=$(slurmd -C 2>/dev/null | head -1) && [[ $hw == NodeName=* ]]; then
        echo "NodeName=localhost NodeAddr=127.0.0.1 ${hw#NodeName=* } State=UNKNOWN"
    else
        cpus=$(nproc)
        mem=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
        echo "NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN"
    fi
}

render_slurm_conf() {  # render_slurm_conf ACCOUNTING (slurmdbd | none): slurm.conf on stdout
    local accounting
    if [[ $1 == slurmdbd ]]; then
        accounting="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePass=$MUNGE_SOCKET"
    else
        accounting="AccountingStorageType=accounting_storage/none"
    fi
    cat <<EOF
# Generated by scripts/slurm/cluster.sh (rewritten on every start): a one-node test cluster on localhost.
ClusterName=$CLUSTER
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=10
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
JobRequeue=1
# Jobs get SIGTERM on scancel/requeue (submitit ignores it) and SIGKILL this many seconds later: short, so a
# requeued test job dies promptly instead of finishing its run first.
KillWait=1
MinJobAge=600
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$(pidfile slurmctld)
SlurmdPidFile=$(pidfile slurmd)
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$accounting
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.log
$(node_line)
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

write_configs() {
    mkdir -p "$STATE"/{etc,log,run,spool/ctld,spool/d,munge} "$DB_DIR"
    chmod 0755 "$STATE" "$STATE/munge"
    render_slurm_conf slurmdbd >"$CONF"
    (
        umask 077  # slurmdbd refuses a config that others can read
        cat >"$DBD_CONF" <<EOF
# Generated by scripts/slurm/cluster.sh: accounting for the one-node test cluster, in a private MariaDB.
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
SlurmUser=root
PidFile=$(pidfile slurmdbd)
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=$DB_PASS
EOF
    )
    chmod 0600 "$DBD_CONF"
    if [[ ! -s $STATE/munge/munge.key ]]; then
        mungekey --create --keyfile="$STATE/munge/munge.key" --force
    fi
    chmod 0400 "$STATE/munge/munge.key"
    # SLURM's commands read /etc/slurm/slurm.conf: link it to ours unless another config lives there.
    mkdir -p "$(dirname "$SYSTEM_CONF")"
    if [[ -L $SYSTEM_CONF || ! -e $SYSTEM_CONF ]]; then
        ln -sfn "$CONF" "$SYSTEM_CONF"
    else
        say "$SYSTEM_CONF belongs to another cluster and is left alone; use this one with: export SLURM_CONF=$CONF"
    fi
}

start_munge() {
    pid_alive munged && return 0
    munged --force --key-file="$STATE/munge/munge.key" --socket="$MUNGE_SOCKET" \
        --pid-file="$(pidfile munged)" --log-file="$STATE/log/munged.log" \
        --seed-file="$STATE/munge/munged.seed" || die "munged did not start (log: $STATE/log/munged.log)"
}

db() { mariadb --no-defaults --socket="$DB_SOCKET" -u root "$@"; }

start_database() {
    if [[ ! -d $DB_DIR/data/mysql ]]; then
        say "creating the accounting database in $DB_DIR/data"
        rm -rf "$DB_DIR/data"
        mariadb-install-db --no-defaults --user=root --datadir="$DB_DIR/data" --skip-test-db \
            --auth-root-authentication-method=socket >"$STATE/log/mariadb-install.log" 2>&1 || {
            say "mariadb-install-db failed (log: $STATE/log/mariadb-install.log)"
            return 1
        }
    fi
    if ! pid_alive mariadbd; then
        setsid mariadbd --no-defaults --user=root --datadir="$DB_DIR/data" --socket="$DB_SOCKET" \
            --pid-file="$(pidfile mariadbd)" --log-error="$STATE/log/mariadb.log" --bind-address=127.0.0.1 \
            --port="$DB_PORT" --skip-name-resolve --innodb-buffer-pool-size=16M </dev/null >/dev/null 2>&1 &
    fi
    wait_for 60 "MariaDB (log: $STATE/log/mariadb.log)" db -e "SELECT 1" || return 1
    db -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
           GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" || return 1
}

start_accounting() {  # MariaDB, then slurmdbd, then the cluster registered with it
    start_database || return 1
    if ! pid_alive slurmdbd; then
        slurmdbd || { say "slurmdbd did not start (log: $STATE/log/slurmdbd.log)"; return 1; }
    fi
    wait_for 60 "slurmdbd (log: $STATE/log/slurmdbd.log)" sacctmgr -n list cluster || return 1
    if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
        sacctmgr -i add cluster "$CLUSTER" >/dev/null || return 1
    fi
}

stop_accounting() {
    stop_daemon slurmdbd
    stop_daemon mariadbd
}

ping_ok() { scontrol ping 2>/dev/null | grep -q "is UP"; }

node_state() { sinfo -h -N -n localhost -o %T 2>/dev/null | head -1; }

healthy() {
    pid_alive slurmctld && pid_alive slurmd && ping_ok &&
        [[ $(node_state) =~ ^(idle|mixed|allocated|completing)$ ]]
}

accounting_mode() {  # what the current slurm.conf uses: slurmdbd | none
    if grep -q '^AccountingStorageType=accounting_storage/slurmdbd' "$CONF"; then echo slurmdbd; else echo none; fi
}

accounting_ok() { sacct -n -X -j 1 >/dev/null 2>&1; }

cmd_start() {
    cmd_install
    export SLURM_CONF=$CONF
    if [[ -s $CONF ]] && healthy; then
        if [[ $(render_slurm_conf "$ACCOUNTING") == "$(cat "$CONF")" ]]; then
            say "already up (node $(node_state); config $CONF)"
            return 0
        fi
        say "the cluster runs another config (older, or accounting $(accounting_mode)): restarting it"
    fi
    need_root
    cmd_stop >/dev/null
    write_configs
    start_munge
    if [[ $ACCOUNTING == none ]]; then
        say "accounting off (RGP_SLURM_ACCOUNTING=none): sacct fails and submitit warns on every poll"
        render_slurm_conf none >"$CONF"
    elif start_accounting; then
        say "accounting up (slurmdbd, MariaDB on 127.0.0.1:$DB_PORT)"
    else
        say "accounting could not start: the cluster runs without it (sacct fails; submitit warns on every poll)"
        stop_accounting >/dev/null
        render_slurm_conf none >"$CONF"
    fi
    say "starting slurmctld and slurmd"
    slurmctld || die "slurmctld did not start (log: $STATE/log/slurmctld.log)"
    slurmd -N localhost || die "slurmd did not start (log: $STATE/log/slurmd.log)"
    local deadline=$((SECONDS + START_TIMEOUT)) state=""
    while ((SECONDS < deadline)); do
        state=$(node_state || true)
        if [[ $state == idle ]]; then
            say "up: node localhost idle in partition debug (config $CONF, state in $STATE)"
            sinfo
            return 0
        fi
        if [[ $state == down* || $state == drain* ]]; then
            scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true
        fi
        sleep 1
    done
    tail -n 5 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
    die "node not idle after ${START_TIMEOUT}s (state: ${state:-unknown}); logs in $STATE/log"
}

cmd_status() {
    export SLURM_CONF=$CONF
    if [[ -s $CONF ]] && ping_ok; then
        sinfo
        if [[ $(accounting_mode) == slurmdbd ]] && accounting_ok; then
            say "accounting: slurmdbd"
        else
            say "accounting: none"
        fi
        return 0
    fi
    say "not running (state directory $STATE)"
    return 1
}

cancel_jobs() {  # jobs would outlive slurmd (their slurmstepd keeps running): cancel them, wait for the end
    local jobs
    jobs=$(squeue -h -o %A 2>/dev/null) || return 0
    [[ -n $jobs ]] || return 0
    say "cancelling the cluster's jobs: $(echo "$jobs" | tr '\n' ' ')"
    # shellcheck disable=SC2086  # one job id per word
    scancel $jobs 2>/dev/null || true
    wait_for 30 "the cancelled jobs to end" no_jobs || true
}

no_jobs() { [[ -z $(squeue -h -o %A 2>/dev/null) ]]; }

cmd_stop() {
    export SLURM_CONF=$CONF
    if [[ -s $CONF ]] && pid_alive slurmctld; then cancel_jobs; fi
    stop_daemon slurmd
    stop_daemon slurmctld
    stop_accounting
    stop_daemon munged
}

cmd_clean() {
    need_root
    cmd_stop
    if [[ -L $SYSTEM_CONF && $(readlink "$SYSTEM_CONF") == "$CONF" ]]; then rm -f "$SYSTEM_CONF"; fi
    rm -rf "$STATE"
    say "removed $STATE"
}

case ${1:-} in
    install) cmd_install ;;
    start) cmd_start ;;
    status) cmd_status ;;
    stop) cmd_stop ;;
    clean) cmd_clean ;;
    *) echo "usage: $0 install|start|status|stop|clean" >&2; exit 2 ;;
esac
