# What every scripts/bench-*.sh needs, in one place: timing, medians and the line that says on
# which machine and commit the figures were taken (shared build machines: the load says how
# much they are inflated). Sourced, never run:
#   source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"

# now: a timestamp for seconds_since, in nanoseconds.
now() { date +%s%N; }

# seconds_since START [DECIMALS]: seconds from START (a `now`) until now, to DECIMALS places
# (default 3).
seconds_since() {
    local end
    end=$(now)
    awk -v start="$1" -v end="$end" -v places="${2:-3}" 'BEGIN { printf "%.*f\n", places, (end - start) / 1e9 }'
}

# median [DECIMALS [NONE]]: the median of the numbers on stdin (any whitespace between them;
# words that are not numbers, such as `nan` or `failed` for a run that failed, are left out).
# With DECIMALS it is printed to that many places; without, a middle value as it was written
# (the mean of the two middle ones for an even count). NONE (default `nan`) when there is none.
median() {
    tr -s ' \t' '\n\n' | grep -E '^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$' | sort -g |
        awk -v places="${1:-}" -v none="${2:-nan}" '
            { v[NR] = $1 }
            END {
                if (NR == 0) { print none; exit }
                if (places == "") { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2); exit }
                printf "%.*f\n", places, (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)
            }'
}

# The parts of the machine line, for scripts that print them their own way.
bench_commit() { git rev-parse --short HEAD 2>/dev/null || echo unknown; }
bench_cores() { nproc; }
# bench_load [FIELDS]: the load average (default the last minute's; `1-3`: all three).
bench_load() { cut -d' ' -f"${1:-1}" /proc/loadavg; }

# bench_machine: `commit abc1234, 2 cores, load 0.52`.
bench_machine() { echo "commit $(bench_commit), $(bench_cores) cores, load $(bench_load)"; }
