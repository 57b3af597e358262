# Shared by the benchmark queues (benchmarks/queue_session*.sh): source it from the repository root.
# Gives PY and VF (the venv's python and vlaforge), log and run (timestamped job lines, one job at a
# time), NOVIDEO (the flags for demos only: empty action-free tuples), wait_for PID (a job started
# before the queue finishes first), and collect_mt10_data (the protocol's datasets, skipped when present).
export MUJOCO_GL=egl
PY=.venv/bin/python
VF=.venv/bin/vlaforge
log() { echo "[queue] $(date +%H:%M:%S) $*"; }
run() { log "start: $*"; "$@"; log "done ($?): $*"; }
NOVIDEO=(--data.action-free-roots --data.action-free-weights)
wait_for() { while kill -0 "$1" 2>/dev/null; do sleep 5; done; }

# the protocol's MT10 demos, held-out episodes (seeds 5000+) and MT40 action-free video
collect_mt10_data() {
    [ -f data/mt10_64/meta/info.json ] || run $VF collect metaworld --tasks mt10 --episodes-per-task 50 \
        --image-size 64 --cameras corner2,gripperPOV --out data/mt10_64 --workers 2
    [ -f data/mt10_64_heldout/meta/info.json ] || run $VF collect metaworld --tasks mt10 --episodes-per-task 3 \
        --image-size 64 --cameras corner2,gripperPOV --seed-start 5000 --out data/mt10_64_heldout --workers 2
    [ -f data/mt40_video_64/meta/info.json ] || run $VF collect metaworld --tasks mt40 --episodes-per-task 10 \
        --no-actions --out data/mt40_video_64 --workers 2
}
