# zsh -f complete.zsh COMPDIR OUT LINE PATIENCE
#
# Completes LINE in a real interactive zsh on a pseudo-terminal (zsh's own zpty module), as a
# user pressing Tab would: compinit loads the completion functions of COMPDIR (_lvstui), a
# compadd wrapper appends every match zsh is given to OUT, one a line. LINE is typed with a
# Tab; once matches arrive (or PATIENCE x 0.05 s pass: a line with nothing to offer) the line
# is killed and a marker written to OUT. Exits 3 without zpty, 4 when the marker never came.
zmodload zsh/zpty || exit 3
export LVSTUI_COMP_DIR=$1 LVSTUI_COMP_OUT=$2
: > $2
zpty z zsh -f -i
zpty -w z 'fpath=($LVSTUI_COMP_DIR $fpath)'
zpty -w z 'autoload -Uz compinit && compinit -u -d $LVSTUI_COMP_OUT.dump'
# calls that only ask (-O, -A, -D: into an array, or filtering one) add nothing: passed on
zpty -w z 'compadd() {
  if (( ${@[(I)-[OAD]*]} )); then builtin compadd "$@"; return; fi
  local -a _h
  builtin compadd -O _h "$@"
  print -rl -- "${_h[@]}" >> $LVSTUI_COMP_OUT
  builtin compadd "$@"
}'
zpty -n -w z "$3"$'\t'
# typed ahead, the next line would cut the completion short: wait for its matches first
for i in {1..$4}; do
  [[ -s $2 ]] && break
  sleep 0.05
done
zpty -w z $'\C-u''print -r -- __DONE__ >> $LVSTUI_COMP_OUT'
for i in {1..400}; do
  grep -q __DONE__ $2 && break
  sleep 0.05
done
zpty -d z
grep -q __DONE__ $2 || exit 4
