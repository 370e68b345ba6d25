# Sourced by the campaign scripts (anchor.sh, clock-order.sh): run NAME ARGS... prints a line that trains NAME in
# $OUT with "${common[@]}" and ARGS, or resumes it from its checkpoint, or nothing once it has finished; go runs
# the lines on its input JOBS at a time. $E is the easgd binary. Every name and argument is quoted for the shell.

run() {
  local name=$1; shift
  if grep -q '"completed"\|"diverged"' "$OUT/$name/status.json" 2>/dev/null; then return; fi
  if [ -f "$OUT/$name/checkpoint.bin" ]; then
    echo "$E train --resume $(printf '%q' "$OUT/$name") --quiet > $(printf '%q' "$OUT/$name.log") 2>&1"
  else
    rm -rf "${OUT:?}/$name"
    echo "$E train $(printf '%q ' "${common[@]}" "$@" --out "$OUT/$name") > $(printf '%q' "$OUT/$name.log") 2>&1"
  fi
}

# A diverged run (exit 2) is a result; any other failure stops the campaign.
go() {
  xargs -d '\n' -r -P "$JOBS" -I{} sh -c '{}; s=$?; [ $s -eq 0 ] || [ $s -eq 2 ] || { echo "failed ($s): {}" >&2; exit 255; }'
}
