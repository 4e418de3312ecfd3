# bash completion for usock: source it (source <(usock completion bash)), or save it as
# ~/.local/share/bash-completion/completions/usock
# Readline splits words at = and : (--bind=/run/a:b); the function joins those pieces back into the
# words usock parses, asks `usock completion --complete -- WORDS...` (the last word is the one being
# completed), and takes off each candidate the part of the word that readline does not replace.
# A directory offered alone gets no space after it, so that the user can go on typing into it.
_usock_complete() {
    local cmd=${COMP_WORDS[0]} word cur prefix i joined=0
    local -a words=() candidates=()
    [[ $cmd == "~/"* ]] && cmd=$HOME/${cmd#"~/"}
    for (( i = 1; i <= COMP_CWORD; i++ )); do
        word=${COMP_WORDS[i]}
        if (( ${#words[@]} > 0 )) && [[ $word =~ ^[=:]+$ || $joined == 1 ]]; then
            words[${#words[@]}-1]+=$word
        else
            words+=("$word")
        fi
        [[ $word =~ ^[=:]+$ ]] && joined=1 || joined=0
    done
    (( ${#words[@]} > 0 )) || words=("")
    cur=${COMP_WORDS[COMP_CWORD]}
    [[ $cur =~ ^[=:]+$ ]] && cur=
    prefix=${words[${#words[@]}-1]}
    prefix=${prefix%"$cur"}
    mapfile -t candidates < <("$cmd" completion --complete -- "${words[@]}" 2>/dev/null)
    COMPREPLY=()
    for word in "${candidates[@]}"; do
        [[ -n $word ]] && COMPREPLY+=("${word#"$prefix"}")
    done
    if (( ${#COMPREPLY[@]} == 1 )) && [[ ${COMPREPLY[0]} == */ ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
complete -F _usock_complete usock
