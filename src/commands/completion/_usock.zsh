#compdef usock
# zsh completion for usock: save it as _usock in a directory on $fpath, or source it
# (source <(usock completion zsh)) after compinit. It asks `usock completion --complete -- WORDS...`
# (the words unquoted, the last one the part before the cursor) and adds directories without a
# suffix, so that the user can go on typing into them.
_usock() {
    local cmd=${~words[1]} c
    local -a candidates dirs others
    candidates=("${(@f)$("$cmd" completion --complete -- "${(@Q)words[2,CURRENT-1]}" "${(Q)PREFIX}" 2>/dev/null)}")
    for c in "${candidates[@]}"; do
        [[ -z $c ]] && continue
        if [[ $c == */ ]]; then dirs+=("$c"); else others+=("$c"); fi
    done
    (( ${#dirs} )) && compadd -S '' -- "${dirs[@]}"
    (( ${#others} )) && compadd -- "${others[@]}"
    return 0
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _usock "$@"
else
    compdef _usock usock
fi
