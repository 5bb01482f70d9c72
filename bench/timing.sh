# Timing helpers of the benchmark scripts (sourced).
now() { date +%s.%N; }
best_of() { # best_of N CMD... : best wall time in ms of N runs (CMD gets the run number)
    local n=$1 best="" t0 t1 ms
    shift
    for ((i = 0; i < n; i++)); do
        t0=$(now); "$@" "$i" >/dev/null; t1=$(now)
        ms=$(echo "($t1 - $t0) * 1000" | bc -l)
        if [[ -z $best ]] || (($(echo "$ms < $best" | bc -l))); then best=$ms; fi
    done
    printf '%.1f' "$best"
}
