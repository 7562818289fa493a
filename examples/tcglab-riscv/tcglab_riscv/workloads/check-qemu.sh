#!/bin/bash
# Run every case of cases.txt under qemu-system-riscv32 and compare with
# expected/ (see the header of cases.txt).  Exit status 0 iff all pass.
#   ./check-qemu.sh [id-substring]
#   UPDATE=1 ./check-qemu.sh   rewrite expected/<id>.txt of "same" cases
set -u
runner=qemu
cd "$(dirname "$0")"
filter=${1:-}
pass=0; fail=0; failed=()
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

regex_match() {     # file-of-regexes actual-file
    [ "$(wc -l < "$1")" -eq "$(wc -l < "$2")" ] || return 1
    while IFS= read -r re <&3 && IFS= read -r line <&4; do
        [[ $line =~ ^($re)$ ]] || return 1
    done 3<"$1" 4<"$2"
    return 0
}

while read -r id smp mode prog args; do
    case "$id" in ''|'#'*) continue ;; esac
    [ -n "$filter" ] && [[ $id != *"$filter"* ]] && continue
    out=$tmp/$id.out
    # shellcheck disable=SC2086
    ./run-qemu.sh "$smp" "$prog.elf" $args | grep -v '^#' > "$out"
    exp=expected/$id.txt; qexp=expected/qemu/$id.txt
    if [ "${UPDATE:-0}" = 1 ] && [ "$mode" = same ]; then cp "$out" "$exp"; fi
    ok=0; note=
    case "$mode" in
        same)    cmp -s "$out" "$exp" && ok=1 ;;
        differs) regex_match "$qexp" "$out" && ok=1; note=" (QEMU differs from the ISA here)" ;;
        either)  if cmp -s "$out" "$exp"; then ok=1; note=" (architectural result)";
                 elif regex_match "$qexp" "$out"; then ok=1; note=" (QEMU's known deviation)"; fi ;;
        *) echo "bad mode $mode in cases.txt"; exit 2 ;;
    esac
    if [ $ok = 1 ]; then
        pass=$((pass + 1)); echo "PASS $id$note"
    else
        fail=$((fail + 1)); failed+=("$id"); echo "FAIL $id: got"; sed 's/^/    /' "$out"
    fi
done < cases.txt
echo "check ($runner): $pass passed, $fail failed${failed:+: ${failed[*]}}"
[ $fail = 0 ]
