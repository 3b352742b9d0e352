#!/usr/bin/env bash
# The conformance ratchet: runs Valkey 8.0.1's own test suite against this checkout and
# fails when a unit passes fewer tests than its floor in floor.txt beside this script.
#
#   test/conformance/ratchet.sh [external|spawn]...     (default: both modes)
#
# floor.txt has one line per unit, "<mode> <unit> <passed> [distinct]": external-mode units run
# against one server restarted before every unit (the suite's core.sh), spawn-mode units
# let the harness start forkv itself for every test block (run.sh spawn). A unit below its
# floor is run again ($RATCHET_RETRIES times, default 1) before it counts as a failure (a
# few of Valkey's tests are timing-sensitive on a loaded 2-core machine), and the output then
# shows the [err] lines of each run; a unit above its floor is reported so the
# floor can be raised in the same commit. Floors only ever go up.
#
# A unit whose number of tests is random or follows the machine's speed (integration/psync2-reg
# runs a test for each 5% draw of a 20 s loop; integration/psync2 runs as many 10-test cycles
# as fit in 40 s, 4 or 5) is marked "distinct" as a fourth field: its count is then the number
# of distinct test names, with every run of digits taken as one (a cycle number, a replica
# index), that passed and never failed in the run. That is fixed for a healthy server, and a
# test that fails in any cycle lowers it.
#
# The suite lives outside the repository (see DESIGN.md): $FORKV_CONFORMANCE_DIR, else
# ../shared/conformance beside the checkout, else /work/shared/conformance.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
floor_file=$root/test/conformance/floor.txt

suite=""
for d in "${FORKV_CONFORMANCE_DIR:-}" "$root/../shared/conformance" /work/shared/conformance; do
  if [ -n "$d" ] && [ -x "$d/run.sh" ]; then suite=$(cd "$d" && pwd); break; fi
done
[ -n "$suite" ] || { echo "ratchet: Valkey's conformance suite not found (set FORKV_CONFORMANCE_DIR)" >&2; exit 2; }
[ -f "$root/dist/cli.js" ] || { echo "ratchet: no dist/cli.js: build first (npm install)" >&2; exit 2; }

export FORKV_ROOT=$root
# A unit whose test waits forever for something forkv never sends is cut after this long
# without progress (the suite defaults to 300 s).
export HARNESS_TIMEOUT=${HARNESS_TIMEOUT:-120}
out_root=${RATCHET_RESULTS:-${TMPDIR:-/tmp}/forkv-ratchet-$$}
mkdir -p "$out_root"

# Runs units of one mode into a results dir; prints nothing (logs are in the dir).
run_units() {  # mode results_dir units...
  local mode=$1 dir=$2; shift 2
  if [ "$mode" = external ]; then
    (cd "$root" && RESULTS_DIR=$dir "$suite/core.sh" "$@") > "$dir.out" 2>&1 || true
  else
    (cd "$root" && RESULTS_DIR=$dir "$suite/run.sh" spawn "$suite/wrappers/forkv-server" "$@") > "$dir.out" 2>&1 || true
  fi
}

# passed count of a unit in a results dir's summary.tsv (0 when absent)
passed_of() {  # results_dir unit
  awk -F'\t' -v u="$2" 'NR>1 && $1==u {print $2; found=1} END {if (!found) print 0}' "$1/summary.tsv" 2>/dev/null || echo 0
}

# distinct test names a unit passed and never failed, from its log, digit runs folded into
# "#" ("PSYNC2: --- CYCLE 3 ---" and "... CYCLE 4 ---" are one name); a test that fails in
# any run of it, or never runs, as after an [exception], is missing from the count
distinct_passed_of() {  # results_dir unit
  local log=$1/logs/${2//\//_}.log
  [ -f "$log" ] || { echo 0; return; }
  awk '
    /^\[ok\]: /        { name=substr($0, 7); sub(/ \([0-9]+ ms\)$/, "", name); gsub(/[0-9]+/, "#", name); ok[name]=1 }
    /^\[(err|exception)\]: / { name=$0; sub(/^\[[a-z]+\]: /, "", name); sub(/ in .*$/, "", name); gsub(/[0-9]+/, "#", name); bad[name]=1 }
    END { n=0; for (t in ok) if (!(t in bad)) n++; print n }
  ' "$log"
}

# The failed tests of a unit in a results dir, for the CI log: its [err] and [exception] lines
# with the assertion that follows each (the logs themselves stay on the machine).
failures_of() {  # results_dir unit
  local log=$1/logs/${2//\//_}.log
  [ -f "$log" ] || { echo "    (no log: $log)"; return; }
  local lines
  lines=$(grep -E -A2 '^\[(err|exception)\]: ' "$log" | head -n 30 | cut -c1-300 | sed 's/^/    /' || true)
  echo "${lines:-    (no [err] or [exception] line: tests missing from the count did not run)}"
}

count_of() {  # results_dir unit kind
  if [ "$3" = distinct ]; then distinct_passed_of "$1" "$2"; else passed_of "$1" "$2"; fi
}

# How many times a unit below its floor is run again before it counts as a failure.
retries=${RATCHET_RETRIES:-1}
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(external spawn)
status=0
for mode in "${modes[@]}"; do
  case $mode in external|spawn) ;; *) echo "ratchet: unknown mode $mode" >&2; exit 2 ;; esac
  mapfile -t units < <(awk -v m="$mode" '$1==m {print $2}' "$floor_file")
  [ ${#units[@]} -gt 0 ] || continue
  echo "== $mode mode: ${#units[@]} units (logs: $out_root/$mode)"
  start=$SECONDS
  run_units "$mode" "$out_root/$mode" "${units[@]}"
  for unit in "${units[@]}"; do
    want=$(awk -v m="$mode" -v u="$unit" '$1==m && $2==u {print $3}' "$floor_file")
    kind=$(awk -v m="$mode" -v u="$unit" '$1==m && $2==u {print $4}' "$floor_file")
    got=$(count_of "$out_root/$mode" "$unit" "$kind")
    note=""
    runs=("$out_root/$mode")
    while [ "$got" -lt "$want" ] && [ ${#runs[@]} -le "$retries" ]; do
      retry=$out_root/$mode-retry${#runs[@]}-${unit//\//_}
      run_units "$mode" "$retry" "$unit"
      again=$(count_of "$retry" "$unit" "$kind")
      note="$note${note:+,} $again"
      runs+=("$retry")
      [ "$again" -gt "$got" ] && got=$again
    done
    [ -z "$note" ] || note=" (retried:$note)"
    if [ "$got" -lt "$want" ]; then
      verdict="BELOW FLOOR"; status=1
    elif [ "$got" -gt "$want" ]; then
      verdict="above floor: raise it to $got"
    else
      verdict="ok"
    fi
    printf '%-8s %-45s %4d passed%s, floor %4d  %s%s\n' "$mode" "$unit" "$got" "${kind:+ ($kind)}" "$want" "$verdict" "$note"
    # A unit that needed a retry shows what failed in each run (the logs stay on the machine).
    if [ ${#runs[@]} -gt 1 ]; then
      for i in "${!runs[@]}"; do
        echo "  run $((i + 1)) failed:"; failures_of "${runs[$i]}" "$unit"
      done
    fi
  done
  echo "== $mode mode took $((SECONDS - start)) s"
done
[ $status -eq 0 ] && echo "ratchet: every unit at or above its floor" || echo "ratchet: some units fell below their floor (see above and the [err] lines in the logs)" >&2
exit $status
