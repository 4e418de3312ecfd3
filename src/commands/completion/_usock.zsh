#compdef usock
# zsh completion for usock: save it as _usock in a directory on $fpath, or source it
# (source <(usock completion zsh)) after compinit. It asks `usock completion --complete -- WORDS...`
# (the words unquoted, the last one the part before the cursor) and adds directories without a
# suffix, so that the user can go on typing into them; the list shows base names.
_usock() {
    local cmd=${~words[1]} c d
    local -a candidates dirs dirshown others othershown
    candidates=("${(@f)$("$cmd" completion --complete -- "${(@Q)words[2,CURRENT-1]}" "${(Q)PREFIX}" 2>/dev/null)}")
    for c in "${candidates[@]}"; do
        [[ -z $c ]] && continue
        # listed as the user sees them in a directory: base names, without --option=
        d=${c#--*=}
        [[ $d == @* ]] || d=${${d%/}##*/}
        if [[ $c == */ ]]; then
            dirs+=("$c") dirshown+=("$d/")
        else
            others+=("$c") othershown+=("$d")
        fi
    done
    (( ${#dirs} )) && compadd -S '' -d dirshown -- "${dirs[@]}"
    (( ${#others} )) && compadd -d othershown -- "${others[@]}"
    return 0
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _usock "$@"
else
    compdef _usock usock
fi
