# Sourced by the campaign scripts (anchor.sh, clock-order.sh): run NAME ARGS... prints a line that, when it runs,
# trains NAME in $OUT with "${common[@]}" and ARGS, or resumes it from its checkpoint, or does nothing once it has
# finished — decided when the line runs, not when it is printed, so that a list printed while an earlier campaign
# still works on the same runs neither restarts a run that has since checkpointed nor repeats one that has since
# finished. go runs the lines on its input JOBS at a time (each through bash's eval, one argument each). $E is the
# easgd binary. Every name and argument is quoted for the shell.

run() {
  local name=$1; shift
  local dir log fresh
  dir=$(printf '%q' "$OUT/$name")
  log=$(printf '%q' "$OUT/$name.log")
  fresh="$(printf '%q' "$E") train $(printf '%q ' "${common[@]}" "$@" --out "$OUT/$name")"
  echo "if grep -qE '\"(completed|diverged)\"' $dir/status.json 2>/dev/null; then :; elif [ -f $dir/checkpoint.bin ]; then $(printf '%q' "$E") train --resume $dir --quiet > $log 2>&1; else rm -rf $dir && $fresh > $log 2>&1; fi"
}

# A diverged run (exit 2) is a result; any other failure stops the campaign.
go() {
  xargs -d '\n' -r -P "$JOBS" -I{} bash -c 'eval "$1"; s=$?; [ $s -eq 0 ] || [ $s -eq 2 ] || { echo "failed ($s): $1" >&2; exit 255; }' _ {}
}
